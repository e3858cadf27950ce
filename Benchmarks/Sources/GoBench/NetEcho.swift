// netecho: loopback TCP echo through the network poller (peer: Benchmarks/go/netecho).
//
// One process holds both ends: a server goroutine per connection echoes what it reads; -c client
// goroutines each do -n round trips of a -b byte message (write it, read it all back), timing each.
// A warm-up of n/10 round trips per client first. Reports round trips per second over all clients and
// the p50/p99 round-trip latency in µs. Every round trip parks the client in read and the server
// in read at least once, so this measures poller wake-ups as much as the system calls.
import GoRuntime

/// The peer closed mid-message: a broken benchmark, not a measurement.
private struct UnexpectedEndOfStream: Error {}

private func readFully(_ connection: TCPConnection, _ buffer: UnsafeMutableRawBufferPointer) throws {
    var offset = 0
    while offset < buffer.count {
        let n = try connection.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
        if n == 0 { throw UnexpectedEndOfStream() }
        offset += n
    }
}

private func serveEcho(_ listener: TCPListener) {
    go {
        while let connection = try? listener.accept() {
            go {
                // Raw buffers, not arrays in closures: a typed-throws call inside a rethrows closure
                // crashes the Swift 6.3 optimizer ("swifterror value can only be loaded ...").
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
                defer { buffer.deallocate() }
                do {
                    while true {
                        let n = try connection.read(into: buffer)
                        if n == 0 { break }
                        try connection.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    }
                } catch {}
                connection.close()
            }
        }
    }
}

/// Runs `clients` × `rounds` round trips; returns the elapsed time and every round trip's latency (ns).
private func netEchoRun(port: Int, clients: Int, rounds: Int, size: Int) -> (Duration, [Int64]) {
    let done = WaitGroup()
    let latencies = Channel<[Int64]>(capacity: clients)
    let start = ContinuousClock.now
    for _ in 0..<clients {
        done.add(1)
        go {
            var samples: [Int64] = []
            samples.reserveCapacity(rounds)
            do {
                let connection = try TCPConnection.connect(host: "127.0.0.1", port: port)
                let message = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
                message.initializeMemory(as: UInt8.self, repeating: 0x61)
                let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
                defer {
                    message.deallocate()
                    reply.deallocate()
                }
                for _ in 0..<rounds {
                    let t0 = ContinuousClock.now
                    try connection.write(UnsafeRawBufferPointer(message))
                    try readFully(connection, reply)
                    let elapsed = ContinuousClock.now - t0
                    samples.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                }
                connection.close()
            } catch {
                fatalError("netecho: \(error)")
            }
            latencies.send(samples)
            done.done()
        }
    }
    done.wait()
    let elapsed = ContinuousClock.now - start
    var all: [Int64] = []
    for _ in 0..<clients { all += latencies.receive()! }
    return (elapsed, all)
}

func netEchoBench(_ args: Arguments) {
    let clients = args.int("c", 64)
    let rounds = args.int("n", 20_000)
    let size = args.int("b", 64)
    let listener: TCPListener
    do { listener = try TCPListener.listen(host: "127.0.0.1", port: 0) } catch { fatalError("netecho: \(error)") }
    serveEcho(listener)
    _ = netEchoRun(port: listener.port, clients: clients, rounds: max(1, rounds / 10), size: size)  // warm-up
    let (elapsed, samples) = netEchoRun(port: listener.port, clients: clients, rounds: rounds, size: size)
    listener.close()
    let sorted = samples.sorted()
    let quantile = { (q: Double) -> Double in Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]) / 1000 }
    let total = clients * rounds
    resultLine("netecho", procs: Runtime.maxProcs, [
        ("c", .int(clients)), ("n", .int(rounds)), ("b", .int(size)),
        ("rtt_per_sec", .float(Double(total) / (nanoseconds(elapsed) / 1e9))),
        ("p50_us", .float(quantile(0.50))),
        ("p99_us", .float(quantile(0.99))),
    ])
}
