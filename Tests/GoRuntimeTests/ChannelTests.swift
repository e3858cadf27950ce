import GoRuntime
import Synchronization
import Testing

@Suite("Channels")
struct ChannelTests {
    @Test("an unbuffered send waits for its receiver and delivers in order")
    func unbufferedOrder() {
        let received = Runtime.run(maxProcs: 2) { () -> [Int] in
            let channel = Channel<Int>()
            go {
                for value in 0..<1000 { channel.send(value) }
                channel.close()
            }
            return Array(channel)
        }
        #expect(received == Array(0..<1000))
    }

    @Test("a buffered channel holds values without a receiver, FIFO")
    func bufferedFIFO() {
        Runtime.run {
            let channel = Channel<String>(capacity: 3)
            channel.send("a")
            channel.send("b")
            channel.send("c")
            #expect(channel.count == 3)
            #expect(channel.receive() == "a")
            #expect(channel.receive() == "b")
            #expect(channel.receive() == "c")
            #expect(channel.count == 0)
        }
    }

    @Test("receive drains the buffer of a closed channel, then returns nil")
    func closeDrains() {
        Runtime.run {
            let channel = Channel<Int>(capacity: 4)
            channel.send(1)
            channel.send(2)
            channel.close()
            #expect(channel.isClosed)
            #expect(channel.receive() == 1)
            #expect(channel.receive() == 2)
            #expect(channel.receive() == nil)
            #expect(channel.receive() == nil)
        }
    }

    @Test("close wakes every parked receiver with nil")
    func closeWakesReceivers() {
        let nils = Runtime.run(maxProcs: 2) { () -> Int in
            let channel = Channel<Int>()
            let results = Channel<Bool>(capacity: 10)
            for _ in 0..<10 {
                go { results.send(channel.receive() == nil) }
            }
            Runtime.sleep(for: .milliseconds(5))
            channel.close()
            var count = 0
            for _ in 0..<10 where results.receive() == true { count += 1 }
            return count
        }
        #expect(nils == 10)
    }

    @Test("blocked senders are served FIFO, and a full buffer keeps its order")
    func sendersFIFO() {
        let order = Runtime.run(maxProcs: 1) { () -> [Int] in
            let channel = Channel<Int>(capacity: 2)
            channel.send(0)
            channel.send(1)
            let started = WaitGroup()
            for value in 2..<6 {
                started.add(1)
                go {
                    started.done()
                    channel.send(value)
                }
                // One P: each sender parks before the next is spawned.
                started.wait()
                Runtime.yield()
            }
            return (0..<6).map { _ in channel.receive()! }
        }
        #expect(order == [0, 1, 2, 3, 4, 5])
    }

    @Test("one million ping-pong messages on two processors, none lost")
    func pingPongMillion() {
        let total = Runtime.run(maxProcs: 2) { () -> Int in
            let ping = Channel<Int>()
            let pong = Channel<Int>()
            go {
                for value in ping { pong.send(value + 1) }
                pong.close()
            }
            var value = 0
            for _ in 0..<500_000 {
                ping.send(value)
                value = pong.receive()!
            }
            ping.close()
            #expect(pong.receive() == nil)
            return value
        }
        #expect(total == 500_000)
    }

    @Test("values with reference semantics are neither leaked nor freed early")
    func referenceValues() {
        Runtime.run(maxProcs: 2) {
            let channel = Channel<Tracked>(capacity: 8)
            go {
                for id in 0..<1000 { channel.send(Tracked(id)) }
                channel.close()
            }
            var sum = 0
            for item in channel { sum += item.id }
            #expect(sum == 999 * 1000 / 2)
            let leftovers = Channel<Tracked>(capacity: 4)
            leftovers.send(Tracked(1))
            leftovers.send(Tracked(2))
        }
        #expect(Tracked.live.load(ordering: .relaxed) == 0)
    }
}

private final class Tracked: Sendable {
    static let live = Atomic<Int>(0)
    let id: Int
    init(_ id: Int) {
        self.id = id
        Tracked.live.add(1, ordering: .relaxed)
    }
    deinit { Tracked.live.subtract(1, ordering: .relaxed) }
}
