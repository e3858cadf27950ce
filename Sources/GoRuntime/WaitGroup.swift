// WaitGroup.swift — waits for a collection of goroutines to finish (Go's sync.WaitGroup).
//
// `state` packs the counter (high 32 bits, signed) and the number of waiters (low 32 bits) so
// that "counter reached zero" and "someone is waiting" are read in one atomic step. When the
// counter reaches zero with waiters, `add` resets the state and releases each waiter once; adding
// while waiters are being released is a misuse (as in Go) and is reported.
import Synchronization

/// Waits for a collection of goroutines to finish (Go's `sync.WaitGroup`).
///
/// Call ``add(_:)`` before starting each goroutine (not inside it, or ``wait()`` may return first),
/// ``done()`` when each finishes, and ``wait()`` where the results are needed.
public final class WaitGroup: @unchecked Sendable {
    private let state = Atomic<UInt64>(0)
    private let semaphore = RuntimeSemaphore()

    /// A wait group whose counter is zero.
    public init() {}

    /// Adds `delta` (which may be negative) to the counter. A negative counter is a fatal error.
    public func add(_ delta: Int = 1) {
        let new = state.wrappingAdd(UInt64(bitPattern: Int64(delta) << 32), ordering: .acquiringAndReleasing).newValue
        let counter = Int32(truncatingIfNeeded: new >> 32)
        let waiters = UInt32(truncatingIfNeeded: new)
        if counter < 0 { fatal("sync: negative WaitGroup counter") }
        if waiters != 0, delta > 0, Int64(counter) == Int64(delta) {
            fatal("sync: WaitGroup misuse: add called concurrently with wait")
        }
        if counter > 0 || waiters == 0 { return }
        // Counter is 0 and there are waiters: nobody may change the state now but us.
        if state.load(ordering: .relaxed) != new { fatal("sync: WaitGroup misuse: add called concurrently with wait") }
        state.store(0, ordering: .releasing)
        for _ in 0..<waiters { semaphore.release() }
    }

    /// Decrements the counter by one: the same as `add(-1)`. Calling it more often than ``add(_:)`` added
    /// makes the counter negative, a fatal error.
    public func done() { add(-1) }

    /// Parks until the counter is zero.
    public func wait() {
        Scheduler.preemptionPoint()
        var old = state.load(ordering: .acquiring)
        while true {
            if old >> 32 == 0 { return }
            let (exchanged, current) = state.compareExchange(expected: old, desired: old + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                semaphore.acquire(.waitGroup)
                return
            }
            old = current
        }
    }
}
