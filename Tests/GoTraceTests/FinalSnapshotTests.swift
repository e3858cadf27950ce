import Foundation
import GoTrace
import GotraceTestSupport
import Testing

/// The final snapshot of a recording stopped while everything runs is exact: the runtime stops the world
/// for it (Scheduler+WorldStop.swift), so `gotrace stat --check` reconciles every goroutine — none spawns,
/// parks, wakes or ends between the snapshot and the end of the trace.
///
/// The workload is the soak's (TraceScenarios/Soak.swift): spawn churn, channels, select with timeouts,
/// mutexes, timers, TCP on loopback and a goroutine in and out of `Runtime.blockingCall` — on 2 Ps. Each test
/// stops five recordings mid-workload. Before the world stop, each such stop had a fair chance to catch a
/// goroutine changing state after the snapshot (and a goroutine in a blocking call was shown running, not in
/// a syscall), so five in a row all but never passed.
@Suite
struct FinalSnapshotTests {
    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")
    static let recordings = 5

    /// `Trace.stop()` from a goroutine while the others run, five times in one process; the program carries
    /// on after each stop (the next recording starts) and ends normally.
    @Test func traceStopMidWorkloadReconciles() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("gotrace-stops-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try runProcess(scenarios, ["soakstops", "\(Self.recordings)", directory.path])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        // The workload went on after the last stop and ended cleanly.
        #expect(outcome.output.contains("soak done:"), "\(outcome.output)")
        for index in 0..<Self.recordings {
            let trace = directory.appendingPathComponent("stop-\(index).gtrace").path
            #expect(outcome.output.contains("soakstops: recorded \(trace)"), "\(outcome.output)")
            try expectReconciles(trace, "recording \(index)")
        }
    }

    /// A recording started by a goroutine (`Trace.start` inside `Runtime.run`) while another M runs with its
    /// P: both Ps run through the start, and each must start in the recording (`proc-start`) before its M's
    /// goroutines start, park or end in it — else their events belong to no P, and every analysis shows the
    /// P idle (a CI run once reported "busy 0%" for a program that only spun).
    @Test func everyPThatRunsThroughTheStartStartsInTheRecording() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(scenarios, ["startinside", trace])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        #expect(outcome.output.contains("startinside: done"), "\(outcome.output)")
        let reader = TraceReader(path: trace)
        var holdsProcessor: [UInt64: Bool] = [:]
        var goroutineEvents = 0
        var withoutProcessor: [String] = []
        while let event = reader.next() {
            switch event.kind {
            case .procStart: holdsProcessor[event.machine] = true
            case .procStop: holdsProcessor[event.machine] = false
            case .start, .park, .end:
                goroutineEvents += 1
                if holdsProcessor[event.machine] != true, withoutProcessor.count < 5 {
                    withoutProcessor.append("\(event.spec.name) at \(event.nanoseconds) ns on M\(event.machine)")
                }
            default: break
            }
        }
        #expect(reader.isComplete)
        #expect(goroutineEvents > 1_000, "the ping-pong and the yields are in the trace")
        #expect(withoutProcessor.isEmpty, "goroutine events on an M that holds no P in the trace: \(withoutProcessor)")
        #expect(Set(holdsProcessor.keys).count >= 2, "both Ms started a P: \(holdsProcessor)")
    }

    /// SIGTERM to `gotrace record` while the soak runs (the signal-flush thread stops the recording), five
    /// times.
    @Test func sigtermMidWorkloadReconciles() throws {
        for attempt in 0..<Self.recordings {
            let trace = temporaryTracePath()
            defer { try? FileManager.default.removeItem(atPath: trace) }
            let status = try recordSoakAndTerminate(trace: trace)
            #expect(status == 128 + SIGTERM, "attempt \(attempt)")
            let reader = TraceReader(path: trace)
            while reader.next() != nil {}
            #expect(reader.isComplete, "attempt \(attempt)")
            #expect(reader.endChunk?.endSignal == UInt64(SIGTERM), "attempt \(attempt)")
            try expectReconciles(trace, "attempt \(attempt)")
        }
    }

    /// An M that cannot be stopped — its goroutine spins in a loop without runtime calls, asynchronous
    /// preemption off — bounds the world stop instead of hanging it: `Trace.start` and `Trace.stop` return,
    /// the trace is complete and says (in a `runtime` log event) that the snapshots may not be exact, and the
    /// program carries on once the spinner ends.
    @Test func anMThatNeverStopsBoundsTheStopAndTheTraceSaysSo() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(scenarios, ["spinstop", trace])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        #expect(outcome.output.contains("spinstop: done"), "\(outcome.output)")
        let reader = TraceReader(path: trace)
        var messages: [String] = []
        while let event = reader.next() {
            guard event.kind == .log, let id = event.argument("message")?.number, let text = reader.strings[id] else {
                continue
            }
            messages.append(text)
        }
        #expect(reader.isComplete)
        for what in ["start", "stop"] {
            let expected = "trace \(what): 1 M(s) did not stop within 1000 ms; the snapshot may not be exact"
            #expect(messages.contains(expected), "\(messages)")
        }
    }

    /// A goroutine inside `Runtime.blockingCall` when the recording stops — a call that ends only after the
    /// stop has returned — neither holds the stop up nor loses its M's events: the M counts as stopped, and
    /// the stopper flushes its buffer (its ping-pong and its `syscall-enter`). Before, the stop waited for
    /// the call until its bound, gave up ("did not stop") and lost that M's partial chunk.
    @Test func aGoroutineInABlockingCallDoesNotHoldTheStopUp() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(scenarios, ["blockstop", trace])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        #expect(outcome.output.contains("blockstop: done"), "\(outcome.output)")
        let reader = TraceReader(path: trace)
        var messages: [String] = []
        var syscallEnters = 0
        while let event = reader.next() {
            if event.kind == .syscallEnter { syscallEnters += 1 }
            guard event.kind == .log, let id = event.argument("message")?.number, let text = reader.strings[id] else {
                continue
            }
            messages.append(text)
        }
        #expect(reader.isComplete)
        #expect(syscallEnters == 1, "the blocking call's syscall-enter was flushed from its M")
        #expect(!messages.contains { $0.contains("did not stop") }, "\(messages)")
        // The scenario's two `go`s (the blocker, pingPong's responder) and pingPong's 100 round trips, each of
        // which parks both sides.
        try expectReconciles(trace, "blockstop", minimumSpawned: 2, minimumParks: 200)
    }

    /// `gotrace stat --check` passes on `trace`, which saw real work (by default the soak's: more than a
    /// hundred goroutines spawned and a thousand parks).
    private func expectReconciles(_ trace: String, _ label: String, minimumSpawned: Int = 101,
                                  minimumParks: Int = 1_001) throws {
        let checked = try run(gotrace, ["stat", "--check", "--format", "json", trace])
        #expect(checked.status == 0, "\(label): \(checked.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8))
        let check = try #require((json as? [String: Any])?["check"] as? [String: Any], "\(label)")
        #expect(check["passed"] as? Bool == true, "\(label): \(check["mismatches"] ?? "")")
        #expect((check["spawned"] as? Int ?? 0) >= minimumSpawned, "\(label): \(check)")
        #expect((check["parks"] as? Int ?? 0) >= minimumParks, "\(label): \(check)")
        #expect(check["droppedEvents"] as? Int == 0, "\(label)")
    }

    /// Records `TraceScenarios soak 30`, lets it run for a second once it has started, sends SIGTERM to the
    /// recorder and returns the recorder's status (128 + N when killed by signal N).
    private func recordSoakAndTerminate(trace: String) throws -> Int32 {
        let launched = try launchUntilFirstLine(gotrace, ["record", "-o", trace, "--", scenarios, "soak", "30"],
                                                standardError: FileHandle.nullDevice)
        if launched.firstLine.contains("soak pid=") {
            // Not a timing under test: the workload only needs to be in full swing when the signal lands.
            usleep(1_000_000)
            kill(launched.process.processIdentifier, SIGTERM)
        } else {
            Issue.record("the soak never started: \(launched.firstLine)")
            kill(launched.process.processIdentifier, SIGKILL)
        }
        return launched.waitForShellStatus()
    }
}
