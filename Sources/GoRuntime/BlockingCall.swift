// BlockingCall.swift — running a blocking system call without stalling the other goroutines.
//
// Protocol (Go's entersyscallblock / exitsyscall; the choice of an eager hand-off is explained in
// Monitor.swift):
//   1. Enter: the goroutine marks its M as in a blocking call (the monitor and the preemption
//      handler leave it alone), emits `syscall-enter`, and gives its P away: to another M at once if
//      the P has goroutines queued, else to the idle list — waking a spinning M if the global queue
//      has work, or one to watch the timers and the poller if no M does (this M may have been the
//      only one, and it is about to block).
//   2. The body runs on this M's thread with no P: other goroutines run on the P meanwhile.
//   3. Exit: under the scheduler lock, take back the P given up in step 1 if it is still idle, else
//      any idle P, and carry on (`syscall-exit`). With none free, emit `syscall-exit` and yield: g0
//      puts the goroutine on the global queue and this M, without a P, goes to sleep. While the
//      world is stopped (Scheduler+WorldStop.swift) the M first sleeps, under that same lock check,
//      until it restarts: its goroutine stays in the syscall for the final trace snapshot. (Between
//      steps 1 and 3 the M is *settled*: it writes no trace event, so a world stop counts it as stopped
//      and flushes its buffer instead of waiting for a call that may last minutes.) Coming
//      back to no P, it counts itself in `transitionsWithoutProcessor` under the lock until g0 has
//      queued the goroutine, so that a world stop waits for those transitions to finish.
// Precondition, asserted: the body does not park (channel operations, sleep, locks that block):
// it runs without a P, and a parked goroutine must leave a P behind to run the next one.
import CGoRuntime
import GoTraceFormat

extension Runtime {
    /// Runs `body` — typically a blocking system call (`read`, `usleep`, `getaddrinfo`, a C library
    /// that blocks) — while the current goroutine's processor runs other goroutines. Outside a
    /// goroutine, or nested, it simply calls `body`.
    /// Precondition: `body` does not call goroutine-blocking operations of this runtime.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws.
    public static func blockingCall<Result>(_ body: () throws -> Result) rethrows -> Result {
        guard let machine = Scheduler.currentMachine(), let goroutine = machine.current, machine.processor != nil else {
            return try body()
        }
        scheduler.enterBlockingCall(goroutine, machine)
        defer { scheduler.exitBlockingCall() }
        return try body()
    }
}

extension Scheduler {
    /// Step 1. Precondition: `goroutine` runs on `machine`, which holds a P.
    func enterBlockingCall(_ goroutine: Goroutine, _ machine: Machine) {
        let processor = machine.processor!
        let state = machine.preemption.state
        Syscalls.inProgress.add(1, ordering: .sequentiallyConsistent)
        Syscalls.entered.add(1, ordering: .relaxed)
        gort_preempt_set_in_blocking_call(state, true)
        if tracer.active.load(ordering: .relaxed) {
            goroutine.waitSinceTicks = tracer.ticks()
            tracer.emit(.syscallEnter, UInt64(goroutine.id), tracer.captureStack())
        } else {
            goroutine.waitSinceTicks = 0
        }
        machine.preemption.processorBeforeBlockingCall = processor
        if processor.hasWork {
            // Go's handoffp: queued goroutines need an M now.
            processor.isRunning.store(false, ordering: .relaxed)
            machine.processor = nil
            if tracer.active.load(ordering: .relaxed) { tracer.emit(.procStop, UInt64(processor.id)) }
            startMachine(spinning: false, given: processor)
            machine.isSettledInBlockingCall = true
            return
        }
        gort_lock(lock)
        releaseProcessor(machine, processor)
        gort_unlock(lock)
        if globalCount.load(ordering: .sequentiallyConsistent) > 0 {
            wakeProcessor()
        } else if timers.count.load(ordering: .relaxed) > 0 || netPoller.hasWaiters, !hasWatcher {
            // An M that finds no work becomes the watcher: start one with the P just released.
            wakeProcessor()
        }
        machine.isSettledInBlockingCall = true
    }

    /// Step 3. Precondition: called by the goroutine that called `enterBlockingCall`, on the same M.
    func exitBlockingCall() {
        let machine = Self.currentMachine()!
        let goroutine = machine.current!
        assert(machine.processor == nil, "exitBlockingCall without a matching enterBlockingCall")
        let state = machine.preemption.state
        let previous = machine.preemption.processorBeforeBlockingCall
        machine.preemption.processorBeforeBlockingCall = nil
        gort_lock(lock)
        // Under the lock, before the barrier: a stopper that counted this M as stopped is either done (no
        // world stop) or still holds it (this M waits below, writing nothing until the restart).
        machine.isSettledInBlockingCall = false
        waitWhileWorldStopped(machine)
        var processor: Processor?
        if let previous, previous.status == .idle, previous.id < processorCount.load(ordering: .relaxed) {
            removeIdleProcessor(previous)
            processor = previous
        } else {
            processor = popIdleProcessor()
        }
        if let processor {
            processor.status = .running
            processor.isRunning.store(true, ordering: .relaxed)
        } else {
            // Ends in execute's `.yield` case, once the goroutine is on the global queue.
            transitionsWithoutProcessor += 1
            machine.announcedTransitions = true
        }
        gort_unlock(lock)
        gort_preempt_set_in_blocking_call(state, false)
        Syscalls.inProgress.subtract(1, ordering: .sequentiallyConsistent)
        if tracer.active.load(ordering: .relaxed) { tracer.emit(.syscallExit, UInt64(goroutine.id)) }
        if let processor {
            machine.processor = processor
            traceProcessorStart(processor)
            return
        }
        // No P free: queue the goroutine and let this M sleep (the `.yield` action, whose g0 side
        // wakes an idle P if one appeared meanwhile).
        if tracer.active.load(ordering: .relaxed) {
            tracer.emit(.park, UInt64(goroutine.id), UInt64(ParkReason.yield.rawValue), 0)
        }
        machine.action = .yield
        switchToScheduler(goroutine, machine)
    }
}

/// Ends the process: a goroutine tried to park inside `Runtime.blockingCall`.
func fatalInsideBlockingCall(_ operation: String) -> Never {
    fatal("runtime: \(operation) inside Runtime.blockingCall (its goroutine holds no processor); "
        + "call blocking runtime operations outside the blocking call")
}

/// A goroutine held on its M (`gort_preempt_hold`) tried to switch out: the goroutine of a world stop, or
/// one inside a trace event consumer (`Trace.setEventConsumer`), which must not block.
func fatalWhileHeld(_ operation: String) -> Never {
    fatal("runtime: \(operation) where the goroutine must keep its thread: inside a trace event consumer "
        + "(Trace.setEventConsumer; it must not block) or a world stop")
}
