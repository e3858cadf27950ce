import GoRuntime
import Testing

/// Fatal runtime errors end the process with status 2 and Go's message, so they are exit tests.
@Suite("Fatal errors")
struct FatalErrorTests {
    @Test("a deadlock names every parked goroutine and what it waits on")
    func deadlock() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run(maxProcs: 2) {
                let never = Channel<Int>()
                let mutex = GoRuntime.Mutex()
                mutex.lock()
                go { mutex.lock() }
                go { never.send(1) }
                Runtime.sleep(for: .milliseconds(5))
                _ = Channel<Int>().receive()
            }
        }
        let text = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(text.contains("fatal error: all goroutines are asleep - deadlock!"))
        #expect(text.contains("[chan receive]"))
        #expect(text.contains("[chan send]"))
        #expect(text.contains("[sync.Mutex.Lock]"))
    }

    @Test("send on a closed channel")
    func sendOnClosed() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run {
                let channel = Channel<Int>(capacity: 1)
                channel.close()
                channel.send(1)
            }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("fatal error: send on closed channel"))
    }

    @Test("closing a channel twice")
    func closeTwice() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run {
                let channel = Channel<Int>()
                channel.close()
                channel.close()
            }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("fatal error: close of closed channel"))
    }

    @Test("a sender parked on a channel that gets closed")
    func closeWithParkedSender() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run(maxProcs: 2) {
                let channel = Channel<Int>()
                go { channel.send(1) }
                Runtime.sleep(for: .milliseconds(5))
                channel.close()
                Runtime.sleep(for: .seconds(5))
            }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("fatal error: send on closed channel"))
    }

    @Test("a negative WaitGroup counter")
    func negativeWaitGroup() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run { WaitGroup().done() }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("fatal error: sync: negative WaitGroup counter"))
    }

    @Test("unlocking an unlocked Mutex")
    func unlockUnlocked() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run { GoRuntime.Mutex().unlock() }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("fatal error: sync: unlock of unlocked mutex"))
    }
}
