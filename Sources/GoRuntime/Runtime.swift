// Runtime.swift — the public entry points: Runtime.run, go, sleep, yield and introspection.
//
// `Runtime.run` may be called many times in one process (tests do); runs are serialised: a
// second caller waits for the first run to finish. Goroutines a run leaves behind — blocked or
// still running — stay where they are; only the main goroutine's return ends a run.
import CGoRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The goroutine runtime's entry points: start a run, sleep, yield, wrap blocking calls, look at
/// goroutines and stacks, and check tests for leaked goroutines.
///
/// A program calls ``run(maxProcs:_:)`` from its main thread; everything else happens in
/// goroutines started with ``go(_:)``.
public enum Runtime {
    /// Runs `body` as the main goroutine on `maxProcs` processors (default: `GOMAXPROCS` from the
    /// environment, or the number of CPUs this process may use) and returns its result once it
    /// returns. The calling thread blocks meanwhile.
    /// Precondition: not called from a goroutine.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws.
    public static func run<Result>(maxProcs: Int? = nil, _ body: sending () throws -> Result) rethrows -> Result {
        if Scheduler.currentMachine() != nil {
            fatal("Runtime.run called from a goroutine or the scheduler; use go { } instead")
        }
        if let maxProcs { precondition(maxProcs > 0, "Runtime.run: maxProcs must be positive") }
        gort_lock(scheduler.runLock)
        defer { gort_unlock(scheduler.runLock) }
        scheduler.setProcessorCount(maxProcs ?? Scheduler.defaultProcessorCount)
        return try withoutActuallyEscaping(body) { escapable in
            let box = RunBox(escapable)
            let completion = RunCompletion()
            tracer.startFromEnvironmentOnce()
            scheduler.spawn({ box.execute() }, runCompletion: completion)
            // SIGQUIT's dump and GOTRACE_DEBUG_ADDR's server (DebugServer.swift), once per process. After the
            // main goroutine's spawn, so that main is goroutine 1 as in Go (the server's listener came first).
            Diagnostics.startOnce()
            gort_note_sleep(completion.note)
            return try box.takeResult()
        }
    }

    /// Parks the current goroutine for at least `duration`. Outside a goroutine, sleeps the thread.
    public static func sleep(for duration: Duration) {
        let ns = nanoseconds(duration)
        guard let goroutine = Scheduler.currentGoroutine() else {
            if ns > 0 { _ = usleepNanoseconds(ns) }
            return
        }
        if ns <= 0 {
            scheduler.yield()
            return
        }
        let timer = RuntimeTimer(when: gort_nanotime() + ns, goroutine: goroutine, kind: .wake)
        scheduler.park(.sleep, timer: timer)
    }

    /// Lets other goroutines run; the current one stays runnable (Go's runtime.Gosched).
    public static func yield() { scheduler.yield() }

    /// Goroutines alive now: runnable, running or parked, across all runs. A snapshot, as Go's
    /// `runtime.NumGoroutine`: goroutines that start or end while it is read may or may not be counted.
    public static var numGoroutines: Int { scheduler.liveGoroutineCount }

    /// The number of processors (Ps) of the current or last run.
    public static var maxProcs: Int {
        let count = scheduler.processorCount.load(ordering: .relaxed)
        return count > 0 ? count : Scheduler.defaultProcessorCount
    }

    /// The current goroutine's id (the first main goroutine is 1), or 0 outside a goroutine.
    public static var currentGoroutineID: Int {
        Int(Scheduler.currentGoroutine()?.id ?? 0)
    }

    /// Whether the caller runs on a goroutine.
    public static var isInGoroutine: Bool { Scheduler.currentGoroutine() != nil }
}

/// Starts `body` as a new goroutine. Callable from anywhere; outside a run it starts the scheduler
/// with the default number of processors.
public func go(_ body: consuming @escaping @Sendable () -> Void) {
    // First, while this frame's return address is still the `go` statement's (a dump's `created by`).
    let creatorPC = gort_caller_of_caller_pc()
    if Scheduler.currentMachine() == nil {
        scheduler.ensureStarted()
        tracer.startFromEnvironmentOnce()
    }
    scheduler.spawn(body, creatorPC: creatorPC)
    Scheduler.preemptionPoint()
}

/// Carries the main closure of a run and its outcome between the calling thread and the main
/// goroutine. Safety (`@unchecked Sendable`): the caller writes it before spawning and reads it
/// after the completion note; the goroutine uses it in between. The note orders the two.
private final class RunBox<Result>: @unchecked Sendable {
    private var body: (() throws -> Result)?
    private var outcome: Swift.Result<Result, any Error>?

    init(_ body: @escaping () throws -> Result) { self.body = body }

    func execute() {
        guard let body else { return }
        outcome = Swift.Result { try body() }
        self.body = nil  // withoutActuallyEscaping checks that nothing kept the closure
    }

    func takeResult() throws -> Result {
        guard let outcome else { fatalError("Runtime.run: the main goroutine did not run") }
        return try outcome.get()
    }
}

private func usleepNanoseconds(_ ns: Int64) -> Int32 {
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
    return 0
}
