// Channel.swift — Go channels.
//
// A channel is a lock, an optional ring buffer and two FIFO queues of waiting goroutines
// (`receivers`, `senders`). Invariants, under `lock`:
//   - at most one of the queues is non-empty: a waiting sender means no receiver was there, and
//     the reverse (select records that lost their race are removed lazily and never delivered);
//   - `senders` non-empty implies the buffer is full; `receivers` non-empty implies it is empty;
//   - once `isClosed`, both queues are empty and stay empty.
// Values pass through the wait record (`Sudog.element`, heap memory): a sender that finds a
// waiting receiver writes into the receiver's record, never into the receiver's stack.
//
// A send on a closed channel and a second close are fatal errors; receive from a closed channel
// drains the buffer and then returns nil.
import CGoRuntime

/// What `select` needs from a channel without knowing its element type.
protocol SelectableChannel: AnyObject {
    var lockPointer: UnsafeMutablePointer<gort_lock_t> { get }
    var elementSize: Int { get }
    var elementAlignment: Int { get }
    /// Lock held. Sends if possible: `store` initialises the destination with the case's value.
    func pollSend(_ store: (UnsafeMutableRawPointer) -> Void) -> Bool
    /// Lock held. Receives into `destination` if possible.
    func pollReceive(into destination: UnsafeMutableRawPointer) -> PollResult
    func enqueue(_ sudog: Sudog)
    func dequeue(_ sudog: Sudog)
}

enum PollResult {
    case notReady
    case received
    case closed
}

/// A typed conduit between goroutines, Go's `chan Element`.
///
/// An unbuffered channel (`capacity` 0) hands each value from a sender to a receiver directly, so a send
/// waits until some goroutine receives. A buffered channel lets senders run ahead by up to `capacity`
/// values. Closing a channel tells receivers that no more values will come: they drain what is buffered
/// and then receive `nil`. Iterating with `for value in channel` receives until then.
///
/// Operations that would wait park the calling goroutine, not its thread; outside a goroutine, an
/// operation that would have to wait is a fatal error (call it inside ``Runtime/run(maxProcs:_:)`` or
/// ``go(_:)``). Use ``select(_:default:)`` to wait on several channels at once.
public final class Channel<Element>: @unchecked Sendable {
    /// 0 for an unbuffered channel.
    public let capacity: Int
    let lock: UnsafeMutablePointer<gort_lock_t>
    // Everything below is guarded by `lock`.
    private let buffer: UnsafeMutablePointer<Element>?
    @exclusivity(unchecked) private var bufferHead = 0
    @exclusivity(unchecked) private var bufferCount = 0
    @exclusivity(unchecked) private var closed = false
    @exclusivity(unchecked) private var receivers = WaitQueue()
    @exclusivity(unchecked) private var senders = WaitQueue()

    /// A channel holding up to `capacity` values; 0 makes every send wait for a receiver.
    /// Precondition: `capacity >= 0`.
    public init(capacity: Int = 0) {
        precondition(capacity >= 0, "makechan: size out of range")
        self.capacity = capacity
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        buffer = capacity > 0 ? .allocate(capacity: capacity) : nil
    }

    deinit {
        if let buffer {
            for offset in 0..<bufferCount {
                (buffer + slot(bufferHead + offset)).deinitialize(count: 1)
            }
            buffer.deallocate()
        }
        lock.deallocate()
    }

    /// Number of values in the buffer now (racy, like Go's len(ch)).
    public var count: Int {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return bufferCount
    }

    /// Whether ``close()`` has been called. Racy, like any snapshot of shared state: a `false` may be
    /// stale by the time the caller acts on it.
    public var isClosed: Bool {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return closed
    }

    /// Sends `value`, parking the goroutine until a receiver takes it or buffer space frees up.
    /// A send on a closed channel is a fatal error.
    public func send(_ value: Element) {
        Scheduler.preemptionPoint()
        gort_lock(lock)
        if closed {
            gort_unlock(lock)
            fatal("send on closed channel")
        }
        if let receiverLink = receivers.dequeueLink() {
            // Safety: borrowed (WaitQueue.dequeueLink) until the receiver is readied; its goroutine lives for good.
            let receiver = receiverLink._withUnsafeGuaranteedRef { receiver in
                receiver.element.initializeMemory(as: Element.self, to: value)
                receiver.success = true
                return receiver.goroutineLink
            }
            gort_unlock(lock)
            receiver._withUnsafeGuaranteedRef { scheduler.ready($0) }
            return
        }
        if bufferCount < capacity {
            (buffer! + slot(bufferHead + bufferCount)).initialize(to: value)
            bufferCount += 1
            gort_unlock(lock)
            return
        }
        guard let current = Scheduler.currentGoroutineLink() else {
            gort_unlock(lock)
            fatal("channel send would block outside a goroutine; call it inside Runtime.run { } or go { }")
        }
        // Safety: a goroutine record lives for good (`Scheduler.allGoroutines`).
        let delivered = current._withUnsafeGuaranteedRef { goroutine in
            let sudog = goroutine.acquireSudog(for: Element.self)
            sudog.element.initializeMemory(as: Element.self, to: value)
            sudog.isSend = true
            senders.enqueue(sudog)
            scheduler.park(.chanSend, unlocking: lock)
            let delivered = sudog.success
            if !delivered { sudog.element.assumingMemoryBound(to: Element.self).deinitialize(count: 1) }
            goroutine.releaseSudog(sudog)
            return delivered
        }
        if !delivered { fatal("send on closed channel") }
    }

    /// Receives a value, parking until one is available; nil once the channel is closed and drained.
    public func receive() -> Element? {
        Scheduler.preemptionPoint()
        gort_lock(lock)
        if let senderLink = senders.dequeueLink() {
            // Safety: as in `send`.
            // Two borrows, not one returning a tuple: a tuple holding `Element` costs a metadata look-up.
            let value = senderLink._withUnsafeGuaranteedRef { takeFromSender($0) }
            let sender = senderLink._withUnsafeGuaranteedRef { $0.goroutineLink }
            gort_unlock(lock)
            sender._withUnsafeGuaranteedRef { scheduler.ready($0) }
            return value
        }
        if bufferCount > 0 {
            let value = takeFromBuffer()
            gort_unlock(lock)
            return value
        }
        if closed {
            gort_unlock(lock)
            return nil
        }
        guard let current = Scheduler.currentGoroutineLink() else {
            gort_unlock(lock)
            fatal("channel receive would block outside a goroutine; call it inside Runtime.run { } or go { }")
        }
        // Safety: as in `send`.
        return current._withUnsafeGuaranteedRef { goroutine in
            let sudog = goroutine.acquireSudog(for: Element.self)
            sudog.isSend = false
            receivers.enqueue(sudog)
            scheduler.park(.chanReceive, unlocking: lock)
            let value: Element? = sudog.success ? sudog.element.assumingMemoryBound(to: Element.self).move() : nil
            goroutine.releaseSudog(sudog)
            return value
        }
    }

    /// Closes the channel: waiting receivers get nil, waiting senders fail (a fatal error for them).
    /// Closing twice is a fatal error.
    public func close() {
        gort_lock(lock)
        if closed {
            gort_unlock(lock)
            fatal("close of closed channel")
        }
        closed = true
        var woken: [Goroutine] = []
        while let receiver = receivers.dequeue() {
            receiver.success = false
            woken.append(receiver.goroutine)
        }
        while let sender = senders.dequeue() {
            sender.success = false
            woken.append(sender.goroutine)
        }
        gort_unlock(lock)
        for goroutine in woken { scheduler.ready(goroutine, next: false) }
    }

    // Lock held. A sender is waiting, so the buffer (if any) is full: the receiver takes the
    // oldest buffered value and the sender's value joins the tail, keeping FIFO order.
    private func takeFromSender(_ sender: Sudog) -> Element {
        let incoming = sender.element.assumingMemoryBound(to: Element.self).move()
        sender.success = true
        guard capacity > 0 else { return incoming }
        let value = (buffer! + bufferHead).move()
        (buffer! + bufferHead).initialize(to: incoming)
        bufferHead = slot(bufferHead + 1)
        return value
    }

    /// The ring buffer's slot for a position in [0, 2 × capacity): a compare instead of a division
    /// (a 64-bit `%` cost a fifth of every buffered send in the workers benchmark).
    @inline(__always)
    private func slot(_ position: Int) -> Int {
        assert(position >= 0 && position < 2 * capacity)
        return position >= capacity ? position - capacity : position
    }

    private func takeFromBuffer() -> Element {
        let value = (buffer! + bufferHead).move()
        bufferHead = slot(bufferHead + 1)
        bufferCount -= 1
        return value
    }
}

extension Channel: SelectableChannel {
    var lockPointer: UnsafeMutablePointer<gort_lock_t> { lock }
    var elementSize: Int { MemoryLayout<Element>.size }
    var elementAlignment: Int { MemoryLayout<Element>.alignment }

    func pollSend(_ store: (UnsafeMutableRawPointer) -> Void) -> Bool {
        if closed { fatal("send on closed channel") }
        if let receiver = receivers.dequeue() {
            store(receiver.element)
            receiver.success = true
            scheduler.ready(receiver.goroutine)
            return true
        }
        if bufferCount < capacity {
            store(UnsafeMutableRawPointer(buffer! + slot(bufferHead + bufferCount)))
            bufferCount += 1
            return true
        }
        return false
    }

    func pollReceive(into destination: UnsafeMutableRawPointer) -> PollResult {
        if let sender = senders.dequeue() {
            destination.initializeMemory(as: Element.self, to: takeFromSender(sender))
            scheduler.ready(sender.goroutine)
            return .received
        }
        if bufferCount > 0 {
            destination.initializeMemory(as: Element.self, to: takeFromBuffer())
            return .received
        }
        return closed ? .closed : .notReady
    }

    func enqueue(_ sudog: Sudog) {
        if sudog.isSend { senders.enqueue(sudog) } else { receivers.enqueue(sudog) }
    }

    func dequeue(_ sudog: Sudog) {
        if sudog.isSend { senders.remove(sudog) } else { receivers.remove(sudog) }
    }
}

extension Channel: Sequence {
    /// Iterates until the channel is closed and drained, like Go's `for v := range ch`.
    public struct Iterator: IteratorProtocol {
        let channel: Channel<Element>
        /// Receives the next value, parking until one arrives.
        ///
        /// - Returns: The value, or `nil` once the channel is closed and its buffer drained.
        public mutating func next() -> Element? { channel.receive() }
    }

    /// An iterator that receives from this channel until it is closed and drained.
    public func makeIterator() -> Iterator { Iterator(channel: self) }
}
