// A program to diagnose while it runs (Tests/GoRuntimeTests/DebugServerTests.swift): started with
// GOTRACE_DEBUG_ADDR, it leaves goroutines blocked in known functions, contends on a mutex, and burns CPU
// in `burnCPUInKnownFunction`, then prints `ready pid=N` and runs until killed.
import GoRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Blocks for good on a channel nobody sends on: the leak the tests look for.
@inline(never)
func leakedReceiverWaitsForever(_ channel: Channel<Int>) {
    _ = channel.receive()
}

/// Spins on arithmetic the optimiser cannot drop: the CPU profile's hot function.
@inline(never)
func burnCPUInKnownFunction() {
    var value: UInt64 = 1
    while true {
        for _ in 0..<1_000_000 { value = value &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        if value == 42 { print(value) }
        Runtime.yield()
    }
}

/// Takes and holds a mutex others wait for: the mutex and block profiles' waits.
@inline(never)
func contendOnMutex(_ mutex: Mutex, holdFor: Duration) {
    mutex.lock()
    Runtime.sleep(for: holdFor)
    mutex.unlock()
}

Runtime.setBlockProfileRate(1)
Runtime.setMutexProfileFraction(1)
Runtime.run {
    let never = Channel<Int>()
    for _ in 0..<3 {
        go { leakedReceiverWaitsForever(never) }
    }
    go { burnCPUInKnownFunction() }
    let mutex = Mutex()
    for _ in 0..<2 {
        go {
            while true { contendOnMutex(mutex, holdFor: .milliseconds(20)) }
        }
    }
    // Lets every goroutine reach its wait before the test looks.
    Runtime.sleep(for: .milliseconds(100))
    // write(2), not print: stdout is a pipe, and a buffered line would never reach the test.
    let line = Array("ready pid=\(getpid())\n".utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    Runtime.sleep(for: .seconds(3_600))
}
