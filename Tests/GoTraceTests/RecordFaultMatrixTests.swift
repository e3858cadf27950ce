import Foundation
import GoTrace
import GotraceTestSupport
import Testing

/// The fault matrix of `gotrace record` (docs/reliability.md): for each way a recording can end, the
/// recorder's exit status, whether the trace reads back and is flagged complete, that no process of the
/// run is left behind, and that the output directory holds nothing but the trace.
///
/// "Left behind" is checked without trusting any pid the programs report: every run gets a unique
/// environment variable, which the program inherits from the recorder, and afterwards no process in /proc
/// may still carry it.
@Suite
struct RecordFaultMatrixTests {
    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        case programExits0, programExits3, programCallsFatalError, programSegfaults, programAborts
        case programSIGKILLed, recorderGetsSIGINT, recorderGetsSIGTERM, recorderSIGKILLed
        case diskFull, outputNotWritable, programCannotStart

        var testDescription: String { rawValue }
    }

    /// What a fault must leave.
    struct Expectation {
        /// Acceptable exit statuses of `gotrace record` (shell convention: 128+N for signal N).
        var statuses: Set<Int32>
        /// nil: no trace file at all.
        var complete: Bool?
        /// Park events the trace must hold at least (what was flushed before the fault).
        var minimumParks = 0
    }

    static func expectation(_ fault: Fault) -> Expectation {
        switch fault {
        case .programExits0: Expectation(statuses: [0], complete: true, minimumParks: 2_000)
        case .programExits3: Expectation(statuses: [3], complete: true, minimumParks: 2_000)
        // The Swift runtime's trap is SIGILL or SIGTRAP depending on how it is lowered.
        case .programCallsFatalError: Expectation(statuses: [128 + SIGILL, 128 + SIGTRAP], complete: false, minimumParks: 20_000)
        case .programSegfaults: Expectation(statuses: [128 + SIGSEGV], complete: false, minimumParks: 20_000)
        case .programAborts: Expectation(statuses: [128 + SIGABRT], complete: false, minimumParks: 20_000)
        // The signal cases stop a program that printed "ready" after 20 000 round trips (40 000 parks). After
        // SIGKILL what each M wrote since the last periodic flush (Tracer.periodicFlush, every 250 ms) is lost
        // with the program, the rest is not (SignalFlushTests checks the periodic flush itself); SIGINT and
        // SIGTERM flush every M first (TraceSignalFlush.swift) and end the trace properly.
        case .programSIGKILLed: Expectation(statuses: [128 + SIGKILL], complete: false, minimumParks: 20_000)
        case .recorderGetsSIGINT: Expectation(statuses: [128 + SIGINT], complete: true, minimumParks: 40_000)
        case .recorderGetsSIGTERM: Expectation(statuses: [128 + SIGTERM], complete: true, minimumParks: 40_000)
        case .recorderSIGKILLed: Expectation(statuses: [128 + SIGKILL], complete: false, minimumParks: 20_000)
        // The program runs to its end (status 0); the recorder reports the failed write with status 1.
        case .diskFull: Expectation(statuses: [1], complete: false, minimumParks: 1)
        case .outputNotWritable: Expectation(statuses: [1], complete: nil)
        case .programCannotStart: Expectation(statuses: [127], complete: nil)
        }
    }

    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")

    @Test(arguments: Fault.allCases)
    func recordingSurvives(_ fault: Fault) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("trace.gtrace").path
        let token = UUID().uuidString
        let expected = RecordFaultMatrixTests.expectation(fault)

        let outcome = try provoke(fault, trace: trace, directory: directory, token: token)
        #expect(expected.statuses.contains(outcome.status),
                "\(fault): gotrace record exited with \(outcome.status); stderr: \(outcome.standardError)")

        // No orphan: nothing still runs with this run's token in its environment.
        let lingering = processesCarrying(token: token, waitingUpTo: 10)
        #expect(lingering.isEmpty, "\(fault): processes left running: \(lingering)")

        // No stray temporary file: the directory holds the trace or nothing.
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(entries == (expected.complete == nil ? [] : ["trace.gtrace"]), "\(fault): directory holds \(entries)")

        guard let complete = expected.complete else { return }
        let stat = try run(gotrace, ["stat", "--format", "json", trace])
        #expect(stat.status == 0, "\(fault): the trace does not read back: \(stat.standardError)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(stat.standardOutput.utf8)) as? [String: Any])
        #expect(stats["complete"] as? Bool == complete, "\(fault): complete flag")
        let parks = ((stats["eventsByKind"] as? [String: Any])?["park"] as? Int) ?? 0
        #expect(parks >= expected.minimumParks, "\(fault): \(parks) parks read back")
        #expect(stats["droppedEvents"] as? Int == 0)
        if complete {
            let check = try run(gotrace, ["stat", "--check", trace])
            #expect(check.status == 0, "\(fault): \(check.standardError)")
        }
    }

    /// Runs the recording for `fault`; returns the recorder's status and stderr.
    private func provoke(_ fault: Fault, trace: String, directory: URL, token: String) throws -> ProcessResult {
        let environment = ["GOTRACE_FAULT_TOKEN": token]
        func record(_ arguments: [String]) throws -> ProcessResult {
            let outcome = try runProcess(gotrace, ["record", "-o", trace, "--", scenarios] + arguments,
                                         environment: environment, in: directory)
            return ProcessResult(status: outcome.shellStatus, standardOutput: outcome.output, standardError: outcome.error)
        }
        switch fault {
        case .programExits0: return try record(["exit", "0"])
        case .programExits3: return try record(["exit", "3"])
        case .programCallsFatalError: return try record(["fatal"])
        case .programSegfaults: return try record(["segfault"])
        case .programAborts: return try record(["abort"])
        case .programSIGKILLed:
            return try recordUntilReady(trace: trace, environment: environment) { _, program in kill(program, SIGKILL) }
        case .recorderGetsSIGINT:
            return try recordUntilReady(trace: trace, environment: environment) { recorder, _ in kill(recorder, SIGINT) }
        case .recorderGetsSIGTERM:
            return try recordUntilReady(trace: trace, environment: environment) { recorder, _ in kill(recorder, SIGTERM) }
        case .recorderSIGKILLed:
            return try recordUntilReady(trace: trace, environment: environment) { recorder, _ in kill(recorder, SIGKILL) }
        case .diskFull:
            // RLIMIT_FSIZE on the recorder (sh's ulimit counts 512- or 1024-byte blocks: 64 or 128 KiB), far
            // below the ~1 MB this program's trace takes.
            let outcome = try runProcess("/bin/sh", ["-c", "ulimit -f 128 && exec \"$0\" \"$@\"", gotrace,
                                                     "record", "-o", trace, "--", scenarios, "pingpong", "200000"],
                                         environment: environment, in: directory)
            #expect(outcome.error.contains("gotrace record: error: cannot write \(trace): write failed: File too large"),
                    "a clear error: \(outcome.error)")
            return ProcessResult(status: outcome.shellStatus, standardOutput: outcome.output, standardError: outcome.error)
        case .programCannotStart:
            let outcome = try runProcess(gotrace, ["record", "-o", trace, "--", directory.path + "/no-such-program"],
                                         environment: environment, in: directory)
            #expect(outcome.error.hasPrefix("gotrace record: cannot run \(directory.path)/no-such-program: No such file or directory"),
                    "\(outcome.error)")
            return ProcessResult(status: outcome.shellStatus, standardOutput: outcome.output, standardError: outcome.error)
        case .outputNotWritable:
            let marker = directory.appendingPathComponent("program-ran")
            // The output directory does not exist; the program would create the marker if it ever ran.
            let outcome = try runProcess(gotrace, ["record", "-o", directory.path + "/missing/trace.gtrace", "--",
                                                   "/bin/sh", "-c", "touch '\(marker.path)'"],
                                         environment: environment, in: directory)
            #expect(outcome.error.hasPrefix("gotrace record: cannot write \(directory.path)/missing/trace.gtrace: No such file or directory"))
            #expect(!FileManager.default.fileExists(atPath: marker.path), "the program never ran")
            // A directory as the output fails the same way.
            let onDirectory = try runProcess(gotrace, ["record", "-o", directory.path, "--", "/bin/sh", "-c",
                                                       "touch '\(marker.path)'"], environment: environment)
            #expect(onDirectory.shellStatus == 1)
            #expect(onDirectory.error.hasPrefix("gotrace record: cannot write \(directory.path): Is a directory"))
            #expect(!FileManager.default.fileExists(atPath: marker.path), "the program never ran")
            return ProcessResult(status: outcome.shellStatus, standardOutput: outcome.output, standardError: outcome.error)
        }
    }

    /// Records `TraceScenarios hang 20000`, waits for its "ready pid=N" line (no sleeping: the line comes
    /// after the program's work, so its events are in flushed chunks), then applies `fault` to the recorder
    /// or the program and waits for the recorder to end.
    private func recordUntilReady(trace: String, environment: [String: String],
                                  fault: (_ recorder: pid_t, _ program: pid_t) -> Void) throws -> ProcessResult {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-fault-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let launched = try launchUntilFirstLine(gotrace, ["record", "-o", trace, "--", scenarios, "hang", "20000"],
                                                environment: environment, standardError: try FileHandle(forWritingTo: errors))
        if let program = launched.announcedPID {
            fault(launched.process.processIdentifier, program)
        } else {
            Issue.record("the program never said it was ready: \(launched.firstLine)")
            kill(launched.process.processIdentifier, SIGKILL)
        }
        let status = launched.waitForShellStatus()
        return ProcessResult(status: status, standardOutput: launched.firstLine,
                             standardError: (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
    }
}

/// Pids of the processes whose environment holds `GOTRACE_FAULT_TOKEN=<token>`, after waiting up to
/// `seconds` for them to go (a parent-death signal is delivered asynchronously). Zombies have an empty
/// environment, so a dead but not yet reaped process does not count.
func processesCarrying(token: String, waitingUpTo seconds: Double) -> [Int32] {
    let needle = Data("GOTRACE_FAULT_TOKEN=\(token)\0".utf8)
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        var found: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ")
            else { continue }
            if environment.range(of: needle) != nil { found.append(pid) }
        }
        if found.isEmpty || Date() > deadline { return found }
        usleep(20_000)
    }
}
