// Cond.swift — a condition variable tied to a Mutex (Go's sync.Cond).
//
// Tickets make `wait` race-free without holding the internal lock across the user's unlock:
// `wait` takes ticket t (= waitTicket++), unlocks the mutex, and parks only if `notifyTicket`
// has not yet passed t. `signal` wakes the waiter holding ticket notifyTicket (the oldest not yet
// notified), so a signal sent between the unlock and the park is never lost.
import CGoRuntime

/// A condition variable tied to a ``Mutex``, Go's `sync.Cond`: goroutines wait for a condition on
/// state that the mutex guards, and are woken by ``signal()`` or ``broadcast()``.
///
/// Check the condition in a loop: a woken goroutine reacquires the mutex after others may have run.
///
/// ```swift
/// mutex.lock()
/// while queue.isEmpty { ready.wait() }
/// let item = queue.removeFirst()
/// mutex.unlock()
/// ```
public final class Cond: @unchecked Sendable {
    /// The mutex that ``wait()`` releases while it waits and holds again when it returns.
    public let mutex: Mutex
    private let lock: UnsafeMutablePointer<gort_lock_t>
    @exclusivity(unchecked) private var waitTicket: UInt32 = 0
    @exclusivity(unchecked) private var notifyTicket: UInt32 = 0
    @exclusivity(unchecked) private var waiters = WaitQueue()

    /// A condition variable whose waiters release and reacquire `mutex`.
    public init(_ mutex: Mutex) {
        self.mutex = mutex
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    deinit { lock.deallocate() }

    /// Precondition: the caller holds `mutex`. Unlocks it, parks until signalled, relocks it.
    public func wait() {
        gort_lock(lock)
        let ticket = waitTicket
        waitTicket &+= 1
        gort_unlock(lock)
        mutex.unlock()
        gort_lock(lock)
        if Int32(bitPattern: ticket &- notifyTicket) < 0 {
            gort_unlock(lock)  // already notified
        } else {
            guard let goroutine = Scheduler.currentGoroutine() else {
                gort_unlock(lock)
                fatal("Cond.wait outside a goroutine; call it inside Runtime.run { } or go { }")
            }
            let sudog = goroutine.acquireSudog(for: Void.self)
            sudog.ticket = ticket
            waiters.enqueue(sudog)
            scheduler.park(.cond, unlocking: lock)
            goroutine.releaseSudog(sudog)
        }
        mutex.lock()
    }

    /// Wakes the longest-waiting goroutine, if any.
    public func signal() {
        gort_lock(lock)
        if waitTicket == notifyTicket {
            gort_unlock(lock)
            return
        }
        let ticket = notifyTicket
        notifyTicket &+= 1
        var cursor = waiters.head
        while let sudog = cursor {
            if sudog.ticket == ticket {
                waiters.remove(sudog)
                gort_unlock(lock)
                scheduler.ready(sudog.goroutine)
                return
            }
            cursor = sudog.next
        }
        // The waiter has its ticket but has not queued yet: it will see it was notified.
        gort_unlock(lock)
    }

    /// Wakes every waiting goroutine.
    public func broadcast() {
        gort_lock(lock)
        if waitTicket == notifyTicket {
            gort_unlock(lock)
            return
        }
        notifyTicket = waitTicket
        var woken: [Goroutine] = []
        while let sudog = waiters.head {
            waiters.remove(sudog)
            woken.append(sudog.goroutine)
        }
        gort_unlock(lock)
        for goroutine in woken { scheduler.ready(goroutine, next: false) }
    }
}
