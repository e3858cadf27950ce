// Programs with a known profile, for checking `gotrace export` against what the program really did:
//
//   ProfileScenarios block [ROUNDS]   one goroutine, blocked 80% of its time in blockedMostly() (8 ms per
//                                     round) and 20% in blockedBriefly() (2 ms per round); 25 rounds
//   ProfileScenarios spawn            spawnMany() starts 300 goroutines, spawnFew() 100
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
    select(.after(.milliseconds(8)) {})
}

@inline(never)
func blockedBriefly() {
    Runtime.sleep(for: .milliseconds(2))
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

let arguments = CommandLine.arguments
let scenario = arguments.count > 1 ? arguments[1] : "block"
let parameter = arguments.count > 2 ? Int(arguments[2]) : nil

switch scenario {
case "block":
    let rounds = parameter ?? 25
    Runtime.run(maxProcs: 1) {
        for _ in 0..<rounds {
            blockedMostly()
            blockedBriefly()
        }
    }
case "spawn":
    Runtime.run(maxProcs: 1) {
        let group = WaitGroup()
        spawnMany(group)
        spawnFew(group)
        group.wait()
    }
default:
    print("usage: ProfileScenarios block [ROUNDS] | spawn")
    exit(2)
}
