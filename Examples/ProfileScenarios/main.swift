// Programs with a known profile, for checking `gotrace export` against what the program really did:
//
//   ProfileScenarios block [ROUNDS] [BRIEF_MS]
//                                     one goroutine, blocked 80% of its time in blockedMostly() (40 ms per
//                                     round) and 20% in blockedBriefly() (10 ms per round); 12 rounds.
//                                     BRIEF_MS changes blockedBriefly()'s wait (40: a 50/50 split), so two
//                                     recordings differ in one known function (`gotrace diff`). Prints
//                                     each function's waits as this program measured them on CLOCK_MONOTONIC
//                                     ("blockedMostly_ns N", "blockedBriefly_ns N"): a loaded machine fires
//                                     timers late, and the profile must then show the longer waits, no more.
//   ProfileScenarios spawn            spawnMany() starts 300 goroutines, spawnFew() 100
//   ProfileScenarios cpu [MS]         one goroutine burning MS ms of CPU time (default 1500): 75% in
//                                     hotLoop(), 25% in coldLoop() (3 units of the same work against 1)
//
// The waits are timer waits with nothing else runnable, so the goroutine's blocked time is the wall time
// of the waits, and nothing else in the program blocks for long.
import GoRuntime

#if canImport(Glibc)
import Glibc
#endif

@inline(never)
func blockedMostly() {
    // A select with only a timeout case: parks (reason `select`) until the timer fires.
    select(.after(.milliseconds(40)) {})
}

/// blockedBriefly()'s wait: the block scenario's BRIEF_MS, 10 ms by default.
enum BriefWait {
    static let milliseconds: Int = {
        let arguments = CommandLine.arguments
        return arguments.count > 3 && arguments[1] == "block" ? Int(arguments[3]) ?? 10 : 10
    }()
}

@inline(never)
func blockedBriefly() {
    Runtime.sleep(for: .milliseconds(BriefWait.milliseconds))
}

@inline(never)
func spawnMany(_ group: WaitGroup) {
    for _ in 0..<300 {
        group.add(1)
        go { group.done() }
    }
}

@inline(never)
func spawnFew(_ group: WaitGroup) {
    for _ in 0..<100 {
        group.add(1)
        go { group.done() }
    }
}

/// One unit of CPU work the optimiser cannot remove or hoist.
@inline(never)
func spin(_ iterations: Int, _ seed: UInt64) -> UInt64 {
    var x = seed | 1
    // A while loop, not `for in 0..<n`: unoptimised builds call the range iterator's next() on every
    // turn, which would then top the profile instead of spin() itself.
    var turn = 0
    while turn < iterations {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        turn &+= 1
    }
    return x
}

// Work after the call keeps it from being a tail call: a tail call leaves no frame of its caller, and
// a frame-pointer profile would then charge spin() to whoever called hotLoop().
@inline(never)
func hotLoop(_ seed: UInt64) -> UInt64 { spin(30_000, seed) &* 3 &+ 1 }

@inline(never)
func coldLoop(_ seed: UInt64) -> UInt64 { spin(10_000, seed) &* 5 &+ 1 }

/// CLOCK_MONOTONIC in nanoseconds: the clock the recording's timestamps are calibrated against.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// CPU time of the calling thread, in seconds.
func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
let scenario = arguments.count > 1 ? arguments[1] : "block"
let parameter = arguments.count > 2 ? Int(arguments[2]) : nil

switch scenario {
case "block":
    let rounds = parameter ?? 12
    let (mostly, briefly) = Runtime.run(maxProcs: 1) { () -> (Int64, Int64) in
        var mostly: Int64 = 0, briefly: Int64 = 0
        for _ in 0..<rounds {
            let start = monotonicNanoseconds()
            blockedMostly()
            let middle = monotonicNanoseconds()
            blockedBriefly()
            mostly += middle - start
            briefly += monotonicNanoseconds() - middle
        }
        return (mostly, briefly)
    }
    print("blockedMostly_ns \(mostly)")
    print("blockedBriefly_ns \(briefly)")
case "spawn":
    Runtime.run(maxProcs: 1) {
        let group = WaitGroup()
        spawnMany(group)
        spawnFew(group)
        group.wait()
    }
case "cpu":
    let milliseconds = parameter ?? 1_500
    let checksum = Runtime.run(maxProcs: 1) { () -> UInt64 in
        // CPU time, not wall time: on a loaded machine the goroutine still gets its MS ms of samples. The
        // process clock, not the thread's: a preempted goroutine may resume on another M.
        let end = processCPUSeconds() + Double(milliseconds) / 1_000
        var x: UInt64 = 1
        var iterations = 0
        let cpuStart = processCPUSeconds()
        while processCPUSeconds() < end {
            x = hotLoop(x)
            x = coldLoop(x)
            iterations += 1
        }
        // Work per CPU second: the sampler's cost shows here whatever else the machine runs.
        print("iterations_per_cpu_second \(Int(Double(iterations) / (processCPUSeconds() - cpuStart)))")
        return x
    }
    print("checksum \(checksum & 0xff)")
default:
    print("usage: ProfileScenarios block [ROUNDS] [BRIEF_MS] | spawn | cpu [MS]")
    exit(2)
}
