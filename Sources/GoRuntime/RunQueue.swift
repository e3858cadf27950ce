// RunQueue.swift — a P's local run queue: a bounded single-producer, multi-consumer ring.
//
// Roles: the owning P is the only producer (`put`) and also consumes (`get`); thieves on other
// Ms consume through `grab`. Entries are unretained goroutine pointers (goroutines are never
// freed, see Goroutine.swift).
//
// Protocol:
// 1. The producer writes a slot with a relaxed store, then publishes it with a release store of
//    `tail` (partner: the acquire load of `tail` in `get`/`grab`).
// 2. A consumer reads `head` (acquire), the slot(s), then claims them by CAS on `head` (release,
//    partner: the producer's acquire load of `head` in `put`, which tells it the slots are free).
//    A consumer whose CAS fails has read slots that may since have been overwritten: it discards
//    them and retries.
// Slots are atomics so that a slot overwritten while a losing consumer reads it is not a data race.
import Synchronization

final class LocalRunQueue: @unchecked Sendable {
    /// A power of two so that indices wrap with a mask; Go's 256 is enough to absorb bursts while
    /// small enough that stealing half stays cheap.
    static let capacity: UInt32 = 256
    static let mask: UInt32 = capacity - 1

    let head = Atomic<UInt32>(0)
    let tail = Atomic<UInt32>(0)
    // Safety: allocated once, `capacity` initialised atomics, never freed (Ps live forever).
    private let slots: UnsafeMutablePointer<Atomic<UInt>>

    init() {
        slots = .allocate(capacity: Int(Self.capacity))
        for index in 0..<Int(Self.capacity) { (slots + index).initialize(to: Atomic(0)) }
    }

    var isEmpty: Bool {
        head.load(ordering: .acquiring) == tail.load(ordering: .acquiring)
    }

    var count: Int {
        let h = head.load(ordering: .acquiring)
        let t = tail.load(ordering: .acquiring)
        return Int(t &- h)
    }

    /// Producer only. Returns false when the ring is full (the caller moves half to the global queue).
    func put(_ goroutine: Goroutine) -> Bool {
        put(link: Unmanaged.passUnretained(goroutine))
    }

    /// `put`, for a caller that borrows the goroutine (no retain: the ring holds unretained pointers anyway).
    func put(link: Unmanaged<Goroutine>) -> Bool {
        let h = head.load(ordering: .acquiring)
        let t = tail.load(ordering: .relaxed)
        if t &- h >= Self.capacity { return false }
        slots[Int(t & Self.mask)].store(UInt(bitPattern: link.toOpaque()), ordering: .relaxed)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Owner only: takes up to `max` goroutines from the head for moving elsewhere.
    /// Returns the number taken, written to `into`.
    func takeHalf(into: inout [Unmanaged<Goroutine>]) -> Bool {
        let h = head.load(ordering: .acquiring)
        let t = tail.load(ordering: .relaxed)
        let n = (t &- h) / 2
        if n == 0 { return false }
        for index in 0..<n { into.append(link(at: h &+ index)) }
        return head.compareExchange(expected: h, desired: h &+ n, ordering: .releasing).exchanged
    }

    /// Owner only (thieves use `grab`).
    func get() -> Goroutine? {
        getLink()?.takeUnretainedValue()
    }

    /// `get()`, unretained (a goroutine record lives for good), for the scheduler to borrow.
    func getLink() -> Unmanaged<Goroutine>? {
        while true {
            let h = head.load(ordering: .acquiring)
            let t = tail.load(ordering: .relaxed)
            if h == t { return nil }
            let g = slots[Int(h & Self.mask)].load(ordering: .relaxed)
            if head.compareExchange(expected: h, desired: h &+ 1, ordering: .releasing).exchanged {
                return Self.link(g)
            }
        }
    }

    /// Thief: moves half of this queue into `thief`'s ring (which must be empty and owned by the
    /// caller) and returns how many were moved; `thief`'s tail is not yet published.
    func grab(into thief: LocalRunQueue) -> UInt32 {
        let thiefTail = thief.tail.load(ordering: .relaxed)
        while true {
            let h = head.load(ordering: .acquiring)
            let t = tail.load(ordering: .acquiring)
            var n = t &- h
            n = n &- n / 2
            if n == 0 { return 0 }
            if n > Self.capacity / 2 { continue }  // inconsistent snapshot: head moved meanwhile
            for index in 0..<n {
                let g = slots[Int((h &+ index) & Self.mask)].load(ordering: .relaxed)
                thief.slots[Int((thiefTail &+ index) & Self.mask)].store(g, ordering: .relaxed)
            }
            if head.compareExchange(expected: h, desired: h &+ n, ordering: .releasing).exchanged {
                return n
            }
        }
    }

    /// Thief side, after `grab`: takes the last grabbed goroutine and publishes the rest.
    func publishGrabbed(_ n: UInt32) -> Goroutine {
        let t = tail.load(ordering: .relaxed)
        let last = slots[Int((t &+ n &- 1) & Self.mask)].load(ordering: .relaxed)
        if n > 1 { tail.store(t &+ n &- 1, ordering: .releasing) }
        return Self.goroutine(last)
    }

    private func link(at index: UInt32) -> Unmanaged<Goroutine> {
        Self.link(slots[Int(index & Self.mask)].load(ordering: .relaxed))
    }

    @inline(__always)
    static func goroutine(_ bits: UInt) -> Goroutine {
        link(bits).takeUnretainedValue()
    }

    @inline(__always)
    static func link(_ bits: UInt) -> Unmanaged<Goroutine> {
        // Safety: only pointers to live (never freed) goroutines are stored in the ring.
        Unmanaged<Goroutine>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }
}
