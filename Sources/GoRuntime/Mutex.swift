// Mutex.swift — a mutual-exclusion lock that parks the goroutine, never the thread.
//
// Go's sync.Mutex algorithm. `state` packs: bit 0 locked, bit 1 woken (a waiter was woken and is
// competing: unlock need not wake another), bit 2 starving, bits 3… the number of waiters.
// Normal mode: waiters queue FIFO, but a woken waiter competes with newly arriving goroutines,
// which usually win (they are already on a CPU); that is fast, but unfair. A waiter that fails to
// get the lock for more than 1 ms switches the mutex to starvation mode: unlock then hands the lock
// directly to the first waiter, and newcomers queue at the tail without trying. The last waiter,
// or one that waited less than 1 ms, switches back to normal mode. So no waiter waits forever.
import CGoRuntime
import GoTraceFormat
import Synchronization

/// A mutual-exclusion lock that parks the waiting goroutine, never its thread (Go's `sync.Mutex`,
/// including its starvation mode: a waiter that has waited more than 1 ms is handed the lock ahead of
/// newcomers, so no goroutine waits forever).
///
/// Not reentrant: locking a mutex the current goroutine already holds waits forever. Any goroutine may
/// unlock it, not only the one that locked it, as in Go. In a recorded trace, lock acquisitions and
/// waits are events, so `gotrace report` can show deadlock cycles.
public final class Mutex: @unchecked Sendable {
    private static let locked: Int32 = 1
    private static let woken: Int32 = 2
    private static let starving: Int32 = 4
    private static let waiterShift: Int32 = 3
    /// 1 ms, Go's threshold: long enough that normal mode's throughput wins in the common case,
    /// short enough that a tail waiter is not starved noticeably.
    private static let starvationThresholdNs: Int64 = 1_000_000

    private let state = Atomic<Int32>(0)
    private let semaphore = RuntimeSemaphore()
    let waitReason: WaitReason

    /// An unlocked mutex.
    public init() { waitReason = .mutex }
    init(reason: WaitReason) { waitReason = reason }

    /// Locks, parking the goroutine while another holds the lock.
    public func lock() {
        Scheduler.preemptionPoint()
        if state.compareExchange(expected: 0, desired: Self.locked, ordering: .acquiring).exchanged {
            if tracer.active.load(ordering: .relaxed) { trace(.mutexAcquire) }
            return
        }
        lockSlow()
    }

    /// Lock-ownership events for deadlock analysis (`mutex-acquire`, `mutex-release`, `mutex-wait`).
    @inline(never)
    private func trace(_ kind: EventKind) {
        let goroutine = UInt64(Scheduler.currentGoroutine()?.id ?? 0)
        tracer.emit(kind, goroutine, UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)))
    }

    /// Locks if the mutex is free; returns whether it did.
    public func tryLock() -> Bool {
        var old = state.load(ordering: .relaxed)
        while old & (Self.locked | Self.starving) == 0 {
            let (exchanged, current) = state.compareExchange(expected: old, desired: old | Self.locked, ordering: .acquiring)
            if exchanged {
                if tracer.active.load(ordering: .relaxed) { trace(.mutexAcquire) }
                return true
            }
            old = current
        }
        return false
    }

    private func lockSlow() {
        var waitStart: Int64 = 0
        var isStarving = false
        var awoke = false
        var spins = 0
        var old = state.load(ordering: .relaxed)
        while true {
            // Spin briefly in normal mode while the holder is likely running on another CPU.
            if old & (Self.locked | Self.starving) == Self.locked, canSpin(spins) {
                if !awoke, old & Self.woken == 0, old >> Self.waiterShift != 0,
                   state.compareExchange(expected: old, desired: old | Self.woken, ordering: .relaxed).exchanged {
                    awoke = true
                }
                for _ in 0..<30 { gort_cpu_relax() }
                spins += 1
                old = state.load(ordering: .relaxed)
                continue
            }
            var new = old
            if old & Self.starving == 0 { new |= Self.locked }  // don't grab a starving mutex
            if old & (Self.locked | Self.starving) != 0 { new += 1 << Self.waiterShift }
            if isStarving, old & Self.locked != 0 { new |= Self.starving }
            if awoke {
                precondition(new & Self.woken != 0, "sync: inconsistent mutex state")
                new &= ~Self.woken
            }
            let (exchanged, current) = state.compareExchange(expected: old, desired: new, ordering: .acquiringAndReleasing)
            if !exchanged {
                old = current
                continue
            }
            if old & (Self.locked | Self.starving) == 0 {  // locked it with the CAS
                if tracer.active.load(ordering: .relaxed) { trace(.mutexAcquire) }
                return
            }
            let queueLifo = waitStart != 0
            if waitStart == 0 { waitStart = gort_nanotime() }
            if tracer.active.load(ordering: .relaxed) { trace(.mutexWait) }
            semaphore.acquire(waitReason, lifo: queueLifo)
            isStarving = isStarving || gort_nanotime() - waitStart > Self.starvationThresholdNs
            old = state.load(ordering: .relaxed)
            if old & Self.starving != 0 {
                // Handed off in starvation mode: the lock is ours; fix up the state.
                precondition(old & (Self.locked | Self.woken) == 0 && old >> Self.waiterShift != 0,
                             "sync: inconsistent mutex state")
                var delta = Self.locked - (1 << Self.waiterShift)
                if !isStarving || old >> Self.waiterShift == 1 { delta -= Self.starving }
                state.add(delta, ordering: .acquiringAndReleasing)
                if tracer.active.load(ordering: .relaxed) { trace(.mutexAcquire) }
                return
            }
            awoke = true
            spins = 0
        }
    }

    private func canSpin(_ spins: Int) -> Bool {
        spins < 4 && scheduler.processorCount.load(ordering: .relaxed) > 1
            && Scheduler.currentMachine()?.processor?.runQueue.isEmpty ?? false
    }

    /// Unlocks. Unlocking an unlocked mutex is a fatal error.
    public func unlock() {
        if tracer.active.load(ordering: .relaxed) { trace(.mutexRelease) }
        let new = state.subtract(Self.locked, ordering: .releasing).newValue
        if new != 0 { unlockSlow(new) }
    }

    private func unlockSlow(_ new: Int32) {
        if (new + Self.locked) & Self.locked == 0 { fatal("sync: unlock of unlocked mutex") }
        if new & Self.starving == 0 {
            var old = new
            while true {
                // No waiters, or someone already woken or holding the lock: nothing to do.
                if old >> Self.waiterShift == 0 || old & (Self.locked | Self.woken | Self.starving) != 0 { return }
                let desired = (old - (1 << Self.waiterShift)) | Self.woken
                let (exchanged, current) = state.compareExchange(expected: old, desired: desired, ordering: .releasing)
                if exchanged {
                    semaphore.release()
                    return
                }
                old = current
            }
        } else {
            // Starvation mode: hand the lock to the first waiter.
            semaphore.release()
        }
    }

    /// Runs `body` with the lock held.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
