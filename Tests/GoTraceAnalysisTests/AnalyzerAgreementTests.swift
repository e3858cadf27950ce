import Foundation
import GoTrace
import GotraceTestSupport
import Testing

/// The summary and the html-report analyzers both report a run's figures (duration, P busy time, goroutines,
/// steals, preemptions, stack growths, CPU samples, blocked time): on the same trace they must print the same
/// ones. Checked on a synthetic trace whose answers are worked out by hand, on fresh recordings of the example
/// programs, and on the committed traces.
@Suite struct AnalyzerAgreementTests {
    /// Both analyzers' documents for `path`, with every blocking site and CPU function listed.
    static func documents(_ path: String) throws -> (summary: [String: Any], html: [String: Any]) {
        let result = try Executables.run(Executables.gotrace, [
            "report", path, "--analyzer", "summary", "--analyzer", "html-report", "--format", "json", "--no-progress",
            "--option", "summary.top=1000",
        ])
        #expect(result.status == 0, "report failed: \(result.error)")
        let document = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        return (try #require(document["summary"] as? [String: Any]), try #require(document["html-report"] as? [String: Any]))
    }

    static func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

    /// Compares every figure both analyzers report and returns the summary's document.
    @discardableResult
    static func expectAgreement(_ path: String, _ label: String) throws -> [String: Any] {
        let (summary, html) = try documents(path)
        let htmlSummary = try #require(html["summary"] as? [String: Any])
        #expect(number(summary["durationNs"]) == number(html["durationNs"]), "\(label): duration")
        for key in ["goroutinesCreated", "goroutinesAlive", "steals", "preemptions", "stackGrowths", "cpuSamples"] {
            #expect(number(summary[key]) != nil && number(summary[key]) == number(htmlSummary[key]),
                    "\(label): \(key) summary \(summary[key] ?? "-") html-report \(htmlSummary[key] ?? "-")")
        }
        // Percentages are printed to one decimal by each; the nanoseconds must match exactly.
        let summaryBusy = try #require(number(summary["busyPercent"]))
        let htmlBusy = try #require(number(htmlSummary["busyPercent"]))
        #expect(abs(summaryBusy - htmlBusy) <= 0.1, "\(label): busy % \(summaryBusy) vs \(htmlBusy)")
        let summaryProcs = try #require(summary["procs"] as? [[String: Any]])
        let htmlProcs = try #require(htmlSummary["procs"] as? [[String: Any]])
        #expect(summaryProcs.map { number($0["proc"]) } == htmlProcs.map { number($0["p"]) }, "\(label): Ps")
        #expect(summaryProcs.map { number($0["busyNs"]) } == htmlProcs.map { number($0["busyNs"]) }, "\(label): busy ns per P")
        // Blocked time: the html-report lists its top 10 functions only, so the totals compare when it lists all.
        let summarySites = try #require(summary["topBlocking"] as? [[String: Any]])
        let htmlSites = try #require(html["topBlocking"] as? [[String: Any]])
        let summaryBlocked = summarySites.compactMap { number($0["blockedNs"]) }.reduce(0, +)
        let htmlBlocked = htmlSites.compactMap { number($0["blockedNs"]) }.reduce(0, +)
        if htmlSites.count < 10 {
            #expect(summaryBlocked == htmlBlocked, "\(label): blocked ns \(summarySites) vs \(htmlSites)")
        } else {
            #expect(htmlBlocked <= summaryBlocked, "\(label): blocked ns")
        }
        let summaryCPU = try #require(summary["topCPU"] as? [[String: Any]])
        let htmlCPU = try #require(html["topCPU"] as? [[String: Any]])
        // Functions are named differently (the summary's is the innermost frame, the html-report's the innermost
        // frame outside the runtime), so the samples compare in total, when the html-report lists all of them.
        let samples = { (rows: [[String: Any]]) in rows.compactMap { number($0["samples"]) }.reduce(0, +) }
        if htmlCPU.count < 10 {
            #expect(samples(summaryCPU) == samples(htmlCPU), "\(label): CPU samples \(summaryCPU) vs \(htmlCPU)")
            #expect(samples(summaryCPU) == number(summary["cpuSamples"]), "\(label): CPU samples listed")
        }
        return summary
    }

    /// P0 and P1 on one M; hand-computed answers in `handWorkedTrace`.
    static func twoProcs() -> SyntheticTrace {
        var trace = SyntheticTrace()
        trace.stack(1, [0x1000, 0x2000])
        trace.emit(.procStart, at: 10, 0)
        trace.emit(.snapshot, at: 100, 1, 1, 12, 0, 0)  // g1 running on P0 before the trace
        trace.emit(.spawn, at: 200, 1, 2, 0)
        trace.emit(.spawn, at: 250, 1, 3, 0)
        trace.emit(.start, at: 300, 2)  // P0 runs one goroutine: g1's slice ends here (200 ns)
        trace.emit(.preempt, at: 400, 2, UInt64(PreemptKind.requestedAsynchronous.rawValue))
        trace.emit(.preempt, at: 450, 2, UInt64(PreemptKind.honouredAsynchronous.rawValue))  // 150 ns
        trace.emit(.start, at: 500, 2)
        trace.emit(.preempt, at: 600, 2, UInt64(PreemptKind.requestedCooperative.rawValue))
        trace.emit(.preempt, at: 650, 2, UInt64(PreemptKind.honouredCooperative.rawValue))  // 150 ns
        trace.emit(.procStop, at: 700, 0)
        trace.emit(.procStart, at: 710, 1)
        trace.emit(.start, at: 800, 3)
        trace.emit(.park, at: 1_000, 3, UInt64(ParkReason.chanReceive.rawValue), 1)  // 200 ns on P1
        trace.emit(.preempt, at: 1_100, 2, UInt64(PreemptKind.requestedAsynchronous.rawValue))  // never honoured
        trace.emit(.steal, at: 1_200, 1, 0, 1)
        trace.emit(.stackGrow, at: 1_300, 2, 8192, 16384)
        trace.emit(.unpark, at: 1_500, 3, 1, 0)  // blocked 500 ns
        trace.emit(.start, at: 1_600, 3)
        for time in [1_700, 1_750, 1_800] as [UInt64] { trace.emit(.cpuSample, at: time, 3, 1) }
        trace.emit(.stackGrow, at: 2_000, 3, 8192, 16384)  // the last event: g3 runs 400 ns to here
        return trace
    }

    @Test("a hand-worked trace: two preemptions (not four), busy time per P, and both analyzers print it")
    func handWorkedTrace() throws {
        var trace = Self.twoProcs()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try Self.expectAgreement(path, "two Ps")
        #expect(Self.number(summary["preemptions"]) == 2, "requests are not preemptions")
        #expect(Self.number(summary["durationNs"]) == 2_000)
        #expect(Self.number(summary["goroutinesCreated"]) == 2)
        #expect(Self.number(summary["goroutinesAlive"]) == 3)
        #expect(Self.number(summary["steals"]) == 1)
        #expect(Self.number(summary["stackGrowths"]) == 2)
        #expect(Self.number(summary["cpuSamples"]) == 3)
        let procs = try #require(summary["procs"] as? [[String: Any]])
        #expect(procs.map { Self.number($0["busyNs"]) } == [500, 600], "P0 200 + 150 + 150, P1 200 + 400")
        #expect(Self.number(summary["busyPercent"]) == 27.5, "1,100 of 2 × 2,000 ns")
        let sites = try #require(summary["topBlocking"] as? [[String: Any]])
        #expect(sites.count == 1 && Self.number(sites.first?["blockedNs"]) == 500, "\(sites)")
    }

    @Test("the synthetic scenarios and the committed traces")
    func committedTraces() throws {
        var synthetic = [("hundredBlockedReceivers", Scenario.hundredBlockedReceivers()), ("workerPool", Scenario.workerPool()),
                         ("sleepers", Scenario.sleepers())]
        for index in synthetic.indices {
            let path = try synthetic[index].1.write()
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Self.expectAgreement(path, synthetic[index].0)
        }
        let root = Executables.packageRoot + "/traces/"
        for name in ["basic.gtrace", "scenarios/abba.gtrace", "scenarios/leak.gtrace", "scenarios/sleepers.gtrace",
                     "scenarios/workerpool.gtrace"] {
            #expect(FileManager.default.fileExists(atPath: root + name), "\(name) is committed")
            try Self.expectAgreement(root + name, name)
        }
    }

    /// Records `arguments` (a built example and its arguments) and returns the trace's path.
    static func record(_ arguments: [String]) throws -> String {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("agree-\(UUID().uuidString).gtrace").path
        let recorded = try Executables.run(Executables.gotrace, ["record", "-o", trace, "--"] + arguments)
        #expect(recorded.status == 0, "record \(arguments) exited \(recorded.status): \(recorded.error)")
        return trace
    }

    /// How many events of `kind` whose text contains `containing` `gotrace dump` prints: counts read from
    /// the events themselves, not from an analyzer.
    static func dumpCount(_ trace: String, kind: String, containing fragment: String = "") throws -> Int {
        let dumped = try Executables.run(Executables.gotrace, ["dump", trace])
        #expect(dumped.status == 0, "\(dumped.error)")
        return dumped.output.split(separator: "\n").filter { line in
            line.split(separator: " ").dropFirst(4).first == Substring(kind) && (fragment.isEmpty || line.contains(fragment))
        }.count
    }

    @Test("real recordings: preemptions are the honoured preempt events, steals the steal events, and both analyzers agree",
          arguments: [["hog"], ["steal"], ["pingpong", "2000"], ["sleepers"], ["leak"], ["workerpool"]])
    func recordedScenarios(_ scenario: [String]) throws {
        let trace = try Self.record([try BuiltProduct.require("TraceScenarios")] + scenario)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let summary = try Self.expectAgreement(trace, scenario.joined(separator: " "))
        let honoured = try Self.dumpCount(trace, kind: "preempt", containing: "kind=honoured-")
        #expect(Self.number(summary["preemptions"]) == Double(honoured))
        #expect(Self.number(summary["steals"]) == Double(try Self.dumpCount(trace, kind: "steal")))
        #expect(Self.number(summary["goroutinesCreated"]) == Double(try Self.dumpCount(trace, kind: "spawn")))
        if scenario == ["hog"] {
            // The call-free loop runs on the only P while the ticker sleeps 10 ms twenty times: the monitor
            // must have preempted it, and each preemption was requested first.
            #expect(honoured > 0)
            #expect(try Self.dumpCount(trace, kind: "preempt", containing: "kind=requested-") >= honoured)
        }
    }

    @Test("real recordings: the profile scenarios (CPU samples, select and sleep waits)",
          arguments: [["cpu", "300"], ["block"]])
    func profileScenarios(_ scenario: [String]) throws {
        let trace = try Self.record([try BuiltProduct.require("ProfileScenarios")] + scenario)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        try Self.expectAgreement(trace, "ProfileScenarios " + scenario.joined(separator: " "))
    }

    @Test("tied blocking sites print in one order in every process: by site, then reason")
    func tiedSitesHaveOneOrder() throws {
        // Three waits of exactly 1 µs at one stack, for three reasons: the sites tie on time and name.
        var trace = SyntheticTrace()
        trace.stack(1, [0x1000, 0x2000])
        let reasons: [ParkReason] = [.select, .chanSend, .chanReceive]
        for (index, reason) in reasons.enumerated() {
            let g = UInt64(10 + index)
            let base = UInt64(index) * 10_000
            trace.emit(.spawn, at: base + 100, 1, g, 0)
            trace.emit(.start, at: base + 200, g)
            trace.emit(.park, at: base + 300, g, UInt64(reason.rawValue), 1)
            trace.emit(.unpark, at: base + 1_300, g, 1, 0)
            trace.emit(.start, at: base + 1_400, g)
            trace.emit(.end, at: base + 1_500, g)
        }
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Dictionaries are seeded per process: each run is a new process, a new chance to differ.
        for _ in 0..<8 {
            let sites = try #require(try Self.documents(path).summary["topBlocking"] as? [[String: Any]])
            #expect(sites.map { $0["reason"] as? String } == ["chan-receive", "chan-send", "select"], "\(sites)")
            #expect(sites.map { Self.number($0["blockedNs"]) } == [1_000, 1_000, 1_000])
        }
    }
}
