import GoRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A connected pair over loopback: `client` from `TCPConnection.connect`, `server` from `accept`.
/// The listener is closed before returning, so no goroutine is left in `accept`.
func connectedPair(host: String = "127.0.0.1") throws -> (client: TCPConnection, server: TCPConnection) {
    let listener = try TCPListener.listen(host: host)
    defer { listener.close() }
    let accepted = Channel<TCPConnection?>(capacity: 1)
    go { accepted.send(try? listener.accept()) }
    let client = try TCPConnection.connect(host: host, port: listener.port)
    let server = try #require(accepted.receive() ?? nil, "the listener accepted the connection")
    return (client, server)
}

/// Writes 1 MiB blocks until a write fails, at most `limit` of them: far more than loopback's socket
/// buffers hold (a few MiB with autotuning), so a peer that never reads makes a write park before then.
/// Returns the error, or nil if every block went through.
func writeUntilFailure(_ connection: TCPConnection, limit: Int = 256) -> NetError? {
    let block = [UInt8](repeating: 0x5A, count: 1 << 20)
    for _ in 0..<limit {
        do { try connection.write(block) } catch { return error as? NetError }
    }
    return nil
}

/// Runs `body` while a watchdog goroutine waits: if `body` has not returned after `bound`, the watchdog
/// closes `connections`, so that a deadline that never fires fails the test with a closed error instead of
/// hanging it. Returns once the watchdog has ended too (no goroutine outlives the call).
func withWatchdog<Result>(closing connections: [TCPConnection], after bound: Duration = .seconds(20),
                          _ body: () throws -> Result) rethrows -> Result {
    let done = Channel<Void>(capacity: 1)
    let ended = Channel<Void>(capacity: 1)
    go {
        select(.receive(done) { _ in }, .after(bound) { for connection in connections { connection.close() } })
        ended.send(())
    }
    defer {
        done.send(())
        _ = ended.receive()
    }
    return try body()
}

extension NetTests {
    @Test("a write deadline wakes a writer whose peer never reads; clearing it lets writes through again")
    func writeDeadline() throws {
        let (error, firstByte) = try Runtime.run(maxProcs: 1) { () throws -> (NetError?, [UInt8]) in
            let (client, server) = try connectedPair()
            defer {
                client.close()
                server.close()
            }
            client.setWriteDeadline(.now + .milliseconds(30))
            let error = withWatchdog(closing: [client]) { writeUntilFailure(client) }
            // The stream still works: what was written before the deadline arrives, in order.
            client.setWriteDeadline(nil)
            let firstByte = try server.read(maxLength: 1)
            return (error, firstByte)
        }
        #expect(error?.code == .timedOut)
        #expect(error?.operation == "write")
        #expect(error?.description == "write: i/o timeout")
        #expect(firstByte == [0x5A])
    }

    @Test("a write deadline moved into the past by another goroutine wakes a writer blocked on a full buffer")
    func writeDeadlineFromAnotherGoroutine() throws {
        let error = try Runtime.run(maxProcs: 2) { () throws -> NetError? in
            let (client, server) = try connectedPair()
            defer {
                client.close()
                server.close()
            }
            let result = Channel<NetError?>(capacity: 1)
            go { result.send(writeUntilFailure(client)) }
            // Let the writer fill the buffers and park (not required for correctness: a write that has to
            // wait after the deadline fails too). The deadline is moved into the past until the writer has
            // woken (bounded: 10,000 × 1 ms).
            Runtime.sleep(for: .milliseconds(20))
            for _ in 0..<10_000 {
                client.setWriteDeadline(.now - .seconds(1))
                if result.count > 0 { return result.receive() ?? nil }
                Runtime.sleep(for: .milliseconds(1))
            }
            client.close()
            return result.receive() ?? nil
        }
        #expect(error?.code == .timedOut)
    }

    @Test("setDeadline sets both directions, and nil clears both")
    func setDeadlineBothWays() throws {
        let (readError, writeError, afterClearing) = try Runtime.run(maxProcs: 1) {
            () throws -> (NetError?, NetError?, [UInt8]) in
            let (client, server) = try connectedPair()
            defer {
                client.close()
                server.close()
            }
            client.setDeadline(.now + .milliseconds(30))
            let (readError, writeError) = withWatchdog(closing: [client]) { () -> (NetError?, NetError?) in
                var readError: NetError?
                do { _ = try client.read(maxLength: 1) } catch { readError = error as? NetError }
                // The same deadline has passed for writes too: the first one that has to wait fails.
                return (readError, writeUntilFailure(client))
            }
            client.setDeadline(nil)
            try server.write("y")
            return (readError, writeError, try client.read(maxLength: 1))
        }
        #expect(readError?.code == .timedOut && readError?.operation == "read")
        #expect(writeError?.code == .timedOut && writeError?.operation == "write")
        #expect(afterClearing == [UInt8(ascii: "y")])
    }

    // The listener's accept queue is made full without accepting: Linux drops a SYN to a full queue
    // (it counts it in ListenOverflows), so the next connect waits for a SYN-ACK that does not come
    // until its deadline. All on loopback; nothing leaves this machine.
    @Test("a connect timeout ends a connect that the peer never answers")
    func connectDeadline() throws {
        let (error, queued) = try Runtime.run(maxProcs: 1) { () throws -> (NetError?, Int) in
            // Backlog 0: the queue holds one connection (Linux admits backlog + 1).
            let listener = try TCPListener.listen(backlog: 0)
            defer { listener.close() }
            var queued: [TCPConnection] = []
            defer { for connection in queued { connection.close() } }
            // Bounded: the first attempt past the queue's capacity times out; eight is plenty of margin.
            for _ in 0..<8 {
                do {
                    queued.append(try TCPConnection.connect(host: "127.0.0.1", port: listener.port, timeout: .milliseconds(100)))
                } catch {
                    return (error as? NetError, queued.count)
                }
            }
            return (nil, queued.count)
        }
        #expect(error?.code == .timedOut)
        #expect(error?.operation == "connect")
        #expect(error?.errno == ETIMEDOUT)
        #expect(queued >= 1, "connections that fit the accept queue before it was full")
    }
}
