// parkmem: start N goroutines, each blocked receiving on its own unbuffered channel; report RSS growth per
// parked goroutine, then release them all and report RSS after (peer: go/cmd/parkmem).
// The channels are allocated first and their RSS is reported apart (bytes_per_g excludes them,
// bytes_per_g_incl_chan includes them). The peer also prints stack_inuse_bytes_per_g from Go's MemStats and
// calls runtime.GC() around the run; GoRuntime has no such statistic and Swift frees by reference counting,
// so neither has a counterpart here. Ours adds what its stacks did by the time RSS was read (stacks shrunk, the
// live bytes their heap copies keep on average, growth faults) and the page tables' size (VmPTE, outside RSS).
import GoRuntime

func parkMemBench(_ args: Arguments) {
    let n = args.int("n", 100_000)
    let (rss0, _) = procStatusKiB()
    let channels = (0..<n).map { _ in Channel<Int>(capacity: 0) }
    let (rss1, _) = procStatusKiB()
    let started = WaitGroup()
    let done = WaitGroup()
    started.add(n)
    done.add(n)
    let start = ContinuousClock.now
    for i in 0..<n {
        let channel = channels[i]
        go {
            started.done()
            _ = channel.receive()
            done.done()
        }
    }
    started.wait()
    // Let every goroutine get from started.done() to its blocking receive, as the peer does.
    Runtime.sleep(for: .milliseconds(50))
    let spawn = ContinuousClock.now - start
    let (rss2, hwm2) = procStatusKiB()
    let stacks = Runtime.stackStatistics
    let pageTables = pageTableKiB()
    for channel in channels {
        channel.send(1)
    }
    done.wait()
    let (rss3, hwm3) = procStatusKiB()
    resultLine("parkmem", procs: Runtime.maxProcs, [
        ("n", .int(n)),
        ("bytes_per_g", .float(Double((rss2 - rss1) * 1024) / Double(n))),
        ("bytes_per_g_incl_chan", .float(Double((rss2 - rss0) * 1024) / Double(n))),
        ("rss_base_kib", .int(rss0)),
        ("rss_parked_kib", .int(rss2)),
        ("peak_rss_kib", .int(hwm3)),
        ("rss_after_release_kib", .int(rss3)),
        ("hwm_parked_kib", .int(hwm2)),
        ("spawn_ms", .float(nanoseconds(spawn) / 1e6)),
        ("stacks_shrunk", .int(stacks.shrunkStacks)),
        ("page_tables_parked_kib", .int(pageTables)),
        ("shrunk_bytes_per_g", .float(Double(stacks.shrunkBytes) / Double(max(1, stacks.shrunkStacks)))),
        ("stack_growths", .int(stacks.growths)),
    ])
}
