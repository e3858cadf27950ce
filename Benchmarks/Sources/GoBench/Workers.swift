// workers: a pool of W goroutines consumes J small jobs from a buffered channel of capacity B; the main
// goroutine produces; a WaitGroup waits for the pool (peer: go/cmd/workers). A warm-up of J/10 jobs first.
// Time covers spawning the pool, producing every job, closing and waiting, as the peer's does.
import GoRuntime
import Synchronization

/// Where each worker adds its accumulator, so that the jobs cannot be optimised away.
let sink = Atomic<UInt64>(0)

/// A few dozen ns of arithmetic (xorshift rounds), the same as the peer's `job`, so that the benchmark
/// measures channel and scheduling cost rather than the work.
func job(_ x: UInt64) -> UInt64 {
    var x = x
    for _ in 0..<8 {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
    }
    return x
}

private func workersRun(workers: Int, jobs: Int, buffer: Int) -> Duration {
    let channel = Channel<UInt64>(capacity: buffer)
    let wg = WaitGroup()
    wg.add(workers)
    let start = ContinuousClock.now
    for _ in 0..<workers {
        go {
            var acc: UInt64 = 0
            for j in channel {
                acc &+= job(j)
            }
            sink.wrappingAdd(acc, ordering: .relaxed)
            wg.done()
        }
    }
    for i in 0..<jobs {
        channel.send(UInt64(i + 1))
    }
    channel.close()
    wg.wait()
    return ContinuousClock.now - start
}

func workersBench(_ args: Arguments) {
    let workers = args.int("w", 16)
    let jobs = args.int("j", 1_000_000)
    let buffer = args.int("b", 256)
    _ = workersRun(workers: workers, jobs: jobs / 10, buffer: buffer)  // warm-up
    let elapsed = workersRun(workers: workers, jobs: jobs, buffer: buffer)
    resultLine("workers", procs: Runtime.maxProcs, [
        ("w", .int(workers)),
        ("jobs", .int(jobs)),
        ("buf", .int(buffer)),
        ("ns_per_op", .float(nanoseconds(elapsed) / Double(jobs))),
    ])
}
