import GoRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Recurses `depth` times with a 1 KiB buffer live in every frame: each frame reads its buffer
/// after the recursive call returns, so the call is not a tail call and the buffers cannot be
/// merged or elided. Returns a checksum over every frame's buffer.
@inline(never)
func deepRecursion(_ depth: Int, seed: UInt8) -> Int {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
        for index in buffer.indices { buffer[index] = seed &+ UInt8(truncatingIfNeeded: index) }
        let below = depth > 0 ? deepRecursion(depth - 1, seed: seed &+ 1) : 0
        var sum = below
        for byte in buffer { sum &+= Int(byte) }
        return sum
    }
}

/// The checksum `deepRecursion` must return, computed without recursion.
func expectedChecksum(_ depth: Int, seed: UInt8) -> Int {
    var sum = 0
    var frameSeed = seed
    for _ in 0...depth {
        for index in 0..<1024 { sum &+= Int(frameSeed &+ UInt8(truncatingIfNeeded: index)) }
        frameSeed &+= 1
    }
    return sum
}

/// Recurses without end (each frame keeps a live buffer), to overflow any limit.
@inline(never)
func unboundedRecursion(_ depth: Int) -> Int {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { buffer in
        buffer.initialize(repeating: UInt8(truncatingIfNeeded: depth))
        return unboundedRecursion(depth + 1) &+ Int(buffer[depth % 512])
    }
}

/// Runs a goroutine that reads an invalid address: a fault outside every stack slot, which the
/// runtime's SIGSEGV handler must pass on to the previous handler.
private func faultOutsideEveryStack() {
    Runtime.run {
        let done = Channel<Int>()
        go {
            // Safety: deliberately invalid, to fault outside every stack slot.
            let pointer = UnsafeMutablePointer<Int>(bitPattern: 16)!
            done.send(pointer.pointee)
        }
        _ = done.receive()
    }
}

/// The address of the first byte of `pointer`'s page.
private func pageOf(_ address: UInt) -> UnsafeMutableRawPointer {
    let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
    return UnsafeMutableRawPointer(bitPattern: address & ~(page - 1))!
}

/// Whether the page holding `address` is resident (mincore).
private func isResident(_ address: UInt) -> Bool {
    var vector: UInt8 = 0
    let rc = mincore(pageOf(address), 1, &vector)
    return rc == 0 && vector & 1 == 1
}

@Suite("Goroutine stacks")
struct StackTests {
    @Test("recursion needing 512 KiB of stack succeeds in a goroutine, which grows its stack on demand")
    func deepRecursionGrows() {
        let growthsBefore = Runtime.stackStatistics.growths
        let depth = 500  // 501 frames of > 1 KiB each: more than 512 KiB
        let result = Runtime.run(maxProcs: 2) { () -> Int in
            let done = Channel<Int>(capacity: 1)
            go { done.send(deepRecursion(depth, seed: 7)) }
            return done.receive()!
        }
        #expect(result == expectedChecksum(depth, seed: 7))
        let statistics = Runtime.stackStatistics
        #expect(statistics.initialSize <= 8 * 1024)
        // To more than 512 KiB by doubling: a pooled slot keeps up to 64 KiB of an earlier goroutine's
        // growth (beyond that its guard comes back), so at least three growth faults — 64 → 128 → 256 →
        // 512 KiB — and six from a fresh 8 KiB slot (other tests running meanwhile can only add to the count).
        if statistics.guardedSlots < statistics.guardBudget {
            #expect(statistics.growths - growthsBefore >= 3)
        }
    }

    @Test("GOTRACE_INITIAL_STACK sets a fresh stack's size: 50 KiB of recursion in a 256 KiB stack needs no growth")
    func initialStackFromEnvironment() async throws {
        // Its own process: the size is read once, when the scheduler starts.
        await #expect(processExitsWith: .exitCode(0)) {
            setenv("GOTRACE_INITIAL_STACK", "256K", 1)
            let depth = 50  // 51 frames of > 1 KiB each: more than 8 KiB doubled three times
            let result = Runtime.run(maxProcs: 1) { () -> Int in
                let done = Channel<Int>(capacity: 1)
                go { done.send(deepRecursion(depth, seed: 3)) }
                return done.receive()!
            }
            guard Runtime.stackStatistics.initialSize == 256 * 1024 else { exit(3) }
            guard result == expectedChecksum(depth, seed: 3) else { exit(4) }
            exit(Runtime.stackStatistics.growths == 0 ? 0 : 5)
        }
        let rejected = try await #require(processExitsWith: .exitCode(0), observing: [\.standardErrorContent]) {
            setenv("GOTRACE_INITIAL_STACK", "lots", 1)
            Runtime.run(maxProcs: 1) {}
            exit(Runtime.stackStatistics.initialSize == 8 * 1024 ? 0 : 3)
        }
        #expect(String(decoding: rejected.standardErrorContent, as: UTF8.self)
            .contains("ignoring GOTRACE_INITIAL_STACK=lots (want bytes, e.g. 64K)"))
    }

    @Test("a goroutine that recurses past the limit ends the process with a stack overflow")
    func overflowIsFatal() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.run {
                let done = Channel<Int>()
                go { done.send(unboundedRecursion(0)) }
                _ = done.receive()
            }
        }
        let text = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(text.contains("fatal error: stack overflow in goroutine "))
        // 1 MiB; a sanitizer build's default is larger (its frames are), and the child has the same one.
        #expect(Runtime.maxStackSize % (1024 * 1024) == 0)
        #expect(text.contains("(limit \(Runtime.maxStackSize / (1024 * 1024)) MiB)"))
        #expect(Runtime.maxStackSize == 1024 * 1024 || Runtime.maxStackSize == 4 * 1024 * 1024)
    }

    @Test("the limit is configurable: with 256 KiB, 512 KiB of recursion overflows")
    func configuredLimit() async throws {
        let result = try await #require(processExitsWith: .exitCode(2), observing: [\.standardErrorContent]) {
            Runtime.setMaxStackSize(256 * 1024)
            Runtime.run {
                let done = Channel<Int>()
                go { done.send(deepRecursion(500, seed: 1)) }
                _ = done.receive()
            }
        }
        let text = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(text.contains("fatal error: stack overflow in goroutine "))
        #expect(text.contains("(limit 256 KiB)"))
    }

    @Test("a fault that is not a stack growth still reaches the previous handler")
    func foreignFaultStillCrashes() async throws {
        await #expect(processExitsWith: .signal(SIGSEGV)) {
            faultOutsideEveryStack()
        }
    }

    @Test("a fault that is not a stack growth is passed to the handler installed before the runtime's")
    func foreignFaultReachesPreviousHandler() async throws {
        // The same chain as above with a handler of the test's own as the previous one, so it holds in
        // sanitizer builds too (there the sanitizer's handler is the previous one, and it exits 1 or 66).
        await #expect(processExitsWith: .exitCode(42)) {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in _exit(42) }
            sigemptyset(&action.sa_mask)
            sigaction(SIGSEGV, &action, nil)
            faultOutsideEveryStack()
        }
    }

    @Test("with GOTRACE_SHRINK_STACKS=0 a goroutine parked 30 times the idle threshold keeps its stack")
    func shrinkingTurnedOff() async throws {
        // A separate process: the setting is read once, when the scheduler starts its shrinker.
        await #expect(processExitsWith: .exitCode(0)) {
            setenv("GOTRACE_SHRINK_STACKS", "0", 1)
            let kept = Runtime.run(maxProcs: 2) { () -> Bool in
                let wake = Channel<Int>()
                let parked = Channel<UInt>(capacity: 1)
                let done = Channel<Int>(capacity: 1)
                go {
                    var local = 1
                    withUnsafeMutablePointer(to: &local) { parked.send(UInt(bitPattern: $0)) }
                    local += wake.receive()!
                    done.send(local)
                }
                let address = parked.receive()!
                // 300 ms: the shrinker, were it on, shrinks a stack parked for 10 ms (shrinkAndRestore).
                Runtime.sleep(for: .milliseconds(300))
                let resident = isResident(address)
                let shrinks = Runtime.stackStatistics.shrinks
                wake.send(1)
                return resident && shrinks == 0 && done.receive() == 2
            }
            exit(kept ? 0 : 1)
        }
    }

    @Test("a parked goroutine's stack is shrunk, its page released, and restored intact when it resumes")
    func shrinkAndRestore() {
        let outcome = Runtime.run(maxProcs: 2) { () -> (released: Bool, intact: Bool, shrinks: Int) in
            let shrinksBefore = Runtime.stackStatistics.shrinks
            let wake = Channel<Int>()
            let parked = Channel<UInt>(capacity: 1)
            let result = Channel<Bool>(capacity: 1)
            go {
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 64) { buffer in
                    for index in buffer.indices { buffer[index] = 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1) }
                    var local = 0x5EED
                    var intact = true
                    var token = 0
                    withUnsafeMutablePointer(to: &local) { pointerIntoOwnStack in
                        parked.send(UInt(bitPattern: buffer.baseAddress!))
                        token = wake.receive()!
                        intact = pointerIntoOwnStack.pointee == 0x5EED
                        for index in buffer.indices where buffer[index] != 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1) {
                            intact = false
                        }
                        pointerIntoOwnStack.pointee += token
                    }
                    result.send(intact && local == 0x5EED + token)
                }
            }
            let address = parked.receive()!
            // The shrinker releases the page after 10 ms of idleness; allow a loaded machine 10 s.
            var released = false
            for _ in 0..<1_000 {
                Runtime.sleep(for: .milliseconds(10))
                if !isResident(address) {
                    released = true
                    break
                }
            }
            wake.send(3)
            let intact = result.receive()!
            return (released, intact, Runtime.stackStatistics.shrinks - shrinksBefore)
        }
        #expect(outcome.released, "the parked goroutine's stack page was returned to the OS")
        #expect(outcome.shrinks >= 1)
        #expect(outcome.intact, "locals and pointers into the goroutine's own stack survived")
    }

    @Test("2,048 goroutines' stacks start at different cache lines: 64 offsets in a page, 1,024 or more in 128 KiB")
    func stacksAreColoured() {
        // Without colouring every stack top was congruent modulo 64 KiB (1 MiB + 64 KiB slots), so the
        // same local in every goroutine sat at one offset within a page and at most two within 128 KiB:
        // the hot lines of parked goroutines fought over a few sets of each cache (stack.c).
        let count = 2_048
        let addresses = Runtime.run(maxProcs: 1) { () -> [UInt] in
            let reported = Channel<UInt>(capacity: count)
            let release = Channel<Int>()
            for _ in 0..<count {
                go {
                    var local = 0
                    withUnsafeMutablePointer(to: &local) { reported.send(UInt(bitPattern: $0)) }
                    _ = release.receive()  // parked: every goroutine holds its own stack at once
                }
            }
            let addresses = (0..<count).map { _ in reported.receive()! }
            release.close()
            return addresses
        }
        let withinPage = Set(addresses.map { ($0 % 4_096) / 64 })
        let withinWay = Set(addresses.map { ($0 % (128 * 1_024)) / 64 })
        #expect(Set(addresses).count == count)
        #expect(withinPage.count == 64, "line offsets within a page: \(withinPage.count)")
        #expect(withinWay.count >= 1_024, "line offsets within 128 KiB: \(withinWay.count)")
    }

    @Test("goroutines that park a little longer than the idle threshold, again and again, soon stop being shrunk")
    func repeatedParksAdaptTheThreshold() async throws {
        // In a child process: the shrink counter is process-wide. Two goroutines park ~30 ms per round
        // (three times the 10 ms base threshold), 40 rounds: with a fixed threshold each park would be
        // a shrink and a refault (~80 in all). The per-slot threshold rises past twice the park after a
        // shrink the goroutine soon comes back from, so each is shrunk once (2 in all, here and beside a
        // CPU hog); doubling once per wasted shrink took two each (4 in every run, loaded or not). The
        // bound leaves one more for a park that a loaded machine stretches past twice the first.
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            let shrinks = Runtime.run(maxProcs: 1) { () -> Int in
                let before = Runtime.stackStatistics.shrinks
                let ping = Channel<Int>()
                let pong = Channel<Int>()
                go { while let value = ping.receive() { pong.send(value) } }
                for round in 0..<40 {
                    Runtime.sleep(for: .milliseconds(30))
                    ping.send(round)
                    _ = pong.receive()
                }
                ping.close()
                return Runtime.stackStatistics.shrinks - before
            }
            print("shrinks \(shrinks)")
            exit(shrinks <= 3 ? 0 : 1)
        }
        if let result { print(String(decoding: result.standardOutputContent, as: UTF8.self)) }
    }

    @Test("a trace records stack-grow and stack-shrink events")
    func traceEvents() async throws {
        // A separate process: tracing is process-wide, and other tests run meanwhile.
        await #expect(processExitsWith: .exitCode(0)) {
            let seen = Atomic<Int>(0)  // bit 0: a stack grew, bit 1: one shrank
            Trace.setEventConsumer { event in
                if event.kind == "stack-grow", event.arguments[2] > event.arguments[1] { seen.bitwiseOr(1, ordering: .relaxed) }
                if event.kind == "stack-shrink", event.arguments[2] < event.arguments[1] { seen.bitwiseOr(2, ordering: .relaxed) }
            }
            try? Trace.start(to: "/tmp/gotrace-stack-events-\(getpid()).gtrace")
            Runtime.run(maxProcs: 2) {
                let done = Channel<Int>(capacity: 1)
                go { done.send(deepRecursion(100, seed: 3)) }
                _ = done.receive()
                let wake = Channel<Int>()
                go { _ = wake.receive() }
                for _ in 0..<500 where seen.load(ordering: .relaxed) & 2 == 0 { Runtime.sleep(for: .milliseconds(10)) }
                wake.send(1)
            }
            Trace.stop()
            unlink("/tmp/gotrace-stack-events-\(getpid()).gtrace")
            exit(seen.load(ordering: .relaxed) == 3 ? 0 : 1)
        }
    }

    @Test("1,000,000 goroutines park at once and are all released")
    func millionParked() async throws {
        // In a child process (its million pooled goroutine records do not stay in this one), on one
        // processor: the test is heavy (a page fault and a stack shrink per goroutine), and tests
        // beside it count CPU-time samples. (A lower priority was tried: the shrinker, preempted in
        // the middle of a batch, then held up the goroutines being released for minutes.)
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            let count = 1_000_000
            let (peak, after) = Runtime.run(maxProcs: 1) { parkAndRelease(count) }
            print("parked \(peak), left \(after)")
            exit(peak == count && after == 0 ? 0 : 1)
        }
        if let result {
            #expect(String(decoding: result.standardOutputContent, as: UTF8.self).contains("parked 1000000, left 0"))
        }
    }
}
