import Foundation
import GotraceTestSupport
import Testing
@testable import GoTrace

/// Runs the built `gotrace` and `TraceFixtureEmitter` executables, as a user would.
enum BuiltProducts {
    /// The package root, from this file's path (Tests/GoTraceTests/<file>).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The path of built executable `name`, nil (so `#require` fails the test, naming it) when it is not
    /// built where GotraceTestSupport's `BuiltProduct` looks.
    static func path(_ name: String) -> String? {
        FileManager.default.isExecutableFile(atPath: BuiltProduct.path(name)) ? BuiltProduct.path(name) : nil
    }
}

struct ProcessResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs `executable` with `arguments` in `directory` (GotraceTestSupport.runProcess); the status follows the
/// shell's convention (128 + N for signal N).
func run(_ executable: String, _ arguments: [String], in directory: URL = BuiltProducts.packageRoot) throws
    -> ProcessResult
{
    let outcome = try runProcess(executable, arguments, in: directory)
    return ProcessResult(status: outcome.shellStatus, standardOutput: outcome.output, standardError: outcome.error)
}

func temporaryTracePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-\(UUID().uuidString).gtrace").path
}

@Suite
struct GoldenTraceTests {
    static let goldenNames = ["basic-v2", "basic", "truncated", "corrupt"]

    /// `gotrace dump traces/NAME.gtrace` must print exactly traces/NAME.dump.txt (stdout) and
    /// traces/NAME.stderr.txt (stderr). Regenerate with traces/regenerate.sh when the format changes.
    @Test(arguments: goldenNames)
    func dumpMatchesGoldenOutput(name: String) throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let result = try run(gotrace, ["dump", "traces/\(name).gtrace"])
        let root = BuiltProducts.packageRoot.appendingPathComponent("traces")
        let expectedOut = try String(contentsOf: root.appendingPathComponent("\(name).dump.txt"), encoding: .utf8)
        let expectedErr = try String(contentsOf: root.appendingPathComponent("\(name).stderr.txt"), encoding: .utf8)
        #expect(result.standardOutput == expectedOut)
        #expect(result.standardError == expectedErr)
        #expect(result.status == 0)
    }

    /// The same emitter's trace in both formats (traces/regenerate.sh) reads to the same events: the format-2
    /// golden's dump is the format-1 golden's, line for line, but for the snapshots' `waited` argument, which the
    /// format-1 file predates (its kind table gives `snapshot` four arguments).
    @Test func bothFormatsOfTheBasicTraceReadTheSame() throws {
        let root = BuiltProducts.packageRoot.appendingPathComponent("traces")
        func header(_ name: String) throws -> (version: UInt16, lines: [String]) {
            let bytes = try [UInt8](Data(contentsOf: root.appendingPathComponent("\(name).gtrace")))
            let dump = try String(contentsOf: root.appendingPathComponent("\(name).dump.txt"), encoding: .utf8)
            return (UInt16(bytes[8]) | UInt16(bytes[9]) << 8, dump.split(separator: "\n").map(String.init))
        }
        let version1 = try header("basic")
        let version2 = try header("basic-v2")
        #expect(version1.version == 1 && version2.version == 2)
        let withoutWaited = version2.lines.map { $0.replacingOccurrences(of: " waited=0", with: "") }
        #expect(withoutWaited == version1.lines)
        #expect(version2.lines.filter { $0.contains(" snapshot ") && $0.hasSuffix(" waited=0") }.count == 2)
    }

    @Test func goldenTracesHaveTheExpectedShape() throws {
        let root = BuiltProducts.packageRoot.appendingPathComponent("traces")
        let basic = TraceSummary(reading: TraceReader(path: root.appendingPathComponent("basic.gtrace").path))
        #expect(basic.complete && basic.diagnostics.isEmpty)
        // Every built-in kind occurs in the basic trace.
        for spec in EventKindSpec.builtIn { #expect(basic.eventsByKind[spec.name] != nil, "\(spec.name)") }
        #expect(basic.machines == 3)
        let truncated = TraceSummary(reading: TraceReader(path: root.appendingPathComponent("truncated.gtrace").path))
        #expect(!truncated.complete && truncated.events > 0 && truncated.events < basic.events)
        let corrupt = TraceSummary(reading: TraceReader(path: root.appendingPathComponent("corrupt.gtrace").path))
        #expect(corrupt.complete && corrupt.corruptChunksSkipped == 1 && corrupt.events < basic.events)
    }

    /// The golden files were written by gotrace itself, so matching them proves only that nothing changed. These
    /// answers come from TraceFixtureEmitter's source instead (Tests/Fixtures/TraceFixtureEmitter/main.swift),
    /// for `--rounds 6` as traces/regenerate.sh runs it: the tables (8 strings, 3 stacks), 7 setup events
    /// (module, clock-sync, 3 proc-start, snapshot, goroutine-label), 19 events per round, 5 at the end
    /// (snapshot, events-lost, 3 proc-stop). Its clock advances 1 tick per table entry, 37 per event and 200
    /// for each syscall-exit, at 1 tick per nanosecond.
    @Test func goldenDumpsHoldTheEmittersKnownAnswers() throws {
        let rounds = 6
        let root = BuiltProducts.packageRoot.appendingPathComponent("traces")
        func eventLines(_ name: String) throws -> [Substring] {
            try String(contentsOf: root.appendingPathComponent("\(name).dump.txt"), encoding: .utf8).split(separator: "\n")
        }
        func kind(_ line: Substring) -> Substring { line.split(separator: " ").dropFirst(4).first ?? "" }
        let basic = try eventLines("basic")
        #expect(basic.count == 8 + 3 + 7 + 19 * rounds + 5)
        var expectedKinds: [Substring: Int] = ["string": 8, "stack": 3, "module": 1, "clock-sync": 1, "proc-start": 3,
                                               "snapshot": 2, "goroutine-label": 1, "events-lost": 1, "proc-stop": 3]
        // Per round: spawn, start, region-begin, log, stack-grow, syscall-enter/exit, cpu-sample, mutex-acquire,
        // -release and -wait, park on one M; unpark, start again, preempt, stack-shrink, region-end and end on
        // the waking M; then steal.
        for name in ["spawn", "region-begin", "log", "stack-grow", "syscall-enter", "syscall-exit", "cpu-sample",
                     "mutex-acquire", "mutex-release", "mutex-wait", "park", "unpark", "preempt", "stack-shrink",
                     "region-end", "end", "steal"] { expectedKinds[Substring(name)] = rounds }
        expectedKinds["start"] = 2 * rounds
        #expect(Dictionary(grouping: basic, by: kind).mapValues(\.count) == expectedKinds)
        // The last event's time: 11 table ticks, 7 setup events, 18 events and a syscall per round, 5 at the end.
        let lastTicks = 11 + 7 * 37 + rounds * (18 * 37 + 200) + 5 * 37
        #expect(basic.last?.hasPrefix(String(format: "0.%09d ", lastTicks)) == true, "\(basic.last ?? "")")
        // Goroutines: the main one (g1) and one child per round, g100 onwards.
        let spawned = basic.filter { kind($0) == "spawn" }.compactMap { $0.split(separator: " ").first { $0.hasPrefix("child=") } }
        #expect(spawned == (0..<rounds).map { Substring("child=g\(100 + $0)") })
        // Cutting a trace short or damaging a chunk loses events; it never invents or alters one.
        let known = Set(basic)
        for damaged in ["truncated", "corrupt"] {
            let lines = try eventLines(damaged)
            #expect(lines.count > 0 && lines.count < basic.count, "\(damaged): \(lines.count) lines")
            #expect(lines.allSatisfy(known.contains), "\(damaged): \(lines.filter { !known.contains($0) })")
        }
    }

    @Test func statReportsJSONWithTheKindNames() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let result = try run(gotrace, ["stat", "traces/basic.gtrace", "--format", "json"])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let byKind = try #require(object?["eventsByKind"] as? [String: Int])
        #expect(byKind["park"] == 6)
        #expect(byKind["stack-grow"] == 6)
        #expect(object?["complete"] as? Bool == true)
        #expect(object?["corruptChunksSkipped"] as? Int == 0)
        for key in ["goroutines", "durationNanoseconds", "bytesPerEvent", "chunks", "events"] {
            #expect(object?[key] != nil, "missing \(key)")
        }
    }

    @Test func unreadableInputsExitNonzeroWithOneLine() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let notTrace = try run(gotrace, ["dump", "Package.swift"])
        #expect(notTrace.status == 1)
        #expect(notTrace.standardError == "Package.swift: offset 0: not a gotrace trace (bad magic)\n")
        #expect(notTrace.standardOutput.isEmpty)
        let missing = try run(gotrace, ["stat", "no-such-file.gtrace"])
        #expect(missing.status == 1)
        #expect(missing.standardError.hasPrefix("no-such-file.gtrace: offset 0: cannot open"))
        var newer = try Data(contentsOf: BuiltProducts.packageRoot.appendingPathComponent("traces/basic.gtrace"))
        newer[8] = 3
        let newerPath = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: newerPath) }
        try newer.write(to: URL(fileURLWithPath: newerPath))
        let future = try run(gotrace, ["stat", newerPath])
        #expect(future.status == 1)
        #expect(future.standardError == "\(newerPath): offset 8: unsupported format version 3 (this build reads up to 2)\n")
    }
}

@Suite
struct RecordCommandTests {
    func record(_ fixtureArguments: [String], output: String) throws -> ProcessResult {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let fixture = try #require(BuiltProducts.path("TraceFixtureEmitter"))
        return try run(gotrace, ["record", "-o", output, "--", fixture] + fixtureArguments)
    }

    @Test func normalExitStatusPassesThroughAndTraceIsComplete() throws {
        let output = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try record(["--rounds", "300", "--exit", "3"], output: output)
        #expect(result.status == 3)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1)
        let summary = String(lines.first ?? "")
        #expect(summary.hasPrefix("gotrace record: "))
        for part in ["events", "bytes/event", "dropped", " s, complete", "output \(output)"] {
            #expect(summary.contains(part), "summary lacks \(part): \(summary)")
        }
        let reader = TraceReader(path: output)
        let stats = TraceSummary(reading: reader)
        #expect(stats.complete && stats.diagnostics.isEmpty)
        #expect(summary.contains("\(stats.events) events"))
        #expect(stats.eventChunks > 3)
    }

    @Test func fatalErrorChildLeavesAReadableIncompleteTrace() throws {
        let output = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try record(["--rounds", "300", "--fatal"], output: output)
        #expect(result.status > 128)  // SIGILL or SIGTRAP, depending on how the trap is lowered
        #expect(result.standardError.contains("incomplete"))
        let stats = TraceSummary(reading: TraceReader(path: output))
        #expect(!stats.complete)
        #expect(stats.events > 1_000)
        #expect(stats.diagnostics.isEmpty)
    }

    @Test func sigkilledChildLeavesAReadableIncompleteTrace() throws {
        let output = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try record(["--rounds", "300", "--sigkill"], output: output)
        #expect(result.status == 128 + 9)
        #expect(result.standardError.split(separator: "\n").count == 1)
        #expect(result.standardError.contains("incomplete"))
        let stats = TraceSummary(reading: TraceReader(path: output))
        #expect(!stats.complete)
        #expect(stats.events > 1_000)
    }

    @Test func sigtermIsForwardedToTheProgram() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let output = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let ready = temporaryTracePath() + ".ready"
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gotrace)
        // The program announces that its trap is installed, then waits; only a forwarded TERM ends it early.
        process.arguments = ["record", "-o", output, "--", "/bin/sh", "-c",
                             "trap 'exit 7' TERM; touch \(ready); i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 1"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        while !FileManager.default.fileExists(atPath: ready) && process.isRunning { usleep(10_000) }
        process.terminate()  // SIGTERM from another process: forwarded
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 7)
    }

    @Test func readerAcceptsAnOpenDescriptor() throws {
        let path = BuiltProducts.packageRoot.appendingPathComponent("traces/basic.gtrace").path
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let fromDescriptor = TraceSummary(reading: TraceReader(fileDescriptor: descriptor, fileName: path))
        let fromPath = TraceSummary(reading: TraceReader(path: path))
        #expect(fromDescriptor == fromPath)
        #expect(fcntl(descriptor, F_GETFD) >= 0)  // still open: the caller owns it
    }

    @Test func unwritableOutputFailsBeforeTheProgramRuns() throws {
        let marker = temporaryTracePath() + ".ran"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let result = try run(gotrace, ["record", "-o", "/nonexistent-dir/x.gtrace", "--", "/bin/sh", "-c",
                                       "touch \(marker)"])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("gotrace record: cannot write /nonexistent-dir/x.gtrace"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func environmentCarriesTheDescriptorAndRateButNotGotraceOut() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let output = temporaryTracePath()
        let result = try run(gotrace, ["record", "--cpu-rate", "99", "-o", output, "--", "/bin/sh", "-c",
                                       "echo \"fd=${GOTRACE_FD:-} rate=${GOTRACE_CPU_RATE:-} out=${GOTRACE_OUT:-}\""])
        #expect(result.status == 0)
        // A descriptor number above the standard three, then the rate, and no GOTRACE_OUT.
        let descriptor = result.standardOutput.dropFirst("fd=".count).prefix { $0.isNumber }
        #expect(result.standardOutput.hasPrefix("fd=") && (Int(descriptor) ?? 0) > 2, "\(result.standardOutput)")
        #expect(result.standardOutput == "fd=\(descriptor) rate=99 out=\n")
        // Nothing was traced, so no file is left behind.
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

/// Help and usage errors on every subcommand: `--help` and `-h` print the help, a misspelt option is named as
/// an unknown option with the usage (exit 64) and nothing runs — for `record` too, whose program arguments
/// are passed through untouched.
// No gate: a missing gotrace fails each test (`#require`), it is never a silent skip.
@Suite struct CommandLineUsageTests {
    /// Each subcommand with a misspelt option and otherwise valid arguments, so the misspelling is the only
    /// mistake. `record` runs a program that would leave a marker file if it were started.
    static let marker = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-usage-\(UUID().uuidString).ran").path
    static let misspelt: [(subcommand: String, option: String, arguments: [String])] = [
        ("record", "--flight-recordr", ["record", "--flight-recordr", "2s", "-o", marker + ".gtrace", "--",
                                        "/bin/sh", "-c", "touch \(marker)"]),
        ("top", "--iteratons", ["top", "--iteratons", "1", "--", "/bin/sh", "-c", "touch \(marker)"]),
        ("dump", "--formt", ["dump", "--formt", "json", "traces/basic.gtrace"]),
        ("stat", "--fromat", ["stat", "--fromat", "json", "traces/basic.gtrace"]),
        ("report", "--analyser", ["report", "--analyser", "leak", "traces/basic.gtrace"]),
        ("plugins", "--formt", ["plugins", "--formt", "json"]),
        ("export", "--profil", ["export", "--profil", "block", "traces/basic.gtrace", "-o", marker + ".svg"]),
        ("diff", "--profil", ["diff", "--profil", "block", "traces/basic.gtrace", "traces/basic.gtrace", "-o", marker + ".svg"]),
        ("view", "--ouput", ["view", "--ouput", marker + ".html", "traces/basic.gtrace"]),
    ]

    @Test func theTopLevelHelpListsExactlyTheSubcommandsTestedHere() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let result = try run(gotrace, ["--help"])
        #expect(result.status == 0)
        let section = try #require(result.standardOutput.components(separatedBy: "SUBCOMMANDS:\n").last)
        // A subcommand's line is indented two spaces; its wrapped description much further.
        let listed = section.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0 != "See" }
        #expect(Set(listed) == Set(Self.misspelt.map(\.subcommand)), "\(result.standardOutput)")
    }

    @Test(arguments: ["record", "dump", "stat", "report", "plugins", "export", "diff", "view"])
    func helpWorksEveryWay(subcommand: String) throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        for arguments in [[subcommand, "--help"], [subcommand, "-h"], ["help", subcommand]] {
            let result = try run(gotrace, arguments)
            #expect(result.status == 0, "\(arguments): \(result.standardError)")
            #expect(result.standardOutput.hasPrefix("OVERVIEW: "), "\(arguments): \(result.standardOutput)")
            #expect(result.standardOutput.contains("USAGE: gotrace \(subcommand)"), "\(arguments)")
            #expect(result.standardOutput.contains("-h, --help"), "\(arguments)")
            #expect(result.standardError.isEmpty, "\(arguments): \(result.standardError)")
        }
    }

    @Test(arguments: misspelt.indices)
    func aMisspeltOptionIsNamedWithTheUsage(index: Int) throws {
        let (subcommand, option, arguments) = Self.misspelt[index]
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        defer {
            for suffix in ["", ".gtrace", ".svg", ".html"] { try? FileManager.default.removeItem(atPath: Self.marker + suffix) }
        }
        let result = try run(gotrace, arguments)
        #expect(result.status == 64, "\(arguments): \(result.standardError)")
        #expect(result.standardError.hasPrefix("Error: Unknown option '\(option)'"), "\(result.standardError)")
        #expect(result.standardError.contains("Usage: gotrace \(subcommand)"), "\(result.standardError)")
        #expect(!result.standardError.contains("cannot run"), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
        // Nothing ran: no program started, no output file made.
        for suffix in ["", ".gtrace", ".svg", ".html"] {
            #expect(!FileManager.default.fileExists(atPath: Self.marker + suffix), "\(arguments) left \(Self.marker + suffix)")
        }
    }

    /// What the program received, one argument per line, through `sh -c 'printf …' sh ARGS`.
    static let echoArguments = ["/bin/sh", "-c", "printf '%s\\n' \"$@\"", "sh"]

    @Test func programArgumentsThatLookLikeOptionsPassThroughUntouched() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let output = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let programArguments = ["--help", "-h", "-o", "elsewhere.gtrace", "--cpu-rate", "-5", "--", "--record-args"]
        let withSeparator = try run(gotrace, ["record", "-o", output, "--"] + Self.echoArguments + programArguments)
        #expect(withSeparator.status == 0, "\(withSeparator.standardError)")
        #expect(withSeparator.standardOutput == programArguments.map { $0 + "\n" }.joined())
        // Without `--` the program starts at the first word that is not an option of `record`.
        let withoutSeparator = try run(gotrace, ["record", "-o", output] + Self.echoArguments + programArguments)
        #expect(withoutSeparator.status == 0, "\(withoutSeparator.standardError)")
        #expect(withoutSeparator.standardOutput == programArguments.map { $0 + "\n" }.joined())
        #expect(!FileManager.default.fileExists(atPath: BuiltProducts.packageRoot.appendingPathComponent("elsewhere.gtrace").path))
    }

    @Test func afterTheSeparatorADashedWordIsTheProgram() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let result = try run(gotrace, ["record", "-o", temporaryTracePath(), "--", "--help"])
        #expect(result.status == 127)
        #expect(result.standardError == "gotrace record: cannot run --help: No such file or directory\n")
    }

    @Test func aMissingProgramIsAUsageError() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        for arguments in [["record"], ["record", "-o", "x.gtrace"], ["record", "--"]] {
            let result = try run(gotrace, arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.standardError.hasPrefix("Error: Missing the program to run\nUsage: gotrace record"), "\(result.standardError)")
        }
    }
}
