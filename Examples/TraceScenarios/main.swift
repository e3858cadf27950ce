// Programs with known behaviour, for recording under `gotrace record` in the end-to-end tests and
// for trying the analyzers by hand:
//
//   TraceScenarios pingpong N      N ping-pong round trips between two goroutines
//   TraceScenarios steal           2 Ps, many more goroutines than Ps: work gets stolen
//   TraceScenarios exit CODE       some events, then exit(CODE)
//   TraceScenarios fatal           some events, then fatalError
//   TraceScenarios segfault        some events, then a write through a null pointer
//   TraceScenarios abort           some events, then abort()
//   TraceScenarios hang            many events, prints "ready pid=N", then sleeps until killed
//   TraceScenarios markers N [abort|own-handler]
//                                  2 Ps: two workers log N steps each and "worker K done" on two Ms,
//                                  then "ready pid=N" and sleep until killed (signal flush tests);
//                                  abort: abort() instead of "ready"; own-handler: SIGTERM's own
//                                  handler (exit status 7) installed before the runtime starts
//   TraceScenarios leak            100 goroutines left blocked receiving in leakyReceiver(_:)
//   TraceScenarios abba            two goroutines lock two mutexes in opposite orders: deadlock
//   TraceScenarios workerpool      a correct worker pool: nothing leaks
//   TraceScenarios sleepers        five goroutines sleeping 20 ms ten times each; prints each sleep as this
//                                  program measured it on CLOCK_MONOTONIC ("sleep_ns N", fifty lines)
//   TraceScenarios soak S [DEPTH]  S seconds of mixed work on 2 Ps, recursion DEPTH deep (Soak.swift)
//   TraceScenarios soakstops N DIR the soak's work, recording N traces DIR/stop-K.gtrace, each stopped
//                                  with Trace.stop() mid-workload (Soak.swift)
//   TraceScenarios flight S        the soak's work for S seconds (default 6) with ten goroutines blocked from
//                                  the start in flightStuckReceiver(_:); prints "ready pid=N" after S/2 seconds
//                                  (the flight-recorder tests, Soak.swift)
//   TraceScenarios top             2 Ps, until killed: eight goroutines blocked in topBlockedReceiver(_:), one
//                                  computing in topHotLoop(_:), ping-pong (`gotrace top`'s tests)
//   TraceScenarios flightinside PATH  Trace.startFlightRecorder(window: 1 s), 2.5 s of ping-pong with ten
//                                  goroutines blocked in flightStuckReceiver(_:), Trace.writeFlightRecording(to: PATH)
//   TraceScenarios spinstop PATH   2 Ps, asynchronous preemption off: records PATH while a goroutine spins
//                                  in a call-free loop (its M never stops), then stops the recording
//   TraceScenarios blockstop PATH  2 Ps: records PATH; a goroutine ping-pongs, then blocks in Runtime.blockingCall
//                                  reading a pipe that is written only after Trace.stop has returned
//   TraceScenarios startinside PATH  2 Ps: the main goroutine records PATH itself (Trace.start and stop
//                                  inside a goroutine) around ping-pong on its own P and a second M's
//   TraceScenarios hog             1 P: a call-free loop preempted while a ticker sleeps 10 ms twenty times,
//                                  and twenty 2 ms usleeps in Runtime.blockingCall
import GoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func pingPong(_ roundTrips: Int) {
    let ping = Channel<Int>()
    let pong = Channel<Int>()
    go {
        for value in ping { pong.send(value + 1) }
        pong.close()
    }
    var value = 0
    for _ in 0..<roundTrips {
        ping.send(value)
        value = pong.receive()!
    }
    ping.close()
    _ = pong.receive()
}

@inline(never)
func leakyReceiver(_ channel: Channel<Int>) {
    _ = channel.receive()
}

/// The `top` scenario's blocking site.
@inline(never)
func topBlockedReceiver(_ channel: Channel<Int>) {
    _ = channel.receive()
}

/// The `top` scenario's hot function: a few milliseconds of arithmetic per call.
@inline(never)
func topHotLoop(_ seed: UInt64) -> UInt64 {
    var value = seed
    for index in 0..<2_000_000 { value = value &* 6_364_136_223_846_793_005 &+ UInt64(index) }
    return value | 1
}

@inline(never)
func lockBoth(_ first: GoRuntime.Mutex, _ second: GoRuntime.Mutex, _ bothHeld: WaitGroup) {
    first.lock()
    bothHeld.done()
    bothHeld.wait()  // both goroutines now hold their first mutex
    second.lock()
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the recording's timestamps are calibrated against.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// A loop with no calls and no runtime safe points (only asynchronous preemption stops it).
@inline(never)
func spin(until stop: UnsafeMutablePointer<Int>) -> UInt64 {
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    while true {
        if stop.pointee != 0 { break }
        x ^= x &<< 13
        x ^= x &>> 7
        x ^= x &<< 17
    }
    return x
}

let arguments = CommandLine.arguments
let scenario = arguments.count > 1 ? arguments[1] : "pingpong"
let parameter = arguments.count > 2 ? Int(arguments[2]) : nil

switch scenario {
case "pingpong":
    Runtime.run { pingPong(parameter ?? 10_000) }
case "steal":
    Runtime.run(maxProcs: 2) {
        let group = WaitGroup()
        // Rounds of 200: each round fits P0's local queue (256), so the idle P must steal.
        for index in 0..<2_000 {
            if index % 200 == 0 { group.wait() }
            group.add(1)
            go {
                var x = 0
                for index in 0..<20_000 { x &+= index &* index }
                if x == 42 { print("unlikely") }
                Runtime.yield()
                group.done()
            }
        }
        group.wait()
    }
case "exit":
    Runtime.run { pingPong(1_000) }
    exit(Int32(parameter ?? 0))
case "fatal":
    Runtime.run {
        pingPong(20_000)
        fatalError("TraceScenarios: deliberate fatalError")
    }
case "segfault":
    Runtime.run {
        pingPong(20_000)
        let pointer = UnsafeMutablePointer<Int>(bitPattern: 8)!
        pointer.pointee = 1
    }
case "abort":
    Runtime.run {
        pingPong(20_000)
        abort()
    }
case "soak":
    runSoak(seconds: parameter ?? 10, depth: arguments.count > 3 ? Int(arguments[3]) ?? 400 : 400)
case "flight":
    runSoak(seconds: parameter ?? 6, depth: 400, flight: true)
case "top":
    // 2 Ps: eight goroutines blocked for good in topBlockedReceiver(_:), one computing in topHotLoop(_:), and
    // a ping-pong pair, until killed: `gotrace top` must name the blocking site and the hot function.
    Runtime.run(maxProcs: 2) {
        let never = Channel<Int>()
        for _ in 0..<8 { go { topBlockedReceiver(never) } }
        go {
            var seed: UInt64 = 1
            while true {
                seed = topHotLoop(seed)
                Runtime.yield()
            }
        }
        while true { pingPong(1_000) }
    }
case "flightinside":
    // The in-process flight recorder: a 1 s window over 2.5 s of ping-pong, written from a goroutine, then more
    // work and a stop; ten goroutines blocked in flightStuckReceiver(_:) throughout.
    let path = arguments.count > 2 ? arguments[2] : "flightinside.gtrace"
    Runtime.run(maxProcs: 2) {
        do {
            try Trace.startFlightRecorder(window: .seconds(1))
        } catch {
            print("flightinside: cannot start the flight recorder: \(error)")
            exit(1)
        }
        let never = Channel<Int>()
        for _ in 0..<10 { go { flightStuckReceiver(never) } }
        let deadline = ContinuousClock.now + .milliseconds(2_500)
        while ContinuousClock.now < deadline { pingPong(200) }
        do {
            try Trace.writeFlightRecording(to: path)
        } catch {
            print("flightinside: cannot write \(path): \(error)")
            exit(1)
        }
        pingPong(1_000)
        Trace.stop()
        print("flightinside: wrote \(path)")
    }
case "soakstops":
    runSoak(seconds: 0, depth: 400, recordings: (parameter ?? 5, arguments.count > 3 ? arguments[3] : "."))
case "hang":
    Runtime.run {
        pingPong(parameter ?? 100_000)
        let line = "ready pid=\(getpid())\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        while true { Runtime.sleep(for: .seconds(1)) }
    }
case "markers":
    // The workers' last messages stay in their Ms' partial chunks (nothing flushes an idle M's buffer
    // until the trace stops): only a flush on the terminating signal can save them.
    final class Meeting: Sendable { let arrived = Atomic<Int>(0) }
    let variant = arguments.count > 3 ? arguments[3] : ""
    if variant == "own-handler" { signal(SIGTERM) { _ in _exit(7) } }
    // The spin below must keep its M: an asynchronous preemption (likely on a loaded machine, where a
    // descheduled thread's goroutine counts as running) could hand a worker to the other M once its
    // partner has finished, and both markers would come from one M.
    setenv("GODEBUG", "asyncpreemptoff=1", 1)
    Runtime.run(maxProcs: 2) {
        let steps = parameter ?? 300
        let meeting = Meeting()
        let finished = WaitGroup()
        for worker in 0..<2 {
            finished.add(1)
            go {
                for step in 0..<steps {
                    Trace.log("markers", "worker \(worker) step \(step)")
                    if step % 10 == 9 { Runtime.yield() }
                }
                // Each spins (never yielding its M) until both arrived, so when the later one arrives
                // both run at once on two Ms, and each logs "done" from its own M.
                meeting.arrived.add(1, ordering: .sequentiallyConsistent)
                while meeting.arrived.load(ordering: .sequentiallyConsistent) < 2 {}
                Trace.log("markers", "worker \(worker) done")
                finished.done()
            }
        }
        finished.wait()
        // Crashes on the M that runs main; the other M sleeps with its partial chunk.
        if variant == "abort" { abort() }
        let line = "ready pid=\(getpid())\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        while true { Runtime.sleep(for: .seconds(1)) }
    }
case "leak":
    // One P: each goroutine runs from done() straight into its park before main runs again, so
    // when wait() returns all 100 are parked.
    Runtime.run(maxProcs: 1) {
        let never = Channel<Int>()
        let started = WaitGroup()
        for _ in 0..<100 {
            started.add(1)
            go {
                started.done()
                leakyReceiver(never)
            }
        }
        started.wait()
    }
case "abba":
    Runtime.run(maxProcs: 2) {
        let a = GoRuntime.Mutex()
        let b = GoRuntime.Mutex()
        let bothHeld = WaitGroup()
        let done = WaitGroup()
        bothHeld.add(2)
        done.add(2)
        go { lockBoth(a, b, bothHeld); done.done() }
        go { lockBoth(b, a, bothHeld); done.done() }
        done.wait()
    }
case "workerpool":
    Runtime.run(maxProcs: 2) {
        let jobs = Channel<Int>(capacity: 16)
        let results = Channel<Int>(capacity: 16)
        let workers = WaitGroup()
        for _ in 0..<4 {
            workers.add(1)
            go {
                for job in jobs { results.send(job * 2) }
                workers.done()
            }
        }
        go {
            for job in 0..<1_000 { jobs.send(job) }
            jobs.close()
        }
        go {
            workers.wait()
            results.close()
        }
        var sum = 0
        for result in results { sum += result }
        print("sum \(sum)")
    }
case "sleepers":
    let slept = Runtime.run { () -> [Int64] in
        let group = WaitGroup()
        // Room for every measurement: sending never parks, so the only parks are the sleeps.
        let durations = Channel<Int64>(capacity: 50)
        for _ in 0..<5 {
            group.add(1)
            go {
                for _ in 0..<10 {
                    let start = monotonicNanoseconds()
                    Runtime.sleep(for: .milliseconds(20))
                    durations.send(monotonicNanoseconds() - start)
                }
                group.done()
            }
        }
        group.wait()
        durations.close()
        return Array(durations)
    }
    for duration in slept { print("sleep_ns \(duration)") }
case "spinstop":
    // Nothing can stop the spinner's M: no runtime call in its loop, no signal. The trace's start and stop
    // must still return (each after its bound), say so in the trace, and the program must go on.
    setenv("GODEBUG", "asyncpreemptoff=1", 1)
    let path = arguments.count > 2 ? arguments[2] : "spinstop.gtrace"
    let stop = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    stop.pointee = 0
    let stopBits = UInt(bitPattern: stop)
    Runtime.run(maxProcs: 2) {
        let group = WaitGroup()
        let spinning = WaitGroup()
        group.add(1)
        spinning.add(1)
        go {
            spinning.done()
            // Safety: `stop` lives to the end of the process; main's store is the only write.
            _ = spin(until: UnsafeMutablePointer<Int>(bitPattern: stopBits)!)
            group.done()
        }
        spinning.wait()
        do {
            try Trace.start(to: path)
        } catch {
            print("spinstop: cannot record to \(path): \(error)")
        }
        pingPong(100)
        Trace.stop()
        UnsafeMutablePointer<Int>(bitPattern: stopBits)!.pointee = 1
        group.wait()
        pingPong(100)
        print("spinstop: done")
    }
case "blockstop":
    // A stop must not wait for a blocking call (it may last minutes): the M inside it counts as stopped, and
    // its buffer — the ping-pong and the `syscall-enter` before the call — is flushed by the stopper. The
    // call ends only after `Trace.stop` has returned, so a stop that waited for it would give up at its
    // bound and say so in the trace.
    final class Entered: Sendable { let value = Atomic<Bool>(false) }
    let path = arguments.count > 2 ? arguments[2] : "blockstop.gtrace"
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { fatalError("blockstop: pipe: \(errno)") }
    let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
    Runtime.run(maxProcs: 2) {
        do {
            try Trace.start(to: path)
        } catch {
            print("blockstop: cannot record to \(path): \(error)")
        }
        let entered = Entered()
        let group = WaitGroup()
        group.add(1)
        go {
            pingPong(100)
            Runtime.blockingCall {
                entered.value.store(true, ordering: .relaxed)
                var byte: UInt8 = 0
                _ = read(readEnd, &byte, 1)
            }
            group.done()
        }
        while !entered.value.load(ordering: .relaxed) { Runtime.sleep(for: .milliseconds(1)) }
        Trace.stop()
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
        group.wait()
        print("blockstop: done")
    }
case "startinside":
    // Every P that runs through the recording's start — the caller's, and any other M's that stopped at
    // the barrier holding its P — must start in the recording (`proc-start`), or its events belong to no P.
    final class Finish: Sendable { let done = Atomic<Bool>(false) }
    let path = arguments.count > 2 ? arguments[2] : "startinside.gtrace"
    Runtime.run(maxProcs: 2) {
        let ready = WaitGroup()
        let finish = Finish()
        let finished = WaitGroup()
        ready.add(1)
        finished.add(1)
        go {
            // Keeps the second M busy (and its P held) across the start: yields, never parks.
            ready.done()
            while !finish.done.load(ordering: .relaxed) { Runtime.yield() }
            finished.done()
        }
        ready.wait()
        do {
            try Trace.start(to: path)
        } catch {
            print("startinside: cannot record to \(path): \(error)")
        }
        pingPong(1000)
        for _ in 0..<1000 { Runtime.yield() }
        Trace.stop()
        finish.done.store(true, ordering: .relaxed)
        finished.wait()
        print("startinside: done")
    }
case "hog":
    let stop = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    stop.pointee = 0
    let stopBits = UInt(bitPattern: stop)
    Runtime.run(maxProcs: 1) {
        let group = WaitGroup()
        group.add(2)
        go {
            // Safety: `stop` lives to the end of the process; the ticker's store is the only write.
            _ = spin(until: UnsafeMutablePointer<Int>(bitPattern: stopBits)!)
            group.done()
        }
        go {
            for _ in 0..<20 { _ = Runtime.blockingCall { usleep(2_000) } }
            group.done()
        }
        for _ in 0..<20 { Runtime.sleep(for: .milliseconds(10)) }
        UnsafeMutablePointer<Int>(bitPattern: stopBits)!.pointee = 1
        group.wait()
    }
default:
    print("TraceScenarios: unknown scenario \(scenario)")
    exit(64)
}
