// The soak workload (`TraceScenarios soak SECONDS [DEPTH]`): every kind of runtime activity at once, for a
// given time, on 2 Ps — channels (a pipeline, buffered and unbuffered), select with timeouts, a Mutex and an
// RWMutex under contention, sleeping timers, TCP on loopback (an echo server and clients that reconnect),
// spawn churn (batches of short-lived goroutines), recursion DEPTH frames deep and short blocking calls
// (`Runtime.blockingCall`, which hands the P over and takes one back).
//
// `TraceScenarios soakstops N DIR` runs the same workload without a deadline and, from the main goroutine,
// records N traces DIR/stop-K.gtrace one after another, each started and stopped (`Trace.start`,
// `Trace.stop`) while every component runs; then it ends the workload. Each trace's final snapshot is
// taken mid-workload: only a stop-the-world makes it exact (Scheduler+WorldStop.swift).
//
// The run ends cleanly: when the time is up every component stops, closes its channels and sockets, and
// every goroutine it started returns before `Runtime.run` does, so the final snapshot of a whole run lists
// none of them (scripts/soak.sh). A recording stopped mid-run reconciles as well: its snapshot is taken
// with the world stopped.
//
// Pace: each component sleeps a millisecond or two every few operations, which keeps the event rate near
// 230 k/s in a debug build (a 10-minute trace: ~140 M events, ~0.5 GB, that `gotrace stat --check` reads in
// about as long again) and gives every component its turn. (It predates preemption: the first version,
// unpaced, did ~9 pipeline items in 5 s because a loop that never blocked owned its P. Preemption would now
// interrupt such a loop every 10 ms, but the pacing keeps the event rate, and the trace, to a known size.)
//
// Output: "soak pid=N" first (the soak script samples that process's RSS), then one line of totals.
//
// DEPTH: a debug build's frame here takes ~220 bytes (a 64-byte local buffer, spills and the frame record),
// so the default of 400 needs ~88 KiB: a fresh 8 KiB stack grows four times (to 128 KiB) on the way down,
// and a pooled one that kept 64 KiB once, so the soak keeps the growth fault path and the shrinker busy.
// The 1 MiB limit allows a depth of about 4,500.
import GoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Totals the components count; printed at the end so a reader sees the work happened.
final class SoakCounters: Sendable {
    let pipelineItems = Atomic<Int>(0)
    let selects = Atomic<Int>(0)
    let lockedIncrements = Atomic<Int>(0)
    let sleeps = Atomic<Int>(0)
    let echoRoundTrips = Atomic<Int>(0)
    let spawned = Atomic<Int>(0)
    let recursions = Atomic<Int>(0)
    let blockingCalls = Atomic<Int>(0)
}

/// A counter only ever touched under the soak's Mutex.
final class SoakShared: @unchecked Sendable {
    var value = 0
}

/// Recurses `depth` frames, each holding a small buffer the compiler cannot elide; returns a checksum.
@inline(never)
func soakRecurse(_ depth: Int, _ seed: UInt64) -> UInt64 {
    var local: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (seed, seed &+ 1, 0, 0, 0, 0, 0, 0)
    local.2 = local.0 &* 31 &+ local.1
    if depth <= 0 { return local.2 }
    let below = soakRecurse(depth - 1, local.2)
    local.3 = below ^ local.0
    return withUnsafeBytes(of: &local) { bytes in bytes.load(fromByteOffset: 24, as: UInt64.self) }
}

/// Where the flight scenario's stuck goroutines wait, from the program's start to its end: the blocking site
/// the flight-recorder tests look for in a window's leak report.
@inline(never)
func flightStuckReceiver(_ channel: Channel<Int>) {
    _ = channel.receive()
}

/// `recordings`: instead of running for `seconds`, record that many traces mid-workload into `directory`.
/// `flight`: the `flight` scenario — ten goroutines blocked in `flightStuckReceiver` from the start, and the
/// readiness line (`ready pid=N`) only after half of `seconds`, so a flight recorder has cut generations by then.
func runSoak(seconds: Int, depth: Int, recordings: (count: Int, directory: String)? = nil, flight: Bool = false) {
    if !flight {
        let announce = "soak pid=\(getpid())\n"
        _ = announce.withCString { write(1, $0, strlen($0)) }
    }
    let counters = SoakCounters()
    let stopping = Atomic<Bool>(false)
    let deadline = ContinuousClock.now + .seconds(seconds)
    Runtime.run(maxProcs: 2) {
        let everyone = WaitGroup()
        func component(_ body: @escaping @Sendable () -> Void) {
            everyone.add(1)
            go {
                body()
                everyone.done()
            }
        }
        let running: @Sendable () -> Bool = { !stopping.load(ordering: .relaxed) }
        if flight {
            let never = Channel<Int>()
            for _ in 0..<10 { go { flightStuckReceiver(never) } }
        }

        // Channels: producer → buffered jobs → 2 workers → unbuffered results → consumer.
        component {
            let jobs = Channel<Int>(capacity: 8)
            let results = Channel<Int>()
            let workers = WaitGroup()
            for _ in 0..<2 {
                workers.add(1)
                go {
                    for job in jobs { results.send(job &* 2) }
                    workers.done()
                }
            }
            go {
                workers.wait()
                results.close()
            }
            go {
                var next = 0
                while running() {
                    jobs.send(next)
                    next += 1
                    if next % 16 == 0 { Runtime.sleep(for: .milliseconds(2)) }
                }
                jobs.close()
            }
            for _ in results { counters.pipelineItems.add(1, ordering: .relaxed) }
        }

        // Select over two feeders and a timeout; the feeders stop when told on `quit`.
        component {
            let fast = Channel<Int>(capacity: 4)
            let slow = Channel<Int>()
            let quit = Channel<Int>()
            let feeders = WaitGroup()
            for (channel, every) in [(fast, 4), (slow, 1)] {
                feeders.add(1)
                go {
                    var sending = true
                    var sent = 0
                    while sending {
                        select(
                            .send(channel, 1) { sent += 1 },
                            .receive(quit) { _ in sending = false })
                        if sending && sent % every == 0 { Runtime.sleep(for: .milliseconds(1)) }
                    }
                    feeders.done()
                }
            }
            while running() {
                select(
                    .receive(fast) { _ in },
                    .receive(slow) { _ in },
                    .after(.milliseconds(1)) {})
                counters.selects.add(1, ordering: .relaxed)
            }
            quit.close()
            feeders.wait()
        }

        // A Mutex and an RWMutex under contention from four goroutines each.
        component {
            let mutex = GoRuntime.Mutex()
            let table = RWMutex()
            let shared = SoakShared()
            let lockers = WaitGroup()
            for index in 0..<8 {
                lockers.add(1)
                go {
                    var rounds = 0
                    while running() {
                        rounds += 1
                        if rounds % 8 == 0 { Runtime.sleep(for: .milliseconds(2)) }
                        if index < 4 {
                            mutex.withLock { shared.value &+= 1 }
                            counters.lockedIncrements.add(1, ordering: .relaxed)
                        } else if index == 4 {
                            table.withLock { Runtime.yield() }
                        } else {
                            table.withReadLock { Runtime.yield() }
                        }
                    }
                    lockers.done()
                }
            }
            lockers.wait()
            mutex.withLock { if shared.value < 0 { print("impossible") } }
        }

        // Timers: sleepers with different periods.
        component {
            let sleepers = WaitGroup()
            for period in [1, 3, 7] {
                sleepers.add(1)
                go {
                    while running() {
                        Runtime.sleep(for: .milliseconds(period))
                        counters.sleeps.add(1, ordering: .relaxed)
                    }
                    sleepers.done()
                }
            }
            sleepers.wait()
        }

        // Network: an echo server on loopback; two clients connect, echo 1 KiB eight times, disconnect.
        component {
            guard let listener = try? TCPListener.listen(host: "127.0.0.1", port: 0) else {
                print("soak: cannot listen on loopback")
                return
            }
            let handlers = WaitGroup()
            let acceptorDone = WaitGroup()
            acceptorDone.add(1)
            go {
                while let connection = try? listener.accept() {
                    handlers.add(1)
                    go {
                        while let bytes = try? connection.read(), !bytes.isEmpty {
                            if (try? connection.write(bytes)) == nil { break }
                        }
                        connection.close()
                        handlers.done()
                    }
                }
                acceptorDone.done()
            }
            let clients = WaitGroup()
            for _ in 0..<2 {
                clients.add(1)
                go {
                    let payload = [UInt8](repeating: 0x5a, count: 1024)
                    while running() {
                        guard let connection = try? TCPConnection.connect(host: "127.0.0.1", port: listener.port) else {
                            Runtime.sleep(for: .milliseconds(1))
                            continue
                        }
                        for _ in 0..<8 {
                            guard (try? connection.write(payload)) != nil else { break }
                            var received = 0
                            while received < payload.count, let bytes = try? connection.read(), !bytes.isEmpty {
                                received += bytes.count
                            }
                            counters.echoRoundTrips.add(1, ordering: .relaxed)
                        }
                        connection.close()
                        Runtime.sleep(for: .milliseconds(1))
                    }
                    clients.done()
                }
            }
            clients.wait()
            listener.close()
            acceptorDone.wait()
            handlers.wait()
        }

        // Spawn churn: batches of 20 short-lived goroutines, one batch every 2 ms at most.
        component {
            while running() {
                let batch = WaitGroup()
                for index in 0..<20 {
                    batch.add(1)
                    go {
                        if index % 7 == 0 { Runtime.yield() }
                        batch.done()
                    }
                }
                batch.wait()
                counters.spawned.add(20, ordering: .relaxed)
                Runtime.sleep(for: .milliseconds(2))
            }
        }

        // Recursion: two goroutines at a time recurse `depth` frames.
        component {
            var seed: UInt64 = 1
            while running() {
                let pair = WaitGroup()
                for _ in 0..<2 {
                    pair.add(1)
                    let start = seed
                    go {
                        if soakRecurse(depth, start) == 42 { print("unlikely") }
                        counters.recursions.add(1, ordering: .relaxed)
                        pair.done()
                    }
                    seed &+= 1
                }
                pair.wait()
                Runtime.sleep(for: .milliseconds(1))
            }
        }

        // Blocking calls: a goroutine that spends most of its time in short system calls without a P.
        component {
            while running() {
                Runtime.blockingCall { _ = usleep(300) }
                if counters.blockingCalls.add(1, ordering: .relaxed).newValue % 4 == 0 {
                    Runtime.sleep(for: .milliseconds(1))
                }
            }
        }

        if let recordings {
            // Each recording: 300 ms of everything at once, then a stop from this goroutine while the
            // others run on; 50 ms between recordings.
            Runtime.sleep(for: .milliseconds(200))
            for index in 0..<recordings.count {
                let path = "\(recordings.directory)/stop-\(index).gtrace"
                do {
                    try Trace.start(to: path)
                } catch {
                    print("soakstops: cannot record to \(path): \(error)")
                    break
                }
                Runtime.sleep(for: .milliseconds(300))
                let stopStarted = ContinuousClock.now
                Trace.stop()
                let stopMicroseconds = (ContinuousClock.now - stopStarted) / .microseconds(1)
                print("soakstops: recorded \(path) (the stop took \(Int(stopMicroseconds)) µs)")
                Runtime.sleep(for: .milliseconds(50))
            }
        } else {
            // The clock: sleep until the deadline.
            var announced = !flight
            while ContinuousClock.now < deadline {
                Runtime.sleep(for: .milliseconds(100))
                if !announced, deadline - ContinuousClock.now <= .seconds(seconds) / 2 {
                    announced = true
                    let line = "ready pid=\(getpid())\n"
                    _ = line.withCString { write(1, $0, strlen($0)) }
                }
            }
        }
        // Tell everyone and wait for them all.
        stopping.store(true, ordering: .relaxed)
        everyone.wait()
    }
    print("soak done: \(seconds) s, depth \(depth): pipeline \(total(counters.pipelineItems)), "
        + "selects \(total(counters.selects)), locked \(total(counters.lockedIncrements)), "
        + "sleeps \(total(counters.sleeps)), echo round trips \(total(counters.echoRoundTrips)), "
        + "spawned \(total(counters.spawned)), recursions \(total(counters.recursions)), "
        + "blocking calls \(total(counters.blockingCalls))")
}

private func total(_ counter: borrowing Atomic<Int>) -> Int { counter.load(ordering: .relaxed) }
