import GoRuntime
import Synchronization
import Testing

@Suite("Select")
struct SelectTests {
    @Test("select takes the ready receive case")
    func readyReceive() {
        let got = Runtime.run { () -> Int? in
            let a = Channel<Int>(capacity: 1)
            let b = Channel<Int>(capacity: 1)
            b.send(42)
            var result: Int?
            select(.receive(a) { result = $0.map { -$0 } }, .receive(b) { result = $0 })
            return result
        }
        #expect(got == 42)
    }

    @Test("select sends when the buffer has room")
    func sendCase() {
        Runtime.run {
            let channel = Channel<Int>(capacity: 1)
            var sent = false
            select(.send(channel, 5) { sent = true }, default: { Issue.record("default taken") })
            #expect(sent)
            #expect(channel.receive() == 5)
        }
    }

    @Test("default runs when nothing is ready, and nothing is sent")
    func defaultCase() {
        Runtime.run {
            let full = Channel<Int>(capacity: 0)
            let empty = Channel<Int>(capacity: 0)
            var tookDefault = false
            select(.send(full, 1) { Issue.record("sent without receiver") },
                   .receive(empty) { _ in Issue.record("received from empty channel") },
                   default: { tookDefault = true })
            #expect(tookDefault)
        }
    }

    @Test("a blocked select wakes for a sender and the losing cases are withdrawn")
    func blockedSelectWakes() {
        Runtime.run(maxProcs: 2) {
            let a = Channel<Int>()
            let b = Channel<Int>()
            go {
                Runtime.sleep(for: .milliseconds(2))
                b.send(7)
            }
            var got: (String, Int?) = ("", nil)
            select(.receive(a) { got = ("a", $0) }, .receive(b) { got = ("b", $0) })
            #expect(got.0 == "b" && got.1 == 7)
            // The withdrawn case on `a` must not swallow a later value.
            go { a.send(9) }
            #expect(a.receive() == 9)
        }
    }

    @Test("a blocked select wakes for a receiver of its send case")
    func blockedSendCase() {
        Runtime.run(maxProcs: 2) {
            let out = Channel<Int>()
            let never = Channel<Int>()
            go { #expect(out.receive() == 3) }
            var which = ""
            select(.send(out, 3) { which = "sent" }, .receive(never) { _ in which = "never" })
            #expect(which == "sent")
        }
    }

    @Test("the timeout case fires when nothing else is ready")
    func timeout() {
        Runtime.run {
            let channel = Channel<Int>()
            var timedOut = false
            select(.receive(channel) { _ in Issue.record("received") }, .after(.milliseconds(5)) { timedOut = true })
            #expect(timedOut)
        }
    }

    @Test("a closed channel is always ready and yields nil")
    func closedChannelReady() {
        Runtime.run {
            let channel = Channel<Int>()
            channel.close()
            var got: Int?? = .none
            select(.receive(channel) { got = .some($0) }, .after(.seconds(10)) {})
            #expect(got == .some(nil))
        }
    }

    @Test("close wakes a select blocked on a receive")
    func closeWakesSelect() {
        Runtime.run(maxProcs: 2) {
            let channel = Channel<Int>()
            go {
                Runtime.sleep(for: .milliseconds(2))
                channel.close()
            }
            var got: Int?? = .none
            select(.receive(channel) { got = .some($0) })
            #expect(got == .some(nil))
        }
    }

    @Test("among ready cases the choice is uniform (chi-square, 3 cases × 30,000 draws)")
    func fairness() {
        let counts = Runtime.run { () -> [Int] in
            let channels = (0..<3).map { _ in Channel<Int>(capacity: 1) }
            for channel in channels { channel.send(0) }
            var counts = [0, 0, 0]
            for _ in 0..<30_000 {
                select(
                    .receive(channels[0]) { _ in counts[0] += 1; channels[0].send(0) },
                    .receive(channels[1]) { _ in counts[1] += 1; channels[1].send(0) },
                    .receive(channels[2]) { _ in counts[2] += 1; channels[2].send(0) })
            }
            return counts
        }
        // 2 degrees of freedom: 18.42 is the 0.9999 quantile, so a fair select fails 1 run in 10,000.
        #expect(chiSquare(counts) < 18.42, "counts \(counts)")
    }

    @Test("many goroutines selecting over shared channels lose and win no value")
    func selectStress() {
        let total = Runtime.run(maxProcs: 2) { () -> Int in
            let a = Channel<Int>()
            let b = Channel<Int>(capacity: 4)
            let results = Channel<Int>(capacity: 64)
            let group = WaitGroup()
            for _ in 0..<8 {
                group.add(1)
                go {
                    var sum = 0
                    var open = 2
                    var aOpen = true, bOpen = true
                    while open > 0 {
                        if aOpen && bOpen {
                            select(.receive(a) { v in if let v { sum += v } else { aOpen = false; open -= 1 } },
                                   .receive(b) { v in if let v { sum += v } else { bOpen = false; open -= 1 } })
                        } else if aOpen {
                            if let v = a.receive() { sum += v } else { aOpen = false; open -= 1 }
                        } else {
                            if let v = b.receive() { sum += v } else { bOpen = false; open -= 1 }
                        }
                    }
                    results.send(sum)
                    group.done()
                }
            }
            go {
                for value in 1...20_000 { if value % 2 == 0 { a.send(value) } else { b.send(value) } }
                a.close()
                b.close()
            }
            group.wait()
            results.close()
            return results.reduce(0, +)
        }
        #expect(total == 20_000 * 20_001 / 2)
    }

    // A timeout the timer runner has taken off the heap but not yet fired can lose to a channel case; the
    // goroutine then runs on, and the late timer must not claim its *next* select (which would wake it twice,
    // or wake it out of a select with no timeout). Many short timeouts racing sends, on 2 Ps, make the
    // window likely; with the stale claim a debug build stops at "ready of a goroutine that is not waiting"
    // and a release build miscounts.
    @Test("a timeout that fires as a channel case wins does not wake the goroutine's next select")
    func staleTimeoutDoesNotClaimTheNextSelect() {
        let rounds = 20_000
        let (received, timeouts) = Runtime.run(maxProcs: 2) { () -> (Int, Int) in
            let values = Channel<Int>()
            let done = Channel<(Int, Int)>(capacity: 1)
            go {
                var received = 0, timeouts = 0
                while received < rounds {
                    select(.receive(values) { _ in received += 1 },
                           .after(.microseconds(received % 7 * 10)) { timeouts += 1 })
                    // A select with no timeout: a stale timer claiming it would wake it with no winner.
                    if received % 3 == 0 {
                        select(.receive(values) { _ in received += 1 })
                    }
                }
                done.send((received, timeouts))
            }
            for value in 0..<rounds {
                if value % 5 == 0 { Runtime.sleep(for: .microseconds(value % 4 * 10)) }
                values.send(value)
            }
            return done.receive()!
        }
        #expect(received == rounds)
        // The timeout path ran too, or the race was never set up.
        #expect(timeouts > 0)
    }
}
