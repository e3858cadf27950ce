import Foundation
import GoTrace
import Testing

/// `gotrace export` / `gotrace diff` end to end on synthetic traces with known answers, each output checked by
/// a reader we did not write: `go tool pprof` for pprof, flameshow's parsers for folded, speedscope, pprof
/// and Chrome JSON.
@Suite struct ExportCommandTests {
    /// Scenario.hundredBlockedReceivers: 100 goroutines parked on chan-receive at stack 1 (0x1000 ← 0x2000 ←
    /// 0x3000, no module: frames print as addresses), each from its park until the end of the trace.
    static func blockedReceivers() throws -> (path: String, expectedNs: Int64) {
        var trace = Scenario.hundredBlockedReceivers()
        let path = try trace.write(name: "export-block")
        // Goroutine 10 + i parks at 1000 + 1000(i+1) + 500; the trace ends at 1000 + 100_000 + 10 ms.
        let end: Int64 = 1000 + 100 * 1000 + 10_000_000
        let expected = (0..<100).reduce(Int64(0)) { $0 + end - (1000 + 1000 * Int64($1 + 1) + 500) }
        return (path, expected)
    }

    @Test func blockFoldedWeighsEachWaitUntilTheEndOfTheTrace() throws {
        let (trace, expected) = try Self.blockedReceivers()
        let folded = try ExportTools.export(trace, format: "folded", profile: "block")
        let text = String(decoding: folded.bytes, as: UTF8.self)
        #expect(text == "[chan-receive];0x3000;0x2000;0x1000 \(expected)\n")
    }

    @Test func spawnFoldedCountsGoroutinesByCreationStack() throws {
        let (trace, _) = try Self.blockedReceivers()
        let folded = try ExportTools.export(trace, format: "folded", profile: "spawn")
        #expect(String(decoding: folded.bytes, as: UTF8.self) == "0x5000;0x4000 100\n")
    }

    @Test func cpuProfileFromSyntheticSamplesResolvesThroughTheModule() throws {
        var trace = try ExportScenario.cpuSamples()
        let path = try trace.write(name: "export-cpu")
        let folded = String(decoding: try ExportTools.export(path, format: "folded", profile: "cpu").bytes, as: UTF8.self)
        let lines = folded.split(separator: "\n")
        #expect(lines.count == 2, "\(folded)")
        // Readable names (FrameNames.readable), as `swift demangle --simplified` prints them.
        #expect(lines.contains { $0.hasSuffix(";blockedMostly() 80") }, "\(folded)")
        #expect(lines.contains { $0.hasSuffix(";blockedBriefly() 20") }, "\(folded)")
        #expect(lines.allSatisfy { $0.hasPrefix("spawnFew(") })
    }

    @Test(.enabled(if: ExportTools.goAvailable || ExportTools.inCI, "go (golang-go) not installed; CI requires it"))
    func goToolPprofReadsEveryProfileAndNamesTheTopFunction() throws {
        try ExportTools.require(ExportTools.goAvailable, "go (golang-go)")
        var cpuTrace = try ExportScenario.cpuSamples()
        let cpuPath = try cpuTrace.write(name: "export-cpu")
        let (blockPath, _) = try Self.blockedReceivers()
        let cases: [(trace: String, profile: String, type: String, top: String)] = [
            (cpuPath, "cpu", "Type: samples", "blockedMostly"),
            (blockPath, "block", "Type: delay", "0x1000"),
            (blockPath, "spawn", "Type: goroutines", "0x4000"),
        ]
        for check in cases {
            let file = try ExportTools.export(check.trace, format: "pprof", profile: check.profile)
            let top = try ExportTools.pprofTop(file.path)
            #expect(top.status == 0, "go tool pprof rejected the \(check.profile) profile: \(top.output)")
            #expect(top.output.contains(check.type), "\(top.output)")
            #expect(ExportTools.topFunctions(top.output).first == check.top, "\(check.profile): \(top.output)")
        }
        // cpu: the sample count and the nanoseconds (count × 1/99 s) are both there.
        let cpu = try ExportTools.export(cpuPath, format: "pprof", profile: "cpu")
        let raw = try ExportTools.run(ExportTools.which("go")!, ["tool", "pprof", "-raw", cpu.path], environment: ["HOME": NSTemporaryDirectory()])
        #expect(raw.output.contains("samples/count") && raw.output.contains("cpu/nanoseconds"), "\(raw.output)")
        #expect(raw.output.contains("80  808080800:"), "\(raw.output)")
    }

    @Test(.enabled(if: ExportTools.flameshowAvailable || ExportTools.inCI, "flameshow not installed; CI requires it"))
    func flameshowParsesFoldedSpeedscopePprofAndChrome() throws {
        try ExportTools.require(ExportTools.flameshowAvailable, "flameshow (pip install flameshow)")
        let (trace, expected) = try Self.blockedReceivers()
        let expectations: [(format: String, parser: String)] = [
            ("folded", "StackCollapseParser"), ("speedscope", "SpeedscopeParser"), ("pprof", "ProfileParser"),
            ("chrome", "GoogleTraceParser"),
        ]
        for (format, parser) in expectations {
            let file = try ExportTools.export(trace, format: format, profile: "block")
            let parsed = try ExportTools.flameshowParse(file.path)
            #expect(parsed.status == 0, "flameshow could not parse \(format): \(parsed.output)")
            #expect(parsed.output.hasPrefix(parser), "\(format) was read by the wrong parser: \(parsed.output)")
            if format != "chrome" {
                #expect(parsed.output.contains("[chan-receive]"), "\(format): \(parsed.output)")
                #expect(parsed.output.contains("0x1000"), "\(format): \(parsed.output)")
            } else {
                #expect(parsed.output.contains("G10"), "\(parsed.output)")
            }
        }
        // flameshow's folded reader keeps the counts: the root frame carries the whole blocked time.
        let folded = try ExportTools.flameshowParse(try ExportTools.export(trace, format: "folded", profile: "block").path)
        #expect(folded.output.contains("[chan-receive] \(expected)"), "\(folded.output)")
    }

    @Test func speedscopeBlockExportHasATimeOrderedTrack() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write(name: "export-speedscope")
        let file = try ExportTools.export(path, format: "speedscope", profile: "block")
        let json = try #require(JSONSerialization.jsonObject(with: file.bytes) as? [String: Any])
        #expect(json["activeProfileIndex"] as? Int == 0)
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(profiles.first?["type"] as? String == "sampled")
        #expect(profiles.dropFirst().count == 4 && profiles.dropFirst().allSatisfy { $0["type"] as? String == "evented" })
    }

    @Test func chromeTimelineHasATrackPerPAndGoroutine() throws {
        var trace = SyntheticTrace()
        trace.emit(.procStart, at: 10, 0)
        trace.emit(.spawn, at: 20, 1, 2, 0)
        trace.emit(.start, at: 30, 2)
        trace.emit(.park, at: 1_030, 2, UInt64(ParkReason.chanReceive.rawValue), 0)
        trace.emit(.steal, at: 1_100, 1, 0, 3)
        trace.emit(.preempt, at: 1_200, 2, 0)
        trace.emit(.stackGrow, at: 1_300, 2, 8192, 16384)
        trace.emit(.unpark, at: 2_000, 2, 1, 0)
        trace.emit(.start, at: 2_500, 2)
        trace.emit(.end, at: 3_000, 2)
        let path = try trace.write(name: "export-chrome")
        let file = try ExportTools.export(path, format: "chrome", profile: "block")
        let json = try #require(JSONSerialization.jsonObject(with: file.bytes) as? [String: Any])
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let names = events.filter { $0["name"] as? String == "thread_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names.contains("P0") && names.contains { $0.hasPrefix("G2") })
        let onP = events.filter { $0["ph"] as? String == "X" && $0["pid"] as? Int == 1 }
        #expect(onP.count == 2 && onP.allSatisfy { $0["name"] as? String == "G2" })
        #expect((onP.first?["ts"] as? Double) == 0.03 && (onP.first?["dur"] as? Double) == 1.0)
        let instants = Set(events.filter { $0["ph"] as? String == "i" }.compactMap { $0["cat"] as? String })
        #expect(instants == ["spawn", "steal", "preempt", "stack"])
        #expect(events.contains { $0["name"] as? String == "blocked: chan-receive" })
    }

    @Test func diffWritesADifferentialSVG() throws {
        let (before, _) = try Self.blockedReceivers()
        var other = Scenario.workerPool()
        let after = try other.write(name: "export-diff")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("diff-\(UUID().uuidString).svg").path
        let result = try ExportTools.run(ExportTools.gotrace, ["diff", before, after, "-o", output])
        #expect(result.status == 0, "\(result.error)")
        let svg = try String(contentsOfFile: output, encoding: .utf8)
        #expect(svg.contains("data-b=") && svg.contains("red: share grew"))
    }

    @Test func badOptionsAreErrors() throws {
        let (trace, _) = try Self.blockedReceivers()
        let result = try ExportTools.run(ExportTools.gotrace, ["export", trace, "--format", "png", "-o", "/tmp/x.png"])
        #expect(result.status != 0)
        #expect(result.error.contains("png"))
    }
}
