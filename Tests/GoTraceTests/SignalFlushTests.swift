import Foundation
import GoTrace
import GotraceTestSupport
import Testing

/// What a recording keeps when the program is told to terminate or crashes (TraceSignalFlush.swift,
/// docs/reliability.md): every M's partial chunk, not just the full ones.
///
/// `TraceScenarios markers 300` runs two workers on two Ps; each logs 300 steps and then, while both run
/// at once on two Ms, `worker K done`. Those last messages sit in the two Ms' partial chunks (a chunk
/// holds ~64 KiB; the whole run writes a few KiB). The signal tests turn the periodic flush off
/// (GOTRACE_FLUSH_INTERVAL=0), so nothing else writes an idle M's buffer before the trace stops: without
/// the flush on the signal the messages are lost, and they fail. The SIGKILL test keeps it on.
@Suite
struct SignalFlushTests {
    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")

    enum Delivery: String, CaseIterable, CustomTestStringConvertible {
        /// Sent to the recorder, which forwards it to the program.
        case sigtermToRecorder, sigintToRecorder
        /// Sent to the program itself (the recorder forwards only INT and TERM).
        case sighupToProgram

        var signal: Int32 {
            switch self {
            case .sigtermToRecorder: SIGTERM
            case .sigintToRecorder: SIGINT
            case .sighupToProgram: SIGHUP
            }
        }

        var testDescription: String { rawValue }
    }

    @Test(arguments: Delivery.allCases)
    func aTerminatingSignalFlushesEveryM(_ delivery: Delivery) throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try recordUntilReady(trace: trace, arguments: ["markers", "300"]) { recorder, program in
            kill(delivery == .sighupToProgram ? program : recorder, delivery.signal)
        }
        // The program still dies by the signal, and the recorder passes that on.
        #expect(outcome.status == 128 + delivery.signal, "\(outcome.standardError)")
        #expect(outcome.standardError.contains(", complete, output"), "\(outcome.standardError)")

        let reader = TraceReader(path: trace)
        let messages = logMessages(reader)
        #expect(reader.isComplete)
        #expect(reader.endChunk?.endSignal == UInt64(delivery.signal))
        for worker in 0..<2 {
            #expect(messages["worker \(worker) step 299"] != nil, "the last step of worker \(worker)")
            #expect(messages["worker \(worker) done"] != nil, "worker \(worker)'s marker, of \(messages.count)")
        }
        let doneMachines = Set((0..<2).compactMap { messages["worker \($0) done"] })
        #expect(doneMachines.count == 2, "the two markers come from two Ms: \(doneMachines)")

        // The trace reconciles, and stat names the signal.
        let check = try run(gotrace, ["stat", "--check", trace])
        #expect(check.status == 0, "\(check.standardError)")
        #expect(check.standardOutput.contains("ended by signal:        \(delivery.signal)"), "\(check.standardOutput)")
        let json = try run(gotrace, ["stat", "--format", "json", trace])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8))
        let stats = try #require(object as? [String: Any])
        #expect(stats["endSignal"] as? Int == Int(delivery.signal))
    }

    /// A crash on one M: the crash handler writes the crashing M's buffer, and the flush thread the other
    /// (idle) M's, before the crash is handed on. The trace stays incomplete: no end chunk after a crash.
    @Test func aCrashFlushesTheOtherMs() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(gotrace, ["record", "-o", trace, "--", scenarios, "markers", "300", "abort"],
                                     environment: ["SWIFT_BACKTRACE": "enable=no", "GOTRACE_FLUSH_INTERVAL": "0"])
        #expect(outcome.shellStatus == 128 + SIGABRT, "\(outcome.error)")
        let reader = TraceReader(path: trace)
        let messages = logMessages(reader)
        #expect(!reader.isComplete)
        for worker in 0..<2 {
            #expect(messages["worker \(worker) done"] != nil, "worker \(worker)'s marker, of \(messages.count)")
        }
        #expect(Set((0..<2).compactMap { messages["worker \($0) done"] }).count == 2)
    }

    /// SIGKILL runs no code of the program's: what its Ms held is lost, but the periodic flush (every
    /// 250 ms by default, Tracer.periodicFlush) has written every M's partial chunk since, idle ones
    /// included. The program is killed 2 s after it went quiet, so both markers must be in the trace.
    @Test func aKilledProgramKeepsWhatThePeriodicFlushWrote() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try recordUntilReady(trace: trace, arguments: ["markers", "300"], periodicFlush: true) { _, program in
            usleep(2_000_000)
            kill(program, SIGKILL)
        }
        #expect(outcome.status == 128 + SIGKILL, "\(outcome.standardError)")
        let reader = TraceReader(path: trace)
        let messages = logMessages(reader)
        #expect(!reader.isComplete)
        for worker in 0..<2 {
            #expect(messages["worker \(worker) step 299"] != nil, "the last step of worker \(worker)")
            #expect(messages["worker \(worker) done"] != nil, "worker \(worker)'s marker, of \(messages.count)")
        }
        #expect(Set((0..<2).compactMap { messages["worker \($0) done"] }).count == 2)
    }

    /// A GOTRACE_FLUSH_INTERVAL the runtime cannot use is named in a warning, and the default applies.
    @Test func anUnusableFlushIntervalIsNamedAndIgnored() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        for value in ["soon", "-5"] {
            let outcome = try runProcess(gotrace, ["record", "-o", trace, "--", scenarios, "pingpong", "100"],
                                         environment: ["GOTRACE_FLUSH_INTERVAL": value])
            #expect(outcome.shellStatus == 0, "\(outcome.error)")
            #expect(outcome.error.contains("gotrace runtime: warning: ignoring GOTRACE_FLUSH_INTERVAL=\(value)"),
                    "\(outcome.error)")
            #expect(TraceReader(path: trace).isComplete)
        }
    }

    /// A program with its own SIGTERM handler keeps it: the runtime installs nothing over it, so the
    /// program's handler decides (here: `_exit(7)`, which writes no end chunk).
    @Test func aProgramsOwnHandlerIsLeftAlone() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try recordUntilReady(trace: trace, arguments: ["markers", "300", "own-handler"]) { recorder, _ in
            kill(recorder, SIGTERM)
        }
        #expect(outcome.status == 7, "\(outcome.standardError)")
        #expect(!TraceReader(path: trace).isComplete)
    }

    /// Log messages in the trace, each with the M that logged it.
    private func logMessages(_ reader: TraceReader) -> [String: UInt64] {
        var messages: [String: UInt64] = [:]
        while let event = reader.next() {
            guard event.kind == .log, let id = event.argument("message")?.number else { continue }
            if let text = reader.strings[id] { messages[text] = event.machine }
        }
        return messages
    }

    /// Records `TraceScenarios ARGUMENTS`, waits for its "ready pid=N" line, applies `signal` and waits
    /// for the recorder to end.
    private func recordUntilReady(trace: String, arguments: [String], periodicFlush: Bool = false,
                                  signal: (_ recorder: pid_t, _ program: pid_t) -> Void) throws -> ProcessResult {
        let errors = Pipe()
        let launched = try launchUntilFirstLine(gotrace, ["record", "-o", trace, "--", scenarios] + arguments,
                                                environment: periodicFlush ? [:] : ["GOTRACE_FLUSH_INTERVAL": "0"],
                                                standardError: errors)
        if let program = launched.announcedPID {
            signal(launched.process.processIdentifier, program)
        } else {
            Issue.record("the program never said it was ready: \(launched.firstLine)")
            kill(launched.process.processIdentifier, SIGKILL)
        }
        let standardError = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = launched.waitForShellStatus()
        return ProcessResult(status: status, standardOutput: launched.firstLine, standardError: standardError)
    }
}
