// Scheduler+WorldStop.swift — stopping the world, so that a recording's snapshots are exact.
//
// Why: a trace's final `snapshot` (Tracer.stop) must show every goroutine in the state its own
// events leave it in. Taken while Ms run, goroutines spawn, park and end between the snapshot and
// the Ms' last flush, and `gotrace stat --check` cannot reconcile them. Go's runtime.StopTrace stops
// the world for the same reason; so do we, for the length of the snapshot, the last flushes and
// the end chunk — and, as Go's StartTrace, for the start snapshot, which must precede every event of
// the goroutines it lists.
//
// Vocabulary: the *stopper* is the thread that calls `stopTheWorld` (a goroutine calling
// `Trace.stop`, the thread running the exit hook, the signal-flush thread). An M is *stopped* when
// it sleeps in `waitWhileWorldStopped`, or when the stopper took it off the idle list (it sleeps
// there already). While it is stopped, an M writes nothing — not its trace buffer, not a goroutine —
// so its buffer is the stopper's (the scheduler's lock, then its note, order the hand-over both ways).
//
// Protocol (all of it under `Scheduler.lock`, so the lock is the handshake):
//   1. The stopper sets `worldStop`, then bumps the tracer's `flushEpoch`: each M notices at its next
//      schedule point, where it already compares that epoch (findRunnable, sleepUntilHandedProcessor).
//   2. An M at a schedule point (`honourFlushRequest`) marks its P `stopped` — the P keeps its run
//      queue — registers itself and sleeps on its note until the restart.
//   3. Paths that change goroutines without a P check `worldStop` under the lock before they start,
//      and otherwise count themselves in `transitionsWithoutProcessor` until they are done: the timer
//      watcher that woke up to run timers, an M returning from a blocking call (it emits syscall-exit,
//      and with no P to take, queues its goroutine), `ready` and `spawn` off a P (a blocking call's
//      body, a thread that is not an M). Whoever finds `worldStop` set waits in step 2 (a thread that
//      is not an M polls instead of sleeping) and then checks again.
//   4. The stopper loops until the world is stopped or its bound passes: it takes idle Ps (status
//      `stopped`) and idle Ms (interrupting a watcher blocked in the network poller), and asks every
//      M that runs a goroutine to yield now — the monitor's cooperative flag and, where asynchronous
//      preemption works, its signal (Monitor.swift) — again every millisecond, as a signal that
//      lands at an unsafe PC does nothing. The world is stopped when every M but the stopper's is
//      stopped (an M settled inside a blocking call counts as stopped: its body changes no goroutine
//      without step 3, and it writes its buffer again only after passing the barrier on its way back,
//      so the stopper may flush that buffer), every P is stopped, disabled or the stopper's own, and no
//      transition without a P is under way.
//   The stopper's own goroutine keeps its M from step 1 to step 5 (`gort_preempt_hold`, Go's m.locks):
//   neither the monitor's signal nor the cooperative check switches it out, however long the stop takes.
//   Switched out, it would sit in a run queue while its M, looking for work, waited at the barrier for
//   a restart that only the stopper can make. (Code the safe-PC rule calls user code may run inside
//   the stop: another module's helper that the runtime calls.) A request made meanwhile stays pending
//   and is honoured at the first safe point after the restart.
//   5. `restartTheWorld`: each stopped M's P is `running` again (it resumes where it parked), the idle
//      Ps go back to the idle list, the idle Ms the stopper took go back to the idle list still asleep
//      (but the timer watcher, which is woken to take its duty up again), every other stopped M is woken;
//      if the global queue holds work, an M is started for it. The woken watcher goes back to sleep and
//      becomes the watcher again.
// Bounded: an M that does not stop in time — a goroutine looping in code that cannot be interrupted
// (a library, a stripped binary), or a thread the kernel does not run for the whole bound on an
// overloaded machine — is left running; the stop
// reports how many (Tracer.stop says so in the trace). An M that arrives later still waits at the
// barrier until the restart. Stopped Ms wait for the stopper's bounded wait plus its snapshot,
// flushes and end chunk (writes that stall only if the recorder stops reading, which stalls every M
// at its next full buffer anyway); the stopper never waits for itself (its own M and P are excluded),
// and start and stop take turns (Tracer), so two stoppers never wait for each other.
// Cost: nothing on the fast path. The schedule point's check is the existing relaxed load of the
// flush epoch; the paths in step 3 already took the lock, or are rare (off a P).
// Rejected: a Dekker pair of atomics for step 3 (announce, then check the flag): the paths concerned
// already take the scheduler lock, which orders the two sides for free; and stopping Ms with a signal
// of our own (a handler can neither park nor take the scheduler's lock).
import CGoRuntime

/// One world stop, from its request to its restart. Guarded by `Scheduler.lock`.
final class WorldStop: @unchecked Sendable {
    /// Stopped Ms, in order of arrival, each with the P it parked (nil: it had none).
    @exclusivity(unchecked) var machines: [(machine: Machine, processor: Processor?)] = []
    /// Ps the stopper took off the idle list.
    @exclusivity(unchecked) var idleProcessors: [Processor] = []
    /// Ms the stopper took off the idle list (also in `machines`), in list order, and which of them was the
    /// timer watcher then (`restartTheWorld` puts the others back asleep).
    @exclusivity(unchecked) var idleMachines: [Machine] = []
    @exclusivity(unchecked) var watcher: Machine?
    /// The stop is a recording's start: an M that keeps its P through it emits `proc-start` once it runs
    /// again, as the recording has not seen that P start (Go's StartTrace makes the same amends).
    @exclusivity(unchecked) var startsRecording = false
    /// The stopper's M, whose goroutine is held on it until the restart (nil: the stopper is not an M).
    @exclusivity(unchecked) var stopper: Machine?
}

extension Scheduler {
    /// Step 2, at an M's schedule point when the flush epoch moved: parks at the barrier during a world
    /// stop (the stopper flushes this M's buffer meanwhile), else flushes its own buffer.
    /// Precondition: on `machine`'s g0.
    func honourFlushRequest(_ machine: Machine) {
        let epoch = tracer.flushEpoch.load(ordering: .sequentiallyConsistent)
        gort_lock(lock)
        if worldStop != nil {
            machine.flushedEpoch = epoch
            let recordingStarted = waitWhileWorldStopped(machine)
            gort_unlock(lock)
            if recordingStarted, let processor = machine.processor { traceProcessorStart(processor) }
            return
        }
        gort_unlock(lock)
        tracer.flushOwn(machine)
    }

    /// Steps 2 and 3: while a world stop is under way, the caller is stopped — an M sleeps on its note,
    /// its P (held, or handed to it and not yet taken) marked `stopped`; a thread that is not an M
    /// yields. Returns once the world runs: whether a stop it waited out started a recording (then a caller
    /// that holds a P emits its `proc-start`, after releasing the lock).
    /// Precondition: `lock` held (held again on return); `machine` is the caller's M, if it has one.
    @discardableResult
    func waitWhileWorldStopped(_ machine: Machine?) -> Bool {
        assert(gort_lock_is_held(lock))
        var recordingStarted = false
        while let stop = worldStop {
            if stop.startsRecording { recordingStarted = true }
            guard let machine else {
                gort_unlock(lock)
                gort_os_yield()
                gort_lock(lock)
                continue
            }
            let processor = machine.processor ?? machine.nextProcessor
            processor?.status = .stopped
            stop.machines.append((machine, processor))
            gort_note_clear(machine.note)
            gort_unlock(lock)
            gort_note_sleep(machine.note)
            gort_lock(lock)
        }
        return recordingStarted
    }

    /// Step 3 for `ready` and `spawn` off a P: waits out a world stop, then counts the caller in
    /// `transitionsWithoutProcessor` (the caller uncounts itself under the lock when done).
    func beginTransitionsWithoutProcessor(_ machine: Machine?) {
        gort_lock(lock)
        waitWhileWorldStopped(machine)
        transitionsWithoutProcessor += 1
        gort_unlock(lock)
    }

    /// Steps 1 and 4: stops the world, waiting at most `waitNanoseconds`. Returns how many Ms (or other
    /// threads changing goroutines) did not stop in time: 0 when the world is stopped.
    /// Precondition: no world stop is under way (Tracer serialises its starts and stops); not called with
    /// `lock` held.
    func stopTheWorld(waitNanoseconds: Int64, startsRecording: Bool = false) -> Int {
        let me = Self.currentMachine()
        gort_lock(lock)
        precondition(worldStop == nil, "runtime: a world stop is already under way")
        let stop = WorldStop()
        stop.startsRecording = startsRecording
        stop.stopper = me
        // Before the stop is visible: from then on this goroutine must not leave its M (the note above).
        if let me { gort_preempt_hold(me.preemption.state) }
        worldStop = stop
        gort_unlock(lock)
        tracer.flushEpoch.add(1, ordering: .sequentiallyConsistent)
        let deadline = gort_nanotime() + waitNanoseconds
        var nextPreemptionRequest: Int64 = 0
        while true {
            gort_lock(lock)
            let interruptPoller = takeIdleForWorldStop(stop)
            let outstanding = outstandingForWorldStop(stop, me: me)
            let running = outstanding > 0 ? allMachines : []
            gort_unlock(lock)
            if interruptPoller { netPoller.interrupt() }
            if outstanding == 0 { return 0 }
            let now = gort_nanotime()
            if now >= deadline { return outstanding }
            if now >= nextPreemptionRequest {
                // A millisecond: a refused signal (an unsafe PC) is worth repeating soon, but not in a loop.
                nextPreemptionRequest = now + 1_000_000
                for machine in running where machine !== me { requestYieldForWorldStop(machine) }
            }
            gort_os_yield()
        }
    }

    /// Lock held. Takes the idle Ps and Ms (step 4); returns whether a watcher blocked in the network
    /// poller must be interrupted (it then finds itself off the idle list and sleeps until the restart).
    private func takeIdleForWorldStop(_ stop: WorldStop) -> Bool {
        assert(gort_lock_is_held(lock))
        while let processor = popIdleProcessor() {
            processor.status = .stopped
            stop.idleProcessors.append(processor)
        }
        while let machine = idleMachines {
            idleMachines = machine.idleLink
            machine.idleLink = nil
            stop.machines.append((machine, nil))
            stop.idleMachines.append(machine)
        }
        let interruptPoller = watcher != nil && watcherPolls
        if let watcher { stop.watcher = watcher }
        watcher = nil
        return interruptPoller
    }

    /// Lock held. How many Ms are not stopped yet (at least 1 while a transition without a P, or a P's
    /// hand-over, is under way); 0: the world is stopped.
    private func outstandingForWorldStop(_ stop: WorldStop, me: Machine?) -> Int {
        assert(gort_lock_is_held(lock))
        let stopped = Set(stop.machines.map { ObjectIdentifier($0.machine) })
        var machines = 0
        for machine in allMachines where machine !== me && !stopped.contains(ObjectIdentifier(machine)) {
            if machine.isSettledInBlockingCall { continue }
            machines += 1
        }
        if machines > 0 { return machines }
        if transitionsWithoutProcessor > 0 { return 1 }
        let ownProcessor = me?.processor
        for index in 0..<processorsCreated.load(ordering: .relaxed) {
            let processor = self.processor(index)
            if processor.status == .running, processor !== ownProcessor { return 1 }
        }
        return 0
    }

    /// Asks the goroutine running on `machine`, if any and not in a blocking call, to yield now.
    private func requestYieldForWorldStop(_ machine: Machine) {
        let state = machine.preemption.state
        guard gort_preempt_is_running(state), !gort_preempt_in_blocking_call(state) else { return }
        gort_preempt_set_requested(state, true)
        if monitor.asynchronous, !monitor.signalsSuspended.load(ordering: .relaxed) {
            _ = gort_preempt_signal(state)
        }
    }

    /// The Ms stopped so far, from position `from` of the arrival order (the stopper flushes their buffers).
    func stoppedMachines(from start: Int) -> [Machine] {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        guard let stop = worldStop, start < stop.machines.count else { return [] }
        return stop.machines[start...].map(\.machine)
    }

    /// The Ms settled inside `Runtime.blockingCall` during a world stop: stopped, but not asleep at the
    /// barrier, so not in `stoppedMachines` (the stopper flushes their buffers too). One that has come back
    /// meanwhile waits at the barrier and is in `stoppedMachines`.
    func machinesSettledInBlockingCalls() -> [Machine] {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        guard worldStop != nil else { return [] }
        return allMachines.filter(\.isSettledInBlockingCall)
    }

    /// Goroutine ids that are inside `Runtime.blockingCall` now (the snapshot shows them in a syscall).
    /// `locked`: the caller holds `lock`.
    func goroutinesInBlockingCalls(locked: Bool) -> Set<UInt64> {
        var ids: Set<UInt64> = []
        for machine in machinesSnapshot(locked: locked) {
            let state = machine.preemption.state
            if gort_preempt_is_running(state), gort_preempt_in_blocking_call(state) {
                ids.insert(gort_preempt_goroutine(state))
            }
        }
        return ids
    }

    /// Step 5: restarts the world stopped by `stopTheWorld`.
    func restartTheWorld() {
        gort_lock(lock)
        guard let stop = worldStop else {
            gort_unlock(lock)
            return
        }
        worldStop = nil
        for (_, processor) in stop.machines { processor?.status = .running }
        for processor in stop.idleProcessors {
            if processor.id >= processorCount.load(ordering: .relaxed) {
                processor.status = .disabled
            } else {
                processor.status = .idle
                pushIdleProcessor(processor)
            }
        }
        // The idle Ms the stop took, but the timer watcher, still sleep on their notes exactly as on the idle
        // list (only the watcher sleeps with a deadline or in the poller): they go back on it, in their order,
        // unwoken. Woken, they would all be on their way back to the list at once, and whoever looked for an
        // idle M meanwhile — `wakeProcessor` for queued work, the watcher after its timers — started a new
        // thread: a flight recording restarts the world every few hundred ms, and its threads grew without
        // bound (22 to 59 in 16 s at a cut every 100 ms under the soak).
        let watcher = stop.watcher
        var asleep = Set<ObjectIdentifier>()
        for machine in stop.idleMachines.reversed() where machine !== watcher {
            machine.idleLink = idleMachines
            idleMachines = machine
            asleep.insert(ObjectIdentifier(machine))
        }
        let work = globalCount.load(ordering: .relaxed) > 0
        gort_unlock(lock)
        // After the unlock: each M re-checks `worldStop` under the lock when it wakes.
        for (machine, _) in stop.machines where !asleep.contains(ObjectIdentifier(machine)) {
            gort_note_wakeup(machine.note)
        }
        if work { wakeProcessor() }
        if let stopper = stop.stopper {
            // The stopper's goroutine held its M since the stop, so this is that M's own thread.
            assert(Self.currentMachine() === stopper, "runtime: the world restarted by another thread than its stopper")
            gort_preempt_release(stopper.preemption.state)
        }
    }
}
