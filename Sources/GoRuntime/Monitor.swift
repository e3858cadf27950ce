// Monitor.swift — preemption: the monitor thread (Go's sysmon), cooperative and asynchronous.
//
// Vocabulary: a goroutine's *run* is the time since its M last switched a goroutine in. A run of
// 10 ms or more (`Monitor.timeSlice`, Go's forcePreemptNS) is *long*; the monitor then *requests*
// preemption, and the goroutine *honours* the request by yielding: its P runs someone else, and it
// goes to the global run queue.
//
// Protocol:
//   1. Each M's `gort_preempt_state_t` (CGoRuntime.h) says what it runs: `execute` bumps `switches`
//      and stores the goroutine and its stack bounds before switching in, and clears the bounds after
//      switching out. Nobody but the M writes those fields.
//   2. The monitor thread (not an M: it never runs goroutines and holds no P) wakes every
//      `busyPeriod` while some M runs a goroutine (`idlePeriod` otherwise) and, for each M, compares
//      `switches` with what it saw last time. Unchanged for `timeSlice` while the M runs a goroutine
//      outside a blocking call: it sets `requested` (emitting `preempt(g, requested-*)` once per
//      request) and sends SIGURG to the M's thread. It re-sends on every later tick until the
//      goroutine switches out: a signal that found the goroutine at an unsafe PC did nothing.
//   3. Cooperative: every runtime call that is a safe point (channel operations, select, `go`, mutex
//      and wait-group operations, I/O; `preemptionPoint()`) checks `requested` and, if set, yields
//      with `preempt(g, honoured-cooperative)`.
//   4. Asynchronous: the SIGURG handler (CGoRuntime/preempt.c) redirects a goroutine interrupted in
//      user code of the main executable into the trampoline (preempt_x86_64.S), which saves every
//      register and calls `asynchronousYield` on the goroutine's own stack; it yields with
//      `preempt(g, honoured-asynchronous)` and, once scheduled again (perhaps on another M), returns
//      into the trampoline, which restores everything and resumes the interrupted instruction.
//   5. `execute` clears `requested` at every switch-in: a request never outlives the run it was for
//      by more than a race with the monitor (whose only cost is one early yield).
//   7. While a trace is recorded, the monitor also drives its periodic flush (Tracer.periodicFlush):
//      every GOTRACE_FLUSH_INTERVAL (250 ms) it bumps the flush epoch and wakes the idle Ms that hold
//      events, so that a program killed outright loses at most that much of its trace. During a
//      flight recording it also cuts the trace into generations (Tracer.periodicGenerationCut): the
//      monitor is then the stopper of a world stop, and preempts nobody else until the restart.
//   6. A world stop (Scheduler+WorldStop.swift) makes the same request — `requested`, and SIGURG where
//      asynchronous preemption works — of every M running a goroutine, at once and every millisecond
//      until that M has stopped, without the 10 ms wait and without a `preempt` requested event.
// Memory ordering: the shared fields are relaxed atomics. Each is a hint acted on after a re-check
// on the M's own thread (the handler re-reads `requested` and the stack bounds; the yield re-reads
// the current goroutine), so no other memory is published through them.
//
// Blocking calls (`Runtime.blockingCall`, BlockingCall.swift) hand their P off eagerly on entry, as
// Go's entersyscallblock does, rather than leaving it attached for the monitor to retake after 20 µs
// (Go's entersyscall + sysmon retake). Rejected: the retake scheme saves two lock round trips per
// short call but needs a monitor ticking every 20 µs whenever a call is in progress, and a goroutine
// that blocks for long still stalls its P for one monitor period. Eager hand-off costs two short
// scheduler-lock sections when the P has nothing queued (it only goes to the idle list and back),
// and one M wake-up when it has.
//
// Limits: asynchronous preemption needs the executable's symbol table (a stripped binary gets only
// cooperative preemption); code in shared libraries, the Swift runtime and libc is never interrupted
// (a loop inside a library call is preempted once it returns to user code); a goroutine is moved
// to another thread when it resumes, so user code that keeps thread-affine state (a pthread or
// Synchronization mutex, `pthread_self`) across a loop with no runtime calls must not rely on the
// thread. SIGURG is installed with SA_RESTART, but a system call that the kernel never restarts
// (nanosleep, epoll_wait, usleep) made directly by a goroutine running 10 ms or more may return
// early with EINTR.
// `GODEBUG=asyncpreemptoff=1` turns the signals off (cooperative preemption stays), as in Go.
import CGoRuntime
import GoTraceFormat
import Synchronization

/// Per-M preemption state (see the protocol above).
final class MachinePreemption: @unchecked Sendable {
    /// Shared with C: the M writes the goroutine fields, the monitor reads them and writes
    /// `requested`, the signal handler reads them. Allocated once, never freed (Ms live forever).
    let state: UnsafeMutablePointer<gort_preempt_state_t>
    // Owned by the monitor thread.
    @exclusivity(unchecked) var observedSwitches: UInt64 = 0
    @exclusivity(unchecked) var observedSince: Int64 = 0
    @exclusivity(unchecked) var requestedSwitches: UInt64 = .max
    // Owned by the M: the P it gave up on entering a blocking call, to take back first on return.
    @exclusivity(unchecked) var processorBeforeBlockingCall: Processor?

    init() {
        state = .allocate(capacity: 1)
        state.initialize(to: gort_preempt_state_t())
    }
}

final class Monitor: @unchecked Sendable {
    /// How long a goroutine may run before the monitor asks it to yield (Go's forcePreemptNS).
    static let timeSlice: Int64 = 10_000_000
    /// The monitor's period while goroutines run: a long run is noticed within timeSlice + busyPeriod.
    /// 2 ms keeps that at 12 ms for the cost of 500 wake-ups a second, each a few microseconds.
    static let busyPeriod: Int64 = 2_000_000
    /// Its period while every M is idle or in the scheduler.
    static let idlePeriod: Int64 = 10_000_000

    private let started = Atomic<Bool>(false)
    /// Whether the signal handler is installed (the executable has a symbol table, x86_64, and
    /// GODEBUG does not say asyncpreemptoff=1).
    private(set) var asynchronous = false
    /// While set, the monitor sends no signals (tests of the cooperative path).
    let signalsSuspended = Atomic<Bool>(false)
    /// The monitor thread's kernel id, once it runs (tests discount its CPU waits from their timings).
    let threadID = Atomic<Int32>(0)
    /// Requests made and honoured, for tests and diagnostics.
    let requests = Atomic<Int>(0)
    let honouredCooperatively = Atomic<Int>(0)
    let honouredAsynchronously = Atomic<Int>(0)

    /// An address inside a GoRuntime function (tests of the safe-PC rule).
    @inline(never)
    func runtimeCodeAddress() -> UInt { gort_preempt_caller_pc() }

    func startOnce() {
        guard started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        let disabled = getenvString("GODEBUG")?.split(separator: ",").contains("asyncpreemptoff=1") ?? false
        asynchronous = !disabled && gort_preempt_install(asynchronousYield)
        // 256 KiB (reserved, touched on demand): it may seal and write a trace chunk (tracer.emit).
        let rc = gort_thread_create(monitorMain, nil, 256 * 1024)
        if rc != 0 { fatal("runtime: cannot create the monitor thread (error \(rc))") }
    }

    fileprivate func run() -> Never {
        threadID.store(gort_thread_id(), ordering: .relaxed)
        var period = Self.idlePeriod
        while true {
            sleepNanoseconds(period)
            let now = gort_nanotime()
            period = tick(now: now) ? Self.busyPeriod : Self.idlePeriod
            tracer.periodicFlush(now: now)
            tracer.periodicGenerationCut(now: now)
        }
    }

    /// One look at every M (step 2). Returns whether some M runs a goroutine.
    private func tick(now: Int64) -> Bool {
        var busy = false
        for machine in scheduler.machinesSnapshot(locked: false) {
            let record = machine.preemption
            let state = record.state
            let switches = gort_preempt_switches(state)
            guard gort_preempt_is_running(state), !gort_preempt_in_blocking_call(state) else {
                record.observedSwitches = switches
                record.observedSince = now
                continue
            }
            busy = true
            if switches != record.observedSwitches {
                record.observedSwitches = switches
                record.observedSince = now
                continue
            }
            if now - record.observedSince < Self.timeSlice { continue }
            if record.requestedSwitches != switches {
                // A new request for this run.
                record.requestedSwitches = switches
                gort_preempt_set_requested(state, true)
                requests.add(1, ordering: .relaxed)
                if tracer.active.load(ordering: .relaxed) {
                    let kind: PreemptKind = asynchronous ? .requestedAsynchronous : .requestedCooperative
                    tracer.emit(.preempt, gort_preempt_goroutine(state), UInt64(kind.rawValue))
                }
            } else if !gort_preempt_is_requested(state) {
                continue  // honoured, and the M has not switched in anyone yet
            }
            if asynchronous, !signalsSuspended.load(ordering: .relaxed) { _ = gort_preempt_signal(state) }
        }
        return busy
    }
}

/// The process-wide monitor; started with the scheduler's first processors.
let monitor = Monitor()

private func monitorMain(_: UnsafeMutableRawPointer?) {
    monitor.run()
}

private func sleepNanoseconds(_ ns: Int64) {
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}

/// Called by the trampoline (preempt_x86_64.S) on the interrupted goroutine's stack, every register
/// saved. Runs as ordinary code: the signal handler has returned.
private let asynchronousYield: @convention(c) () -> Void = {
    guard let machine = Scheduler.currentMachine(), let goroutine = machine.current, machine.processor != nil else {
        return
    }
    monitor.honouredAsynchronously.add(1, ordering: .relaxed)
    scheduler.yieldPreempted(goroutine, machine, .honouredAsynchronous)
}

extension Scheduler {
    /// Step 3: yields if the monitor asked the current goroutine to. Call only at the start of a
    /// runtime operation, holding no runtime lock; a no-op outside goroutines and in blocking calls.
    /// Static, so that the common case — nothing asked — touches no Swift object: neither the lazily
    /// initialised `scheduler` global (a swift_once check) nor the M (a retain).
    @inline(__always)
    static func preemptionPoint() {
        guard gort_preempt_requested_here() else { return }
        guard let machine = currentMachine(), gort_preempt_is_requested(machine.preemption.state),
              let goroutine = machine.current, machine.processor != nil
        else { return }
        monitor.honouredCooperatively.add(1, ordering: .relaxed)
        scheduler.yieldPreempted(goroutine, machine, .honouredCooperative)
    }

    /// Switches the current goroutine out and queues it on the global run queue.
    /// Precondition: `goroutine` runs on `machine`, which holds a P.
    func yieldPreempted(_ goroutine: Goroutine, _ machine: Machine, _ kind: PreemptKind) {
        assert(machine.current === goroutine && machine.processor != nil)
        gort_preempt_set_requested(machine.preemption.state, false)
        if tracer.active.load(ordering: .relaxed) {
            tracer.emit(.preempt, UInt64(goroutine.id), UInt64(kind.rawValue))
        }
        machine.action = .preempt
        switchToScheduler(goroutine, machine)
    }
}

#if canImport(Glibc)
import Glibc
#endif
