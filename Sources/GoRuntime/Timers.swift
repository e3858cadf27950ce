// Timers.swift — timers serviced by the scheduler, not by a thread per sleeper.
//
// One min-heap ordered by deadline, under its own lock (taken after Scheduler.lock when both are
// held, never before). Ms look at `earliest` (a relaxed atomic copy of the heap's top) on every
// schedule when `count` > 0, and run the expired timers; an M that goes idle while timers are
// pending becomes the watcher and sleeps only until `earliest`.
//
// A timer is armed by g0 after its goroutine is off its stack (the park protocol), so a timer
// can never ready a goroutine that is still running. A select timeout is cancelled by removing it
// from the heap; one that already left the heap when a channel case won claims nothing: it carries the
// ticket of the select wait it was armed for, and that wait is already claimed or over (Goroutine.swift).
import CGoRuntime
import Synchronization

final class RuntimeTimer: @unchecked Sendable {
    enum Kind {
        case wake
        /// Times out the select wait numbered by the ticket (`Goroutine.selectDone`).
        case selectTimeout(ticket: UInt64)
        /// A socket deadline (NetPoller.swift): times out the descriptor's waiter if it is still
        /// the one this timer was armed for.
        case ioDeadline(PollDescriptor)
    }

    let when: Int64
    unowned(unsafe) let goroutine: Goroutine
    let kind: Kind
    /// Position in the heap, or -1 when not in it. Guarded by the heap's lock.
    @exclusivity(unchecked) var heapIndex = -1

    init(when: Int64, goroutine: Goroutine, kind: Kind) {
        self.when = when
        self.goroutine = goroutine
        self.kind = kind
    }

    func fire() {
        switch kind {
        case .wake:
            scheduler.ready(goroutine)
        case .selectTimeout(let ticket):
            if goroutine.claimSelect(ticket: ticket) {
                goroutine.selectTimedOut = true
                scheduler.ready(goroutine)
            }
        case .ioDeadline(let descriptor):
            descriptor.deadlineFired(self)
        }
    }
}

final class TimerHeap: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<gort_lock_t>
    @exclusivity(unchecked) private var heap: [RuntimeTimer] = []
    let count = Atomic<Int>(0)
    let earliest = Atomic<Int64>(.max)

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    func add(_ timer: RuntimeTimer) {
        gort_lock(lock)
        precondition(timer.heapIndex < 0, "timer armed twice")
        timer.heapIndex = heap.count
        heap.append(timer)
        siftUp(heap.count - 1)
        publish()
        gort_unlock(lock)
    }

    /// Removes `timer` if it has not fired yet; returns whether it was removed.
    @discardableResult
    func remove(_ timer: RuntimeTimer) -> Bool {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        let index = timer.heapIndex
        guard index >= 0 else { return false }
        removeAt(index)
        publish()
        return true
    }

    func popExpired(now: Int64) -> [RuntimeTimer] {
        gort_lock(lock)
        var expired: [RuntimeTimer] = []
        while let top = heap.first, top.when <= now {
            removeAt(0)
            expired.append(top)
        }
        publish()
        gort_unlock(lock)
        return expired
    }

    private func publish() {
        count.store(heap.count, ordering: .sequentiallyConsistent)
        earliest.store(heap.first?.when ?? .max, ordering: .relaxed)
    }

    private func removeAt(_ index: Int) {
        let last = heap.count - 1
        heap[index].heapIndex = -1
        if index != last {
            heap[index] = heap[last]
            heap[index].heapIndex = index
            heap.removeLast()
            siftDown(index)
            siftUp(index)
        } else {
            heap.removeLast()
        }
    }

    private func siftUp(_ start: Int) {
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            if heap[parent].when <= heap[index].when { break }
            swapAt(parent, index)
            index = parent
        }
    }

    private func siftDown(_ start: Int) {
        var index = start
        while true {
            let left = 2 * index + 1
            if left >= heap.count { break }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].when < heap[left].when { smallest = left + 1 }
            if heap[index].when <= heap[smallest].when { break }
            swapAt(index, smallest)
            index = smallest
        }
    }

    private func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].heapIndex = a
        heap[b].heapIndex = b
    }
}
