import ArgumentParser
import Foundation
import GoTrace
import GoTraceAnalysis

struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Summarise a trace: events by kind, goroutines, duration, size, completeness.",
        discussion: """
            Exit status: 0 if the trace could be read, 1 if nothing could. With --check: 4 if the event \
            accounting does not reconcile (docs/reliability.md).
            """)

    /// `--check` found a mismatch. Distinct from "unreadable" so scripts can tell the two apart.
    static let accountingMismatchExitCode: Int32 = 4

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: """
        Reconcile the event accounting: every spawn ends or is in the final snapshot, every park is unparked \
        or still parked at the end, no event dropped, the end chunk's totals match. Fails loudly on a mismatch.
        """)
    var check = false

    /// The JSON document; keys are part of the tool's interface.
    struct Report: Codable {
        var file: String
        var complete: Bool
        var events: UInt64
        var eventsByKind: [String: UInt64]
        var goroutines: Int
        var machines: Int
        var durationNanoseconds: UInt64
        var bytes: UInt64
        var bytesPerEvent: Double
        var rawPayloadBytes: UInt64
        var rawBytesPerEvent: Double
        var chunks: Int
        var droppedEvents: UInt64
        var corruptChunksSkipped: Int
        var diagnostics: [String]
        /// Present only for traces recorded with `--record-args`.
        var commandLine: [String]?
        /// Present only when the program died by a signal the runtime flushed the trace on (end chunk).
        var endSignal: UInt64?
        /// Present only with `--check`.
        var check: EventAccounting.Report?
    }

    func run() throws {
        let source = TraceFile.open(path: file)
        let (summary, accounting) = source.summarize(reconciling: check)
        if check && accounting == nil {
            printError("gotrace stat: --check reconciles gotrace traces only (\(file) is a \(source.formatName))")
            throw ExitCode(ReadExitCode.unreadable)
        }
        for diagnostic in source.diagnostics { printError(diagnostic.description) }
        let status = source.isUnreadable ? ReadExitCode.unreadable : ReadExitCode.readable
        if source.fatalDiagnostic != nil { throw ExitCode(status) }
        let report = Report(
            file: file, complete: summary.complete, events: summary.events, eventsByKind: summary.eventsByKind,
            goroutines: summary.goroutines, machines: summary.machines,
            durationNanoseconds: summary.durationNanoseconds, bytes: summary.fileBytes,
            bytesPerEvent: rounded(summary.fileBytesPerEvent), rawPayloadBytes: summary.rawPayloadBytes,
            rawBytesPerEvent: rounded(summary.rawBytesPerEvent), chunks: summary.eventChunks,
            droppedEvents: summary.droppedEvents, corruptChunksSkipped: summary.corruptChunksSkipped,
            diagnostics: summary.diagnostics, commandLine: summary.commandLine, endSignal: summary.endSignal,
            check: accounting)
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(report)
            print(String(decoding: data, as: UTF8.self))
        case .text:
            printText(report)
        }
        if status != 0 { throw ExitCode(status) }
        if let accounting, !accounting.passed {
            printError("gotrace stat: CHECK FAILED: \(accounting.mismatchCount) accounting mismatches in \(file)")
            for line in accounting.mismatches { printError("  " + line) }
            if accounting.mismatchCount > UInt64(accounting.mismatches.count) {
                printError("  … and \(accounting.mismatchCount - UInt64(accounting.mismatches.count)) more")
            }
            throw ExitCode(StatCommand.accountingMismatchExitCode)
        }
    }

    private func signalName(_ number: UInt64) -> String? {
        switch number {
        case 1: "SIGHUP"
        case 2: "SIGINT"
        case 15: "SIGTERM"
        default: nil
        }
    }

    private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    private func printText(_ report: Report) {
        let seconds = TraceTextFormatter.timestamp(report.durationNanoseconds)
        print("file:                   \(report.file)")
        print("complete:               \(report.complete)")
        if let endSignal = report.endSignal {
            print("ended by signal:        \(endSignal)\(signalName(endSignal).map { " (\($0))" } ?? "")")
        }
        print("events:                 \(report.events)")
        print("duration:               \(seconds) s")
        print("goroutines:             \(report.goroutines)")
        print("Ms:                     \(report.machines)")
        print("chunks:                 \(report.chunks)")
        print("bytes:                  \(report.bytes) (\(report.bytesPerEvent) bytes/event; raw \(report.rawBytesPerEvent) bytes/event)")
        print("dropped events:         \(report.droppedEvents)")
        print("corrupt chunks skipped: \(report.corruptChunksSkipped)")
        if let commandLine = report.commandLine {
            print("command line:           \(commandLine.joined(separator: " "))")
        }
        if let check = report.check {
            print("check:                  \(check.passed ? "passed" : "FAILED (\(check.mismatchCount) mismatches)")")
            print("  spawned \(check.spawned): ended \(check.ended), "
                + "live in the final snapshot \(check.liveInFinalSnapshot)")
            print("  parks \(check.parks): unparked \(check.unparks), still parked at the end \(check.parkedAtEnd)")
            print("  dropped events \(check.droppedEvents)")
        }
        print("events by kind:")
        let width = report.eventsByKind.keys.map(\.count).max() ?? 0
        for (name, count) in report.eventsByKind.sorted(by: { $0.key < $1.key }) {
            print("  " + name + String(repeating: " ", count: width - name.count) + "  \(count)")
        }
    }
}
