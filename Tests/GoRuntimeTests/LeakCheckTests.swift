import GoRuntime
import Testing

@Suite("Leak checks")
struct LeakCheckTests {
    @Test("a run that leaves goroutines blocked fails the check, naming them and what they wait on")
    func leakDetected() throws {
        let error = #expect(throws: GoroutineLeakError.self) {
            try Runtime.checkingLeaks(timeout: .milliseconds(50)) {
                Runtime.run(maxProcs: 1) {
                    let never = Channel<Int>()
                    let started = WaitGroup()
                    for _ in 0..<3 {
                        started.add(1)
                        go {
                            started.done()
                            _ = never.receive()
                        }
                    }
                    started.wait()
                }
            }
        }
        let leakError = try #require(error)
        let leaked = leakError.leaked
        #expect(leaked.count == 3, "\(leakError)")
        #expect(leaked.allSatisfy { $0.state == .waiting && $0.waitReason == .chanReceive })
        #expect(String(describing: try #require(error)).contains("[chan receive]"))
    }

    @Test("goroutines that finish within the grace period are not leaks")
    func finishingIsNotLeaking() throws {
        try Runtime.checkingLeaks {
            Runtime.run(maxProcs: 2) {
                let done = Channel<Int>(capacity: 4)
                for index in 0..<4 {
                    go {
                        Runtime.sleep(for: .milliseconds(10))
                        done.send(index)
                    }
                }
                // Returns before the goroutines have retired: the check must wait for them.
                for _ in 0..<4 { _ = done.receive() }
            }
        }
    }

    @Test("goroutines leaked by earlier runs do not count against a later check")
    func earlierLeaksIgnored() throws {
        Runtime.run(maxProcs: 1) {
            go { _ = Channel<Int>().receive() }
            Runtime.yield()
        }
        try Runtime.checkingLeaks { Runtime.run { go {} } }
        #expect(Runtime.goroutines().contains { $0.state == .waiting && $0.waitReason == .chanReceive })
    }

    @Test("the watermark check sees goroutines created after it")
    func watermark() throws {
        let watermark = Runtime.goroutineWatermark
        Runtime.run(maxProcs: 1) {
            go { _ = Channel<Int>().receive() }
            Runtime.yield()
        }
        #expect(throws: GoroutineLeakError.self) { try Runtime.verifyNoLeaks(after: watermark, timeout: .milliseconds(20)) }
    }
}
