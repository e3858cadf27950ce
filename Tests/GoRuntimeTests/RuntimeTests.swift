import GoRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Runtime")
struct RuntimeTests {
    @Test("run returns the main goroutine's result and may be called again with other maxProcs")
    func runRepeatedly() throws {
        for procs in [1, 2, 3, 1] {
            let (seen, id) = Runtime.run(maxProcs: procs) { (Runtime.maxProcs, Runtime.currentGoroutineID) }
            #expect(seen == procs)
            #expect(id > 0)
        }
        #expect(Runtime.currentGoroutineID == 0)
    }

    @Test("run rethrows the main goroutine's error")
    func runRethrows() {
        struct Failure: Error {}
        #expect(throws: Failure.self) {
            try Runtime.run { throw Failure() }
        }
    }

    @Test("100,000 live goroutines park and are all released")
    func manyGoroutines() async {
        // A separate process: the goroutine count is the process's, and other tests' goroutines that start
        // or end meanwhile would shift it (a loaded run once counted a peak of 99,999). Exit status: 0, or
        // the sum of 2 (the peak was not 100,000) and 4 (goroutines were left).
        await #expect(processExitsWith: .exitCode(0)) {
            let (peak, after) = Runtime.run(maxProcs: 2) { parkAndRelease(100_000) }
            exit((peak == 100_000 ? 0 : 2) + (after == 0 ? 0 : 4))
        }
    }

    @Test("sleep parks the goroutine: 1,000 sleepers share one processor")
    func manySleepers() {
        let woke = Runtime.run(maxProcs: 1) { () -> Int in
            let group = WaitGroup()
            let woke = Atomic<Int>(0)
            for index in 0..<1_000 {
                group.add(1)
                go {
                    Runtime.sleep(for: .milliseconds(Int64(1 + index % 20)))
                    woke.add(1, ordering: .relaxed)
                    group.done()
                }
            }
            group.wait()
            return woke.load(ordering: .relaxed)
        }
        #expect(woke == 1_000)
    }

    @Test("sleep waits at least its duration")
    func sleepLowerBound() {
        let elapsed = Runtime.run {
            ContinuousClock().measure { Runtime.sleep(for: .milliseconds(20)) }
        }
        #expect(elapsed >= .milliseconds(20))
    }

    @Test("yield lets another goroutine run on a single processor")
    func yieldInterleaves() {
        let trace = Runtime.run(maxProcs: 1) { () -> [String] in
            let log = Shared<[String]>([])
            let group = WaitGroup()
            for name in ["a", "b"] {
                group.add(1)
                go {
                    for _ in 0..<3 {
                        log.value.append(name)
                        Runtime.yield()
                    }
                    group.done()
                }
            }
            group.wait()
            return log.value
        }
        #expect(trace.count == 6)
        #expect(trace != ["a", "a", "a", "b", "b", "b"] && trace != ["b", "b", "b", "a", "a", "a"])
    }

    @Test("an inout access open across a park does not leak to the next goroutine on the thread")
    func exclusivityIsPerGoroutine() {
        let final = Runtime.run(maxProcs: 1) { () -> Int in
            let box = Shared(0)
            let group = WaitGroup()
            group.add(2)
            go {
                // Holds a modify access to box.value while parked.
                mutateWhileParked(&box.value)
                group.done()
            }
            go {
                Runtime.yield()
                // Without per-goroutine exclusivity state this read traps with
                // "Simultaneous accesses" — the first goroutine's access is not ours.
                _ = box.value
                group.done()
            }
            group.wait()
            return box.value
        }
        #expect(final == 1)
    }

    @Test("goroutines spawned outside a run still execute")
    func goOutsideRun() {
        let done = Runtime.run { () -> Bool in
            let channel = Channel<Bool>(capacity: 1)
            go { channel.send(true) }
            return channel.receive() ?? false
        }
        #expect(done)
    }
}

private func mutateWhileParked(_ value: inout Int) {
    Runtime.yield()
    Runtime.sleep(for: .milliseconds(1))
    value += 1
}

/// Spawns `count` goroutines that each park on one channel, waits until all are parked, releases them
/// and waits until all have retired. Returns how many were live at the peak and how many are left.
/// Precondition: called from a goroutine.
func parkAndRelease(_ count: Int) -> (peak: Int, left: Int) {
    let base = Runtime.numGoroutines
    let gate = Channel<Int>()
    let parked = WaitGroup()
    let finished = WaitGroup()
    parked.add(count)
    finished.add(count)
    for _ in 0..<count {
        go {
            parked.done()
            _ = gate.receive()
            finished.done()
        }
    }
    parked.wait()
    let peak = Runtime.numGoroutines - base
    gate.close()
    finished.wait()
    // Goroutines finish just after calling done(): let them retire.
    while Runtime.numGoroutines - base > 0 { Runtime.sleep(for: .milliseconds(1)) }
    return (peak, Runtime.numGoroutines - base)
}
