import Foundation
import GotraceTestSupport
import GoTracePluginKit
import Testing

/// `gotrace report` against programs whose answer is known: Examples/TraceScenarios recorded with the built
/// `gotrace record` (fresh, so symbols resolve), and the committed recordings in traces/scenarios/ (whose
/// program no machine can read again, so their expectations do not depend on symbols).
enum Executables {
    static let gotrace = BuiltPlugins.directory + "/gotrace"
    static let scenarios = BuiltPlugins.directory + "/TraceScenarios"
    /// The package root, from this file's path (Tests/GoTraceAnalysisTests/<file>).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs `executable` (GotraceTestSupport.runProcess).
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let outcome = try runProcess(executable, arguments)
        return (outcome.status, outcome.output, outcome.error)
    }
}

@Suite
struct GroundTruthTests {
    /// Records `scenario`, then reports on it; returns the recorder's status, what the program printed, and
    /// the parsed report.
    func recordAndReport(_ scenario: String, extra: [String] = []) throws
        -> (recordStatus: Int32, recordError: String, trace: String, report: [String: Any], output: String)
    {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("gt-\(scenario)-\(UUID().uuidString).gtrace").path
        let recorded = try Executables.run(Executables.gotrace, ["record", "-o", trace, "--", Executables.scenarios, scenario])
        let reported = try Executables.run(Executables.gotrace, ["report", trace, "--format", "json", "--no-progress"] + extra)
        #expect(reported.status == 0, "report failed: \(reported.error)")
        let object = try JSONSerialization.jsonObject(with: Data(reported.output.utf8))
        let report = try #require(object as? [String: Any], "report printed \(reported.output)")
        return (recorded.status, recorded.error, trace, report, recorded.output)
    }

    func leak(_ report: [String: Any]) throws -> [String: Any] { try #require(report["leak"] as? [String: Any]) }

    @Test("leak: exactly 100 leaked, one group blocked in leakyReceiver, stacks trimmed to the user's call")
    func leakScenario() throws {
        let (status, _, trace, report, _) = try recordAndReport("leak")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        #expect(status == 0)
        let leak = try leak(report)
        #expect(leak["leaked"] as? Int == 100)
        let groups = try #require(leak["groups"] as? [[String: Any]])
        try #require(groups.count == 1)
        let group = groups[0]
        #expect(group["count"] as? Int == 100)
        #expect(group["reason"] as? String == "chan-receive")
        #expect(group["waitReason"] as? String == "chan receive")
        // Trimmed: the user's frame first (the runtime's call is the wait reason), no scheduler internals, no
        // goroutine entry; readable names, and the same frames in full beside them.
        let blockedAt = try #require(group["blockedAt"] as? [String])
        #expect(blockedAt.first?.hasPrefix("leakyReceiver(_:) + 0x") == true, "\(blockedAt)")
        let blockedAtFull = try #require(group["blockedAtFull"] as? [String])
        #expect(blockedAtFull.count == blockedAt.count)
        #expect(blockedAtFull.first?.hasPrefix("TraceScenarios.leakyReceiver(GoRuntime.Channel<Swift.Int>) -> () + 0x") == true,
                "\(blockedAtFull)")
        for runtimeName in ["captureStack", "Scheduler.park", "switchToScheduler", "goroutineMain", "runBody", "gort_context_trampoline",
                            "Channel.receive"] {
            #expect(!blockedAtFull.contains { $0.contains(runtimeName) }, "\(runtimeName) in \(blockedAtFull)")
        }
        let createdAt = try #require(group["createdAtFull"] as? [String])
        #expect(createdAt.first.map { StackTrimming.classify($0) } == .user, "\(createdAt)")
        #expect(!createdAt.contains { $0.contains("Scheduler.spawn") || $0.contains("goroutineMain") || $0.contains("GoRuntime.go(") },
                "\(createdAt)")
    }

    @Test("abba: two goroutines in one deadlock cycle, each waiting in Mutex.lock()")
    func abbaScenario() throws {
        let (status, error, trace, report, _) = try recordAndReport("abba")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        #expect(status == 2)
        #expect(error.contains("all goroutines are asleep - deadlock!"))
        let leak = try leak(report)
        let cycles = try #require(leak["cycles"] as? [[String: Any]])
        try #require(cycles.count == 1, "\(cycles)")
        let members = try #require(cycles[0]["goroutines"] as? [Int])
        #expect(members.count == 2)
        let edges = try #require(cycles[0]["edges"] as? [[String: Any]])
        #expect(edges.count == 2)
        #expect(Set(edges.compactMap { $0["waitsFor"] as? Int }) == Set(members))
        let groups = try #require(leak["groups"] as? [[String: Any]])
        let mutexGroups = groups.filter { $0["reason"] as? String == "mutex" }
        #expect(mutexGroups.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 2)
        for group in mutexGroups {
            #expect(group["waitReason"] as? String == "sync.Mutex.Lock")
            let blockedAt = group["blockedAtFull"] as? [String] ?? []
            #expect(blockedAt.first?.hasPrefix("TraceScenarios.lockBoth") == true, "\(blockedAt)")
            #expect((group["blockedAt"] as? [String])?.first?.hasPrefix("lockBoth(_:_:_:) + 0x") == true, "\(group)")
        }
    }

    @Test("workerpool: nothing leaks")
    func workerPoolScenario() throws {
        let (status, _, trace, report, _) = try recordAndReport("workerpool")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        #expect(status == 0)
        let leak = try leak(report)
        #expect(leak["leaked"] as? Int == 0)
        #expect((leak["groups"] as? [Any])?.isEmpty == true)
        #expect((leak["cycles"] as? [Any])?.isEmpty == true)
    }

    @Test("sleepers: fifty 20 ms sleeps; the blocking sleep p50 is at least 20 ms and at most the program's own median")
    func sleepersScenario() throws {
        // The bugs this catches: a sleep measured from the wrong events or in the wrong unit, or sleeps
        // missing from the distribution. Bounds that hold on any machine, loaded or not:
        //   lower  a sleep parks until its timer, armed 20 ms ahead a few instructions before the park
        //          event, fires: no sample is shorter than 20 ms less those instants (1% allows for them);
        //   upper  the park → unpark interval lies inside the interval the program itself measured around
        //          Runtime.sleep (its "sleep_ns" lines), so the analyzer's median is at most the program's.
        //          A late timer lengthens both alike; that is the machine's overshoot, not an error.
        let (status, _, trace, report, output) = try recordAndReport("sleepers")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        #expect(status == 0)
        let measured = output.split(separator: "\n").compactMap { line -> Int? in
            line.hasPrefix("sleep_ns ") ? Int(line.dropFirst("sleep_ns ".count)) : nil
        }.sorted()
        // From the scenario's source: 5 goroutines × 10 sleeps.
        try #require(measured.count == 50, "the program printed \(measured.count) sleeps:\n\(output)")
        #expect(measured.allSatisfy { $0 >= 20_000_000 }, "a sleep returned early: \(measured)")
        let latency = try #require(report["latency"] as? [String: Any])
        let sleep = try #require((latency["blocking"] as? [String: Any])?["sleep"] as? [String: Any])
        #expect(sleep["count"] as? Int == 50)
        let p50 = try #require(sleep["p50Ns"] as? Int)
        #expect(p50 >= 19_800_000, "p50 \(p50) ns; the program measured \(measured)")
        // The upper median (26th of 50) whatever the percentile convention, plus 0.2%: the histogram keeps 3
        // significant digits (0.1%) and the trace clock is calibrated against CLOCK_MONOTONIC (~0.005%).
        let programMedian = measured[25]
        #expect(p50 <= programMedian + programMedian / 500, "p50 \(p50) ns; the program measured \(measured)")
        #expect(try leak(report)["leaked"] as? Int == 0, "sleeping goroutines are not leaks")
    }

    @Test("hog: preemption latency (requested → honoured) and twenty blocking calls' syscall time are measured")
    func hogScenario() throws {
        let (status, _, trace, report, _) = try recordAndReport("hog")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        #expect(status == 0)
        let latency = try #require(report["latency"] as? [String: Any])
        let preemption = try #require(latency["preemption"] as? [String: Any])
        // The loop runs about 200 ms on the only P: the monitor preempts it every ~12 ms.
        #expect((preemption["count"] as? Int ?? 0) >= 1, "\(preemption)")
        // Signal delivery takes tens of microseconds; the bound leaves room for a loaded host.
        #expect((preemption["p50Ns"] as? Int ?? .max) < 100_000_000, "\(preemption)")
        let syscall = try #require(latency["syscall"] as? [String: Any])
        #expect(syscall["count"] as? Int == 20, "\(syscall)")
        #expect((syscall["p50Ns"] as? Int ?? 0) >= 2_000_000, "\(syscall)")
    }

    @Test("--fail-on-leak exits 3 on leak and 0 on workerpool")
    func failOnLeak() throws {
        for (scenario, expected) in [("leak", Int32(3)), ("workerpool", Int32(0))] {
            let trace = FileManager.default.temporaryDirectory.appendingPathComponent("gt-fail-\(UUID().uuidString).gtrace").path
            defer { try? FileManager.default.removeItem(atPath: trace) }
            let recorded = try Executables.run(Executables.gotrace, ["record", "-o", trace, "--", Executables.scenarios, scenario])
            #expect(recorded.status == 0, "record \(scenario) exited \(recorded.status): \(recorded.error)")
            let result = try Executables.run(Executables.gotrace, ["report", trace, "--fail-on-leak", "--no-progress"])
            #expect(result.status == expected, "\(scenario): \(result.error)")
            if scenario == "leak" {
                #expect(result.output.contains("100 goroutines [chan receive"), "\(result.output)")
                #expect(result.output.contains("    leakyReceiver(_:) + 0x"), "\(result.output)")
            }
        }
    }
}

/// The committed recordings in traces/scenarios/ against their committed reports (see regenerate.sh there).
@Suite struct ScenarioFixtureTests {
    /// Frames of the recorded program stay (they are `TraceScenarios+0xoffset` everywhere); frames of other
    /// modules, which may resolve on some machines, become `<other>` — as regenerate.sh writes them.
    static func normalise(_ value: Any, key: String? = nil) -> Any {
        if let object = value as? [String: Any] {
            return object.reduce(into: [String: Any]()) { $0[$1.key] = normalise($1.value, key: $1.key) }
        }
        if let array = value as? [Any] {
            if ["blockedAt", "createdAt", "blockedAtFull", "createdAtFull"].contains(key) {
                return array.map { frame -> Any in
                    let text = frame as? String ?? ""
                    let isProgram = text.hasPrefix("TraceScenarios+0x")
                        && text.dropFirst("TraceScenarios+0x".count).allSatisfy(\.isHexDigit)
                    return isProgram ? text : "<other>"
                }
            }
            return array.map { normalise($0) }
        }
        return value
    }

    @Test("the report of each committed recording matches its committed expectation",
          arguments: ["leak", "abba", "workerpool", "sleepers"])
    func fixture(_ name: String) throws {
        let directory = Executables.packageRoot + "/traces/scenarios/"
        let result = try Executables.run(Executables.gotrace,
                                         ["report", directory + name + ".gtrace", "--format", "json", "--no-progress"])
        #expect(result.status == 0, "\(result.error)")
        var actual = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        // The summary analyzer has its own tests (SummaryAnalyzerTests); these expectations predate it.
        #expect(actual.removeValue(forKey: "summary") != nil, "the default report includes the summary")
        let expectedData = try Data(contentsOf: URL(fileURLWithPath: directory + name + ".report.json"))
        let expected = try #require(JSONSerialization.jsonObject(with: expectedData) as? NSDictionary)
        let normalised = try #require(ScenarioFixtureTests.normalise(actual) as? [String: Any])
        #expect(NSDictionary(dictionary: normalised) == expected, "\(result.output)")
    }

    /// `gotrace report --format json` of the committed recording traces/scenarios/NAME.gtrace.
    static func liveReport(_ name: String) throws -> [String: Any] {
        let path = Executables.packageRoot + "/traces/scenarios/" + name + ".gtrace"
        let result = try Executables.run(Executables.gotrace, ["report", path, "--format", "json", "--no-progress"])
        #expect(result.status == 0, "\(result.error)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
    }

    /// The committed .report.json files were written by gotrace itself; these answers come from the scenarios'
    /// source (Examples/TraceScenarios/main.swift) and are checked on today's report of each committed recording.
    /// `lifetime.count` counts the goroutines that ended inside the recording; `sites`, the distinct creation
    /// sites (the main goroutine's and each `go` statement that ran).
    @Test("the committed recordings hold the scenarios' known answers", arguments: ["leak", "abba", "workerpool", "sleepers"])
    func knownAnswers(_ name: String) throws {
        let report = try Self.liveReport(name)
        let leak = try #require(report["leak"] as? [String: Any])
        let latency = try #require(report["latency"] as? [String: Any])
        let blocking = latency["blocking"] as? [String: Any] ?? [:]
        func count(_ stats: Any?) -> Int? { (stats as? [String: Any])?["count"] as? Int }
        let groups = leak["groups"] as? [[String: Any]] ?? []
        let cycles = leak["cycles"] as? [[String: Any]] ?? []
        let ended = count(latency["lifetime"])
        let sites = (latency["sites"] as? [Any])?.count
        switch name {
        case "leak":
            // 100 goroutines spawned by one `go`, each parked in leakyReceiver on a channel nobody sends to; main
            // returns after one wait on the WaitGroup (1 P: the goroutines run only when it parks).
            #expect(leak["leaked"] as? Int == 100)
            #expect(groups.count == 1 && groups.first?["count"] as? Int == 100 && groups.first?["reason"] as? String == "chan-receive"
                && groups.first?["waitReason"] as? String == "chan receive", "\(groups)")
            #expect((groups.first?["blockedAt"] as? [String])?.first?.hasPrefix("TraceScenarios+0x") == true,
                    "unresolved frames are kept whole, not trimmed")
            #expect(cycles.isEmpty)
            #expect(ended == 1 && sites == 2, "ended \(String(describing: ended)), sites \(String(describing: sites))")
            #expect(count(blocking["waitgroup"]) == 1)
        case "abba":
            // Two goroutines each hold one mutex and wait for the other's; main waits on `done` for ever: three
            // leaked, none ended, one cycle of two mutex waits.
            #expect(leak["leaked"] as? Int == 3)
            #expect(cycles.count == 1 && (cycles.first?["goroutines"] as? [Int])?.count == 2, "\(cycles)")
            #expect(groups.filter { $0["reason"] as? String == "mutex" }.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 2)
            #expect(groups.filter { $0["reason"] as? String == "waitgroup" }.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 1)
            #expect(ended == 0 && sites == 3, "ended \(String(describing: ended)), sites \(String(describing: sites))")
        case "workerpool":
            // Main, 4 workers, the producer and the closer all end; nothing leaks.
            #expect(leak["leaked"] as? Int == 0 && groups.isEmpty && cycles.isEmpty)
            #expect(ended == 7 && sites == 4, "ended \(String(describing: ended)), sites \(String(describing: sites))")
        case "sleepers":
            // 5 goroutines × 10 sleeps of 20 ms; all end, with main. A sleep is never shorter than asked, less
            // the instants between arming its timer and tracing its park.
            #expect(leak["leaked"] as? Int == 0 && groups.isEmpty)
            let sleep = blocking["sleep"] as? [String: Any]
            #expect(count(sleep) == 50, "\(String(describing: sleep))")
            #expect((sleep?["p50Ns"] as? Int ?? 0) >= 19_800_000, "\(String(describing: sleep))")
            #expect(ended == 6 && sites == 2, "ended \(String(describing: ended)), sites \(String(describing: sites))")
        default:
            Issue.record("no known answers for \(name)")
        }
    }
}

/// Trimming on symbolized frame text (StackTrimming), independent of any binary.
@Suite struct StackTrimmingTests {
    static let blocked = [
        "GoRuntime.Scheduler.(switchToScheduler in _B26)(GoRuntime.Goroutine, GoRuntime.Machine) -> () + 0x50 (P)",
        "GoRuntime.Scheduler.park(_: GoRuntime.WaitReason, unlocking: Swift.Optional<Swift.UnsafeMutablePointer<__C.gort_lock_t>>, timer: Swift.Optional<GoRuntime.RuntimeTimer>) -> () + 0x1c7 (P)",
        "GoRuntime.RuntimeSemaphore.acquire(_: GoRuntime.WaitReason, lifo: Swift.Bool) -> () + 0x17d (P)",
        "Swift.withUnsafeMutablePointer<A, B, C>(to: inout A, _: (inout A) throws(C) -> B) throws(C) -> B + 0x20 (libswiftCore.so)",
        "GoRuntime.Mutex.(lockSlow in _E4A)() -> () + 0x969 (P)",
        "GoRuntime.Mutex.lock() -> () + 0x7b (P)",
        "P.lockBoth(GoRuntime.Mutex, GoRuntime.Mutex, GoRuntime.WaitGroup) -> () + 0x59 (P)",
        "closure #1 @Sendable () -> () in closure #8 () -> () in P + 0x42 (P)",
        "thunk for @escaping @callee_guaranteed @Sendable () -> () + 0x10 (P)",
        "GoRuntime.(runBody in _B26)(Swift.UnsafeMutableRawPointer) -> () + 0xce (P)",
        "@objc GoRuntime.(goroutineMain in _B26)(Swift.Optional<Swift.UnsafeMutableRawPointer>) -> () + 0x9 (P)",
        "gort_context_trampoline + 0x6 (P)",
    ]

    @Test func keepsTheUsersCallIntoTheRuntimeAndDropsTheEntry() {
        let trimmed = StackTrimming.userFrames(StackTrimmingTests.blocked)
        #expect(trimmed == Array(StackTrimmingTests.blocked[5...7]))
        #expect(StackTrimming.userFrames(StackTrimmingTests.blocked, keepRuntimeEntry: false) == Array(StackTrimmingTests.blocked[6...7]))
    }

    @Test func classifiesClosuresSpecializationsAndWitnessesByOwner() {
        #expect(StackTrimming.classify("closure #1 () throws -> A in GoRuntime.(RunBox in _B24).execute() -> () + 0x4a (P)") == .runtime)
        #expect(StackTrimming.classify("generic specialization <Swift.Int> of GoRuntime.Channel.receive() -> A? + 0x1 (P)") == .runtime)
        #expect(StackTrimming.classify("protocol witness for Swift.IteratorProtocol.next() -> A.Element? in conformance GoRuntime.Channel<A>.Iterator : Swift.IteratorProtocol in GoRuntime + 0x5 (P)") == .runtime)
        #expect(StackTrimming.classify("closure #1 (GoRuntime.Channel<Swift.Int>) -> () in P.main() + 0x3 (P)") == .user)
        #expect(StackTrimming.classify("__libc_start_call_main + 0x7a (libc.so.6)") == .glue)
        #expect(StackTrimming.classify("P+0x1234") == .unresolved)
        #expect(StackTrimming.classify("0x7f0012345678") == .unresolved)
    }

    @Test func leavesUnresolvedStacksWhole() {
        let frames = ["P+0x10", "P+0x20", "__libc_start_call_main + 0x7a (libc.so.6)"]
        #expect(StackTrimming.userFrames(frames) == frames)
    }
}
