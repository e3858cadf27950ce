// Semaphore.swift — the runtime semaphore the sync types park on (Go's semacquire/semrelease).
//
// A count and a queue of waiting goroutines under one lock. `release` hands its unit directly
// to the first waiter (the count is not incremented), so a waiter that was woken owns the unit
// and cannot lose it to a newcomer. `acquire(lifo: true)` queues at the front: Mutex uses it for
// waiters that already waited once, which bounds how long any waiter can wait.
import CGoRuntime

final class RuntimeSemaphore: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<gort_lock_t>
    @exclusivity(unchecked) private var count: UInt32
    @exclusivity(unchecked) private var waiters = WaitQueue()

    init(count: UInt32 = 0) {
        self.count = count
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    deinit { lock.deallocate() }

    /// Precondition: called on a goroutine (it may park).
    func acquire(_ reason: WaitReason, lifo: Bool = false) {
        gort_lock(lock)
        if count > 0 {
            count -= 1
            gort_unlock(lock)
            return
        }
        guard let goroutine = Scheduler.currentGoroutine() else {
            gort_unlock(lock)
            fatal("\(reason) would block outside a goroutine; call it inside Runtime.run { } or go { }")
        }
        let sudog = goroutine.acquireSudog(for: Void.self)
        if lifo { waiters.enqueueFront(sudog) } else { waiters.enqueue(sudog) }
        scheduler.park(reason, unlocking: lock)
        goroutine.releaseSudog(sudog)
    }

    func release() {
        gort_lock(lock)
        if let waiter = waiters.dequeue() {
            gort_unlock(lock)
            scheduler.ready(waiter.goroutine)
            return
        }
        count += 1
        gort_unlock(lock)
    }
}
