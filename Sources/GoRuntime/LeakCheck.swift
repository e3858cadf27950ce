// LeakCheck.swift — goroutine leak checks for tests, in the spirit of goleak's VerifyNone.
//
// Two ways to say "the goroutines this test created":
// - `checkingLeaks { … }` tags the calling thread with a fresh scope; every goroutine a run started
//   from that thread creates — and every goroutine those create — inherits the scope. Tests running
//   in parallel on other threads have other scopes, so they never count against each other.
// - `verifyNoLeaks(after: watermark)`: goroutine ids only grow, so everything above a watermark taken
//   at the start; simpler, but process-wide (parallel tests' goroutines count too).
// Either way goroutines left over by earlier runs never count, and a goroutine still finishing gets a
// grace period: the check retries until `timeout` before it calls anything a leak.
import CGoRuntime
import Synchronization

private let nextLeakScope = Atomic<Int64>(1)

/// What a live goroutine is doing, as of the moment it was looked at.
public struct GoroutineInfo: Sendable, Equatable, CustomStringConvertible {
    /// What a live goroutine is doing.
    public enum State: String, Sendable {
        /// Ready to run, waiting for a processor.
        case runnable
        /// Running on a processor.
        case running
        /// Parked; ``GoroutineInfo/waitReason`` says on what.
        case waiting
    }

    /// The goroutine's id, as ``Runtime/currentGoroutineID`` gives it inside the goroutine.
    public var id: Int
    /// The goroutine that spawned it (0: spawned outside any goroutine).
    public var parentID: Int
    /// What it was doing when looked at.
    public var state: State
    /// Why it waits (`.none` unless `state == .waiting`).
    public var waitReason: WaitReason

    /// One line in Go's style: `goroutine 7 [chan receive], created by goroutine 1`.
    public var description: String {
        let what = state == .waiting ? waitReason.description : state.rawValue
        return "goroutine \(id) [\(what)], created by goroutine \(parentID)"
    }
}

/// Thrown by ``Runtime/verifyNoLeaks(after:timeout:)`` and ``Runtime/checkingLeaks(timeout:_:)``: the
/// goroutines still alive after the grace period.
public struct GoroutineLeakError: Error, CustomStringConvertible {
    /// The goroutines still alive when the check gave up, in id order.
    public var leaked: [GoroutineInfo]

    /// A count and then each leaked goroutine on its own line, for a test failure message.
    public var description: String {
        "found \(leaked.count) unexpected goroutine\(leaked.count == 1 ? "" : "s"):\n"
            + leaked.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Runtime {
    /// Every live goroutine (runnable, running or parked), across all runs.
    public static func goroutines() -> [GoroutineInfo] {
        liveGoroutines { _ in true }
    }

    /// The live goroutines that satisfy `counts`, read under the scheduler lock. Status is looked at
    /// first: a dead goroutine's object is reused by the next spawn (another test's, perhaps), which
    /// sets its new id and scope before it makes it runnable, so a dead or idle one is never blamed.
    private static func liveGoroutines(_ counts: (Goroutine) -> Bool) -> [GoroutineInfo] {
        gort_lock(scheduler.lock)
        var live: [GoroutineInfo] = []
        for goroutine in scheduler.allGoroutines {
            let state: GoroutineInfo.State
            switch goroutine.status {
            case .runnable: state = .runnable
            case .running: state = .running
            case .waiting: state = .waiting
            case .idle, .dead: continue
            }
            guard counts(goroutine) else { continue }
            live.append(GoroutineInfo(id: Int(goroutine.id), parentID: Int(goroutine.parentID), state: state,
                                      waitReason: state == .waiting ? goroutine.waitReason : .none))
        }
        gort_unlock(scheduler.lock)
        return live.sorted { $0.id < $1.id }
    }

    /// The id the next goroutine will get: take it before a test, pass it to `verifyNoLeaks(after:)`.
    public static var goroutineWatermark: Int {
        Int(scheduler.nextGoroutineID.load(ordering: .relaxed)) - 1
    }

    /// Throws if goroutines created after `watermark` are still alive once `timeout` has passed
    /// (they get until then to finish). The calling goroutine itself never counts.
    ///
    /// - Throws: ``GoroutineLeakError`` naming each goroutine still alive.
    public static func verifyNoLeaks(after watermark: Int, timeout: Duration = .milliseconds(500))
        throws(GoroutineLeakError)
    {
        try waitForNone(timeout: timeout) { $0.id > watermark }
    }

    private static func waitForNone(timeout: Duration, _ counts: (Goroutine) -> Bool) throws(GoroutineLeakError) {
        let deadline = gort_nanotime() + nanoseconds(timeout)
        let me = currentGoroutineID
        while true {
            let leaked = liveGoroutines { counts($0) && Int($0.id) != me }
            if leaked.isEmpty { return }
            if gort_nanotime() >= deadline { throw GoroutineLeakError(leaked: leaked) }
            sleep(for: .milliseconds(5))
        }
    }

    /// Runs `body` and then throws if a goroutine it created is still alive after `timeout`:
    /// `try Runtime.checkingLeaks { Runtime.run { … } }` in a test fails the test on a leak.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws, else ``GoroutineLeakError`` naming each goroutine still alive.
    public static func checkingLeaks<Result>(timeout: Duration = .milliseconds(500), _ body: () throws -> Result)
        throws -> Result
    {
        let scope = nextLeakScope.wrappingAdd(1, ordering: .relaxed).oldValue
        let outer = gort_tls_get_scope()
        gort_tls_set_scope(scope)
        defer { gort_tls_set_scope(outer) }
        let result = try body()
        try waitForNone(timeout: timeout) { $0.leakScope == scope }
        return result
    }
}
