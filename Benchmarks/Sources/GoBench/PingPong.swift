// pingpong: two goroutines exchange messages over two unbuffered channels (peer: go/cmd/pingpong).
// One round trip = ping send/receive + pong send/receive. A warm-up of n/10 round trips, then n timed.
import GoRuntime

private func pingPongRun(_ n: Int) -> Duration {
    let ping = Channel<Int>(capacity: 0)
    let pong = Channel<Int>(capacity: 0)
    go {
        for v in ping {
            pong.send(v + 1)
        }
        pong.close()
    }
    let start = ContinuousClock.now
    var v = 0
    for _ in 0..<n {
        ping.send(v)
        guard let reply = pong.receive() else { fatalError("pingpong: pong closed early") }
        v = reply
    }
    let elapsed = ContinuousClock.now - start
    ping.close()
    _ = pong.receive()
    precondition(v == n, "pingpong: bad count \(v), expected \(n)")
    return elapsed
}

func pingPongBench(_ args: Arguments) {
    let n = args.int("n", 1_000_000)
    _ = pingPongRun(n / 10)  // warm-up
    let elapsed = pingPongRun(n)
    resultLine("pingpong", procs: Runtime.maxProcs, [
        ("n", .int(n)),
        ("ns_per_op", .float(nanoseconds(elapsed) / Double(n))),
    ])
}
