// ring: G goroutines joined in a ring by unbuffered channels pass one token, hops in total (peer: go/cmd/ring).
// The token is a countdown: each goroutine passes value - 1 on; whoever receives 0 reports on `done`.
// A warm-up lap of G hops first, so every goroutine has run once; then the timed `hops` hops.
import GoRuntime

func ringBench(_ args: Arguments) {
    let g = args.int("g", 10_000)
    let hops = args.int("hops", 1_000_000)
    let channels = (0..<g).map { _ in Channel<Int>(capacity: 0) }
    let done = Channel<Int>(capacity: 0)
    let exited = WaitGroup()
    exited.add(g)
    for i in 0..<g {
        let input = channels[i]
        let output = channels[(i + 1) % g]
        go {
            // The peer's goroutines loop forever and die with the process; ours leave once their
            // channel is closed after the measurement, so that the runtime shuts down cleanly.
            while let v = input.receive() {
                if v == 0 {
                    done.send(0)
                    continue
                }
                output.send(v - 1)
            }
            exited.done()
        }
    }
    channels[0].send(g)  // warm-up lap
    _ = done.receive()
    let start = ContinuousClock.now
    channels[0].send(hops)
    _ = done.receive()
    let elapsed = ContinuousClock.now - start
    for channel in channels {
        channel.close()
    }
    exited.wait()
    resultLine("ring", procs: Runtime.maxProcs, [
        ("g", .int(g)),
        ("hops", .int(hops)),
        ("ns_per_op", .float(nanoseconds(elapsed) / Double(hops))),
    ])
}
