import Foundation
import Testing

/// A committed Go 1.19 trace (traces/go/totals.trace, Tests/Fixtures/GoPrograms/totals) against totals Go's own
/// tool computed for it when it was recorded (traces/go/totals.go-tool-trace.txt, from traces/go/regenerate.sh):
/// the known answer comes from `go tool trace`, not from gotrace, and needs no Go installed to check. The
/// definitions are GoTraceTotalsTests' (docs/go-traces.md, "Totals against go tool trace"), which makes the same
/// comparison on fresh traces when Go is installed.
@Suite
struct GoldenGoTraceTests {
    static let directory = GoPrograms.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("traces/go")

    /// "KIND SAMPLES NANOSECONDS" lines of the committed totals, by kind.
    static func goToolTraceTotals() throws -> [String: (count: Int, nanoseconds: Int)] {
        let text = try String(contentsOf: directory.appendingPathComponent("totals.go-tool-trace.txt"), encoding: .utf8)
        var totals: [String: (Int, Int)] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields.count == 3, let count = Int(fields[1]), let nanoseconds = Int(fields[2]) {
                totals[String(fields[0])] = (count, nanoseconds)
            }
        }
        return totals
    }

    @Test func reportAgreesWithGoToolTraceOnTheCommittedTrace() throws {
        let totals = try Self.goToolTraceTotals()
        let goSync = try #require(totals["sync"], "no sync line in totals.go-tool-trace.txt")
        let goSched = try #require(totals["sched"], "no sched line in totals.go-tool-trace.txt")
        let comparison = GoTraceTotalsTests()
        let (sync, sched) = try comparison.ours(Self.directory.appendingPathComponent("totals.trace").path)
        #expect(sync.0 == goSync.count, "blocked intervals: ours \(sync.0), go \(goSync.count)")
        comparison.expectClose(sync.1, goSync.nanoseconds, "committed totals sync")
        #expect(abs(sched.0 - goSched.count) <= goSched.count / 100, "run-queue waits: ours \(sched.0), go \(goSched.count)")
        comparison.expectClose(sched.1, goSched.nanoseconds, "committed totals sched")
    }
}
