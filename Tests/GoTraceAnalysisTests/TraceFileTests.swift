import Foundation
import GoTrace
import GoTraceGo
import GotraceTestSupport
import Testing
@testable import GoTraceAnalysis

/// The one opener (`TraceFile.open`): each format opens through it with its own reader and reports what the
/// reader used directly reports (the paths the commands took before there was one opener) — for a `.gtrace`
/// file, a Go 1.19 trace and a Go 1.22 trace, all committed under traces/. Known answers come from the files
/// themselves: the `.gtrace` dump golden (traces/basic.dump.txt), the version in each Go header.
@Suite struct TraceFileTests {
    static let traces = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("traces")

    /// A committed trace, its format's name, the Go header's version (nil for `.gtrace`), and the summary its
    /// reader gives when used directly.
    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        var formatName: String
        var goVersion: Int?
        var testDescription: String { file }

        var path: String { TraceFileTests.traces.appendingPathComponent(file).path }

        func directSummary() throws -> TraceSummary {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            return switch goVersion {
            case nil: TraceSummary(reading: TraceReader(bytes: bytes, fileName: path))
            case let version? where version >= 1022:
                GoTraceReader122(bytes: bytes, fileName: path).summarize(reconciling: false).summary
            case _?: GoTraceReader(bytes: bytes, fileName: path).summarize(reconciling: false).summary
            }
        }
    }

    static let cases = [
        Case(file: "basic.gtrace", formatName: "gotrace trace", goVersion: nil),
        Case(file: "go/correct-go1.19.trace", formatName: "Go trace", goVersion: 1019),
        Case(file: "go/correct-go1.22.trace", formatName: "Go trace", goVersion: 1022),
    ]

    @Test("each format opens with its reader", arguments: cases)
    func opensWithItsReader(_ trace: Case) throws {
        let source = TraceFile.open(path: trace.path)
        #expect(source.formatName == trace.formatName)
        #expect(source.fatalDiagnostic == nil)
        switch trace.goVersion {
        case nil: #expect(source is GtraceSource)
        case let version?:
            let goSource = try #require(source as? any GoTraceSource)
            #expect(goSource.version == version)
            #expect(version >= 1022 ? source is GoTraceReader122 : source is GoTraceReader)
        }
    }

    @Test("stat through the opener is stat through the reader used directly", arguments: cases)
    func summaryMatchesTheDirectReader(_ trace: Case) throws {
        let (summary, accounting) = TraceFile.open(path: trace.path).summarize(reconciling: true)
        #expect(try summary == trace.directSummary())
        #expect(summary.events > 0)
        // Only gotrace's own format keeps an accounting to reconcile.
        #expect((accounting != nil) == (trace.goVersion == nil))
    }

    @Test("gotrace stat reports, for every format, what the reader used directly counts", arguments: cases)
    func statCommandMatchesTheDirectReader(_ trace: Case) throws {
        let outcome = try runProcess(try BuiltProduct.require("gotrace"), ["stat", "--format", "json", trace.path])
        #expect(outcome.status == 0, "\(outcome.error)")
        let stat = try #require(try JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any])
        let number = { (key: String) in (stat[key] as? NSNumber)?.uint64Value }
        let expected = try trace.directSummary()
        #expect(number("events") == expected.events)
        #expect(number("goroutines") == UInt64(expected.goroutines))
        #expect(number("durationNanoseconds") == expected.durationNanoseconds)
        #expect(stat["complete"] as? Bool == expected.complete)
        #expect((stat["eventsByKind"] as? [String: NSNumber])?.mapValues(\.uint64Value) == expected.eventsByKind)
    }

    @Test("a .gtrace dump through the opener is the committed golden, byte for byte")
    func gtraceDumpIsTheGolden() throws {
        let source = TraceFile.open(path: Self.traces.appendingPathComponent("basic.gtrace").path)
        var lines: [String] = []
        while let event = source.next() { lines.append(TraceTextFormatter.line(for: event, strings: source.string)) }
        let golden = try String(contentsOf: Self.traces.appendingPathComponent("basic.dump.txt"), encoding: .utf8)
        #expect(lines.joined(separator: "\n") + "\n" == golden)
        #expect(source.isComplete && source.incompleteWarning == nil && !source.isUnreadable)
    }

    @Test("a file that is no trace, and one that does not exist: the .gtrace reader's fatal diagnostic")
    func unreadableFiles() {
        let notATrace = TraceFile.open(bytes: Array("go 1.x trace, but not really".utf8), fileName: "text")
        #expect(notATrace.fatalDiagnostic?.description == "text: offset 0: not a gotrace trace (bad magic)")
        #expect(notATrace.isUnreadable)
        let missing = TraceFile.open(path: "/nonexistent/trace.gtrace")
        #expect(missing.fatalDiagnostic?.problem == .cannotOpen("No such file or directory"))
        #expect(missing.next() == nil && missing.eventsRead == 0)
    }

    @Test("a Go header of a version no reader supports: the Go reader says which versions it reads")
    func unsupportedGoVersion() {
        var bytes = Array("go 1.9 trace".utf8)
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        let source = TraceFile.open(bytes: bytes, fileName: "old.trace")
        #expect(source is GoTraceReader)
        #expect(source.fatalDiagnostic?.description
            == "old.trace: offset 5: unsupported Go trace version 1.9: this build reads \(GoTraceHeader.supportedRange)")
    }
}
