import ArgumentParser
import Foundation
import GoTrace
import GoTraceGo

struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Summarise a trace: events by kind, goroutines, duration, size, completeness.",
        discussion: "Exit status: 0 if the trace could be read, 1 if nothing could.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

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
    }

    func run() throws {
        let summary: TraceSummary
        let status: Int32
        if GoTraceReader.isGoTrace(path: file) {
            let reader = GoTraceReader(path: file)
            summary = TraceSummary(reading: reader)
            for diagnostic in reader.diagnostics { printError(diagnostic) }
            if reader.fatal != nil { throw ExitCode(ReadExitCode.unreadable) }
            status = ReadExitCode.readable
        } else {
            let reader = TraceReader(path: file)
            summary = TraceSummary(reading: reader)
            for diagnostic in reader.diagnostics { printError(diagnostic.description) }
            status = readExitStatus(after: reader)
            if reader.fatalDiagnostic != nil { throw ExitCode(status) }
        }
        let report = Report(
            file: file, complete: summary.complete, events: summary.events, eventsByKind: summary.eventsByKind,
            goroutines: summary.goroutines, machines: summary.machines,
            durationNanoseconds: summary.durationNanoseconds, bytes: summary.fileBytes,
            bytesPerEvent: rounded(summary.fileBytesPerEvent), rawPayloadBytes: summary.rawPayloadBytes,
            rawBytesPerEvent: rounded(summary.rawBytesPerEvent), chunks: summary.eventChunks,
            droppedEvents: summary.droppedEvents, corruptChunksSkipped: summary.corruptChunksSkipped,
            diagnostics: summary.diagnostics)
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
    }

    private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    private func printText(_ report: Report) {
        let seconds = TraceTextFormatter.timestamp(report.durationNanoseconds)
        print("file:                   \(report.file)")
        print("complete:               \(report.complete)")
        print("events:                 \(report.events)")
        print("duration:               \(seconds) s")
        print("goroutines:             \(report.goroutines)")
        print("Ms:                     \(report.machines)")
        print("chunks:                 \(report.chunks)")
        print("bytes:                  \(report.bytes) (\(report.bytesPerEvent) bytes/event; raw \(report.rawBytesPerEvent) bytes/event)")
        print("dropped events:         \(report.droppedEvents)")
        print("corrupt chunks skipped: \(report.corruptChunksSkipped)")
        print("events by kind:")
        let width = report.eventsByKind.keys.map(\.count).max() ?? 0
        for (name, count) in report.eventsByKind.sorted(by: { $0.key < $1.key }) {
            print("  " + name + String(repeating: " ", count: width - name.count) + "  \(count)")
        }
    }
}
