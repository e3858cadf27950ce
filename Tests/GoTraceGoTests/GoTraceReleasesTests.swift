import Foundation
import GoTrace
import Testing
@testable import GoTraceAnalysis
import GoTraceGo

/// Go programs built by each Go release scripts/setup.sh installs (`.toolchains/`), and the small traces those
/// releases wrote, committed under traces/go (read on any machine). A missing release fails the test, naming
/// the script that installs it.
@Suite struct GoTraceReleasesTests {
    /// The same programs built by the Go releases scripts/setup.sh installs: 1.21.13 writes the old format,
    /// 1.22.10 format 1.22, 1.27.3 format 1.26. The reasons are the same in every format (Go 1.22+'s
    /// "sync" covers Mutex and WaitGroup alike, as GoBlockSync did).
    @Test(arguments: GoPrograms.toolchainVersions)
    func leaksAreFoundInEveryFormat(release: String) throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("leaks", in: directory, toolchain: release)
        let report = try GoPrograms.report(trace, analyzers: ["leak"])
        let leak = try #require(report["leak"] as? [String: Any])
        let groups = try #require(leak["groups"] as? [[String: Any]])
        for expected in GoTraceLeakTests.expected {
            let matching = groups.filter { group in
                ((group["blockedAt"] as? [String]) ?? []).contains { $0.hasPrefix(expected.function + ".func") }
            }
            #expect(matching.reduce(0) { $0 + (($1["count"] as? Int) ?? 0) } == expected.count, "Go \(release) \(expected.function): \(matching)")
            #expect(matching.allSatisfy { ($0["reason"] as? String) == expected.reason }, "Go \(release) \(expected.function): \(matching)")
        }
        #expect(leak["leaked"] as? Int == GoTraceLeakTests.expected.reduce(0) { $0 + $1.count }, "Go \(release): \(groups)")
        let correct = try GoPrograms.trace("correct", in: directory, toolchain: release)
        let clean = try #require(try GoPrograms.report(correct, analyzers: ["leak"])["leak"] as? [String: Any])
        #expect(clean["leaked"] as? Int == 0, "Go \(release): \(clean)")
    }

    /// Builds fixture `name` with Go 1.27.3 and runs it with `arguments` (paths in `directory`).
    static func run127(_ name: String, _ arguments: [String], in directory: URL) throws {
        let go = try GoPrograms.requireToolchain("1.27.3")
        let binary = directory.appendingPathComponent(name).path
        let build = try GoPrograms.run(go, ["build", "-o", binary, GoPrograms.fixtures.appendingPathComponent("\(name)/main.go").path],
                                       environment: ["GO111MODULE": "off", "GOCACHE": directory.appendingPathComponent("cache").path,
                                                     "GOTOOLCHAIN": "local", "GOPROXY": "off"])
        guard build.status == 0 else { throw GoPrograms.Failure(description: "go build \(name): \(build.error)") }
        let ran = try GoPrograms.run(binary, arguments)
        guard ran.status == 0 else { throw GoPrograms.Failure(description: "\(name) \(arguments): \(ran.error)") }
    }

    /// The flight recorder's snapshot and a /debug/pprof/trace download read like any trace: the goroutines
    /// blocked before the recording started are found from their status (with the reason its stack implies),
    /// those blocked during it from their events.
    @Test(arguments: ["flight", "http"])
    func otherRecordersAreRead(mode: String) throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("\(mode).trace").path
        try GoTraceReleasesTests.run127("recorders", [mode, trace], in: directory)
        let report = try GoPrograms.report(trace, analyzers: ["leak"])
        let groups = try #require((report["leak"] as? [String: Any])?["groups"] as? [[String: Any]])
        for (function, count) in [("main.leakBefore.func1", 5), ("main.leakAfter.func1", 3)] {
            let matching = groups.filter { (($0["blockedAt"] as? [String]) ?? []).contains { $0.hasPrefix(function) } }
            #expect(matching.reduce(0) { $0 + (($1["count"] as? Int) ?? 0) } == count, "\(mode) \(function): \(groups)")
            #expect(matching.allSatisfy { ($0["reason"] as? String) == "chan-receive" }, "\(mode) \(function): \(matching)")
        }
    }

    /// A program traced while the CPU profiler runs: the cpu profile exported from the trace's CPU samples
    /// has the same top function (by self samples) as `go tool pprof -top` on the run's profile, within 5
    /// points of share.
    @Test func cpuProfileFromTheTraceAgreesWithPprof() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("cpu.trace").path
        let profile = directory.appendingPathComponent("cpu.pprof").path
        try GoTraceReleasesTests.run127("cpu", [trace, profile], in: directory)
        let go = try GoPrograms.requireToolchain("1.27.3")
        let top = try GoPrograms.run(go, ["tool", "pprof", "-top", profile], environment: ["GOTOOLCHAIN": "local"])
        #expect(top.status == 0, "\(top.error)")
        // Rows: "flat flat% sum% cum cum% function"; the first is the top function.
        let lines = top.output.split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("flat%") }, "\(top.output)")
        let row = try #require(lines.dropFirst(header + 1).first.map { $0.split(separator: " ", omittingEmptySubsequences: true) })
        let goFunction = String(try #require(row.last))
        let goShare = try #require(Double(row[1].dropLast()))
        let folded = directory.appendingPathComponent("cpu.folded").path
        let export = try GoPrograms.run(GoPrograms.gotrace, ["export", trace, "--profile", "cpu", "--format", "folded", "-o", folded])
        #expect(export.status == 0, "\(export.error)")
        var selfSamples: [String: Int] = [:]
        for line in try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { continue }
            let leaf = line[..<space].split(separator: ";").last.map(String.init) ?? ""
            selfSamples[leaf, default: 0] += count
        }
        let total = selfSamples.values.reduce(0, +)
        #expect(total >= 10, "too few CPU samples in the trace: \(selfSamples)")
        let ours = try #require(selfSamples.max { $0.value < $1.value })
        let ourShare = 100 * Double(ours.value) / Double(max(total, 1))
        #expect(ours.key == goFunction, "top function: ours \(ours.key) \(ourShare)%, pprof \(goFunction) \(goShare)%")
        #expect(abs(ourShare - goShare) <= 5, "share of \(goFunction): ours \(ourShare)%, pprof \(goShare)%")
    }

    static let traces = GoPrograms.packageRoot.appendingPathComponent("traces/go")

    /// `gotrace report --analyzer leak` on each committed leaks trace prints exactly the committed report
    /// (traces/go/regenerate.sh): 37 leaks in every format, by the same functions and reasons.
    @Test(arguments: ["go1.19", "go1.21", "go1.22", "go1.23", "go1.24", "go1.25", "go1.27"])
    func committedLeakReports(release: String) throws {
        let trace = GoTraceReleasesTests.traces.appendingPathComponent("leaks-\(release).trace").path
        let expected = try String(contentsOf: GoTraceReleasesTests.traces.appendingPathComponent("leaks-\(release).leak.txt"),
                                  encoding: .utf8)
        let result = try GoPrograms.run(GoPrograms.gotrace, ["report", trace, "--analyzer", "leak", "--no-progress"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error.isEmpty, "\(result.error)")
        #expect(result.output == expected)
        #expect(expected.hasPrefix("== leak ==\n37 leaked goroutines in 8 groups"))
    }

    /// stat, dump, export, view and diff take a Go 1.26-format trace as they take a Go 1.19 one.
    @Test func everyCommandTakesTheNewFormat() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = GoTraceReleasesTests.traces.appendingPathComponent("correct-go1.27.trace").path
        let older = GoTraceReleasesTests.traces.appendingPathComponent("correct-go1.19.trace").path
        let stat = try GoPrograms.run(GoPrograms.gotrace, ["stat", trace, "--format", "json"])
        #expect(stat.status == 0 && stat.error.isEmpty, "\(stat.error)")
        #expect(stat.output.contains("\"complete\" : true") || stat.output.contains("\"complete\":true"), "\(stat.output)")
        let dump = try GoPrograms.run(GoPrograms.gotrace, ["dump", trace])
        #expect(dump.status == 0 && dump.output.contains("main.cancellation"), "\(dump.error)")
        let folded = directory.appendingPathComponent("block.folded").path
        let export = try GoPrograms.run(GoPrograms.gotrace, ["export", trace, "--format", "folded", "--profile", "block", "-o", folded])
        #expect(export.status == 0, "\(export.error)")
        #expect(try String(contentsOfFile: folded, encoding: .utf8).contains("[chan-receive]"))
        let page = directory.appendingPathComponent("view.html").path
        let view = try GoPrograms.run(GoPrograms.gotrace, ["view", trace, "-o", page])
        #expect(view.status == 0, "\(view.error)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("main.cancellation"))
        let svg = directory.appendingPathComponent("diff.svg").path
        let diff = try GoPrograms.run(GoPrograms.gotrace, ["diff", older, trace, "-o", svg])
        #expect(diff.status == 0, "\(diff.error)")
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("<svg"))
    }

    /// Go 1.25+ writes a clock snapshot: time 0 gets a wall-clock date (these traces were recorded in 2026);
    /// older traces have none.
    @Test func clockSnapshotDatesTheTrace() {
        for (release, dated) in [("go1.22", false), ("go1.25", true), ("go1.27", true)] {
            let reader = TraceFile.open(path: GoTraceReleasesTests.traces.appendingPathComponent("correct-\(release).trace").path)
            let year2026: ClosedRange<UInt64> = 1_767_225_600_000_000_000...1_798_761_600_000_000_000
            #expect(dated ? year2026.contains(reader.startWallNanoseconds) : reader.startWallNanoseconds == 0,
                    "\(release): \(reader.startWallNanoseconds)")
        }
    }

    /// Go's totals for the committed traces (traces/go/go-tool-trace.txt): FILE KIND RELEASE COUNT NANOSECONDS.
    static func goTotals() throws -> [(file: String, kind: String, release: String, count: Int, nanoseconds: Int)] {
        let text = try String(contentsOf: traces.appendingPathComponent("go-tool-trace.txt"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 5, let count = Int(fields[3]), let nanoseconds = Int(fields[4]) else { return nil }
            return (String(fields[0]), String(fields[1]), String(fields[2]), count, nanoseconds)
        }
    }

    /// Our sync total (the latency report's blocking chan-receive + chan-send + select + mutex + cond) against
    /// `go tool trace -pprof=sync`: of the release that wrote the trace for the old format and Go 1.27's,
    /// and of Go 1.27.3 for Go 1.22–1.25's traces, whose own tool drops every transition without a stack
    /// — the stackless wake-ups that end a wait included (docs/go-traces.md).
    @Test func syncTotalsAgreeWithGoToolTrace() throws {
        let rows = try GoTraceReleasesTests.goTotals().filter { $0.kind == "sync" }
        #expect(rows.count >= 10)
        for row in rows {
            let oldFormat = row.file.hasSuffix("go1.19.trace") || row.file.hasSuffix("go1.21.trace")
            guard oldFormat || row.release == "1.27.3" else { continue }
            let path = GoTraceReleasesTests.traces.appendingPathComponent(row.file).path
            let report = try GoPrograms.report(path, analyzers: ["latency"], environment: ["GOTRACE_GO_SYSTEM_GOROUTINES": "1"])
            let blocking = ((report["latency"] as? [String: Any])?["blocking"] as? [String: Any]) ?? [:]
            var count = 0
            var nanoseconds = 0
            for reason in ["chan-receive", "chan-send", "select", "mutex", "cond"] {
                guard let stats = blocking[reason] as? [String: Any], let n = stats["count"] as? Int,
                      let mean = stats["meanNs"] as? Int else { continue }
                count += n
                nanoseconds += n * mean
            }
            #expect(count == row.count, "\(row.file): ours \(count) waits, go \(row.release) \(row.count)")
            let difference = abs(Double(nanoseconds - row.nanoseconds)) / Double(max(row.nanoseconds, 1))
            #expect(difference <= 0.01, "\(row.file): ours \(nanoseconds) ns, go \(row.release) \(row.nanoseconds) ns")
        }
    }

    /// Go 1.26+'s sched profile from our mapped events: every wait in the run queue (entered on creation,
    /// wake-up, preemption, yield or a blocked syscall's return; left at the next transition), counted for
    /// the part after the goroutine first ran and before it ended or the trace did — `go tool trace
    /// -pprof=sched`'s definition (cmd/trace: intervals clipped to the goroutine's lifetime from its first
    /// start). The runtime's goroutines are kept, as Go counts them.
    @Test func schedTotalsOfMappedEventsAgreeWithGoToolTrace() throws {
        let rows = try GoTraceReleasesTests.goTotals().filter { $0.kind == "sched" && $0.release == "1.27.3" && $0.count >= 100 }
        #expect(rows.count >= 3)
        for row in rows {
            let reader = try #require(TraceFile.open(path: GoTraceReleasesTests.traces.appendingPathComponent(row.file).path,
                                                     includeSystemGoroutines: true) as? any GoTraceSource)
            var runnableSince: [UInt64: UInt64] = [:]
            var firstStart: [UInt64: UInt64] = [:]
            var waits: [(g: UInt64, from: UInt64, to: UInt64)] = []
            var ended: [UInt64: UInt64] = [:]
            var last: UInt64 = 0
            func leave(_ g: UInt64, _ time: UInt64) {
                if let since = runnableSince.removeValue(forKey: g) { waits.append((g, since, time)) }
            }
            while let event = reader.nextMapped() {
                last = event.nanoseconds
                let g = event.arguments.0
                switch event.kind {
                case .spawn: runnableSince[event.arguments.1] = event.nanoseconds
                case .unpark, .preempt: if runnableSince[g] == nil { runnableSince[g] = event.nanoseconds }
                case .snapshot where event.arguments.1 == UInt64(GoroutineState.runnable.rawValue):
                    runnableSince[g] = event.nanoseconds
                case .start:
                    leave(g, event.nanoseconds)
                    if firstStart[g] == nil { firstStart[g] = event.nanoseconds }
                case .park, .syscallEnter, .snapshot: leave(g, event.nanoseconds)
                case .end:
                    leave(g, event.nanoseconds)
                    ended[g] = event.nanoseconds
                default: break
                }
            }
            var count = 0
            var nanoseconds: UInt64 = 0
            for wait in waits {
                guard let start = firstStart[wait.g] else { continue }
                let from = max(wait.from, start)
                let to = min(wait.to, ended[wait.g] ?? last)
                if to > from {
                    count += 1
                    nanoseconds += to - from
                }
            }
            #expect(abs(count - row.count) <= max(2, row.count / 100), "\(row.file): ours \(count) waits, go \(row.count)")
            let difference = abs(Double(nanoseconds) - Double(row.nanoseconds)) / Double(max(row.nanoseconds, 1))
            #expect(difference <= 0.01, "\(row.file): ours \(nanoseconds) ns, go \(row.release) \(row.nanoseconds) ns")
        }
    }
}
