// spawn: start N goroutines that each call wg.done(), then wait (peer: go/cmd/spawn).
// Reports ns per goroutine for the first, cold round (goroutine records and stacks freshly allocated) and the
// median of the following warm rounds (reuse), plus the peak RSS.
import GoRuntime

private func spawnRound(_ n: Int) -> Duration {
    let wg = WaitGroup()
    wg.add(n)
    let start = ContinuousClock.now
    for _ in 0..<n {
        go { wg.done() }
    }
    wg.wait()
    return ContinuousClock.now - start
}

func spawnBench(_ args: Arguments) {
    let n = args.int("n", 1_000_000)
    let rounds = args.int("rounds", 5)
    let cold = spawnRound(n)
    var warm: [Double] = []
    for _ in 0..<rounds {
        warm.append(nanoseconds(spawnRound(n)) / Double(n))
    }
    let (_, hwm) = procStatusKiB()
    resultLine("spawn", procs: Runtime.maxProcs, [
        ("n", .int(n)),
        ("ns_per_op", .float(nanoseconds(cold) / Double(n))),
        ("ns_per_op_warm", .float(median(warm))),
        ("peak_rss_kib", .int(hwm)),
    ])
}
