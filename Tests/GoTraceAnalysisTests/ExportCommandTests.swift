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

    /// Scenario.workerPool: worker w (2…5) in round r (0…49) parks on chan-receive at stack 1 at
    /// 1000 + 100(4r + w − 1) + 50 ns and is unparked 30 + r ns later. Each worker's speedscope track must
    /// open the whole stack at each park and close it (innermost first) at the unpark, in time order.
    @Test func speedscopeBlockExportHasATimeOrderedTrack() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write(name: "export-speedscope")
        // The one blocking stack, root first, named as the folded export names it.
        let folded = String(decoding: try ExportTools.export(path, format: "folded", profile: "block").bytes, as: UTF8.self)
        let foldedLine = try #require(folded.split(separator: "\n").first)
        let stack = foldedLine.split(separator: " ").dropLast().joined(separator: " ").split(separator: ";").map(String.init)
        #expect(stack.count == 4 && stack.first == "[chan-receive]", "\(folded)")

        let file = try ExportTools.export(path, format: "speedscope", profile: "block")
        let json = try #require(JSONSerialization.jsonObject(with: file.bytes) as? [String: Any])
        #expect(json["activeProfileIndex"] as? Int == 0)
        let frames = try #require((json["shared"] as? [String: Any])?["frames"] as? [[String: Any]]).map { $0["name"] as? String ?? "?" }
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(profiles.first?["type"] as? String == "sampled")
        let tracks = profiles.dropFirst()
        #expect(tracks.count == 4 && tracks.allSatisfy { $0["type"] as? String == "evented" && $0["unit"] as? String == "nanoseconds" })
        var workers: [Int] = []
        for track in tracks {
            let name = track["name"] as? String ?? ""
            let worker = try #require(Int(name.dropFirst().prefix { $0.isNumber }), "track \(name)")
            workers.append(worker)
            var expected: [String] = []
            for round in 0..<50 {
                let park = 1000 + 100 * (4 * round + worker - 1) + 50
                let unpark = park + 30 + round
                expected += stack.map { "O \($0) \(park)" } + stack.reversed().map { "C \($0) \(unpark)" }
            }
            let events = try #require(track["events"] as? [[String: Any]])
            let actual = events.map { event in
                "\(event["type"] as? String ?? "?") \(frames[event["frame"] as? Int ?? 0]) \(event["at"] as? Int ?? -1)"
            }
            // The first difference only: a whole track of 400 events would bury it.
            let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(actual.count == expected.count, "\(name): \(actual.count) events")
            #expect(firstDifference == nil, "\(name) event \(firstDifference?.offset ?? 0): \(firstDifference?.element.0 ?? "") instead of \(firstDifference?.element.1 ?? "")")
            #expect(track["startValue"] as? Int == 1000 + 100 * (worker - 1) + 50)
            #expect(track["endValue"] as? Int == 1000 + 100 * (4 * 49 + worker - 1) + 50 + 30 + 49)
        }
        #expect(workers.sorted() == [2, 3, 4, 5])
    }

    /// Every event of the timeline, worked out by hand from the trace below: which goroutine ran on which P
    /// when, the blocked slice from park to unpark, and an instant for each spawn, steal, preemption request
    /// and stack growth — nothing more.
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
        #expect(json["displayTimeUnit"] as? String == "ns")
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let chrome = ChromeEvents(events)

        // Metadata: process 1 holds the P tracks, process 2 the goroutine tracks.
        #expect(chrome.processNames == [1: "Ps", 2: "goroutines"])
        #expect(chrome.trackNames == [ChromeEvents.Track(pid: 1, tid: 0): "P0", ChromeEvents.Track(pid: 1, tid: 1): "P1",
                                      ChromeEvents.Track(pid: 2, tid: 1): "G1", ChromeEvents.Track(pid: 2, tid: 2): "G2"])
        // "ph name pid tid start-ns [duration-ns]", sorted.
        let expected = [
            "X G2 1 0 30 1000", "X G2 1 0 2500 500",  // G2 on P0: until its park, and after its unpark until its end
            "X running 2 2 30 1000", "X running 2 2 2500 500", "X blocked: chan-receive 2 2 1030 970",
            "i spawn G2 2 1 20", "i steal 3 from P0 1 1 1100", "i preempt 2 2 1200", "i stack-grow 2 2 1300",
        ]
        #expect(chrome.slicesAndInstants == expected.sorted())
        #expect(chrome.events.filter { $0["ph"] as? String == "i" }.allSatisfy { $0["s"] as? String == "t" })
    }

    /// Two block profiles of the same two stacks with known nanoseconds: A 80 / B 20 before, A 50 / B 50
    /// after. In the differential graph B's frames (share +30 points) are full red, A's (−30) full blue, the
    /// park reason they share (share unchanged) white; widths are the second profile's values, `data-b` the
    /// baseline's.
    @Test func diffColoursTheStackWhoseShareGrewRed() throws {
        func blockTrace(_ aNanoseconds: UInt64, _ bNanoseconds: UInt64) throws -> String {
            var trace = SyntheticTrace()
            trace.stack(1, [0xA000, 0x9000])
            trace.stack(2, [0xB000, 0x9000])
            trace.emit(.spawn, at: 10, 0, 2, 0)
            trace.emit(.spawn, at: 10, 0, 3, 0)
            trace.emit(.start, at: 100, 2)
            trace.emit(.park, at: 200, 2, UInt64(ParkReason.chanReceive.rawValue), 1)
            trace.emit(.unpark, at: 200 + aNanoseconds, 2, 0, 0)
            trace.emit(.start, at: 300, 3)
            trace.emit(.park, at: 400, 3, UInt64(ParkReason.chanReceive.rawValue), 2)
            trace.emit(.unpark, at: 400 + bNanoseconds, 3, 0, 0)
            trace.emit(.start, at: 500 + aNanoseconds + bNanoseconds, 2)
            trace.emit(.end, at: 510 + aNanoseconds + bNanoseconds, 2)
            trace.emit(.start, at: 520 + aNanoseconds + bNanoseconds, 3)
            trace.emit(.end, at: 530 + aNanoseconds + bNanoseconds, 3)
            return try trace.write(name: "export-diff")
        }
        let before = try blockTrace(80_000, 20_000)
        let after = try blockTrace(50_000, 50_000)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("diff-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try ExportTools.run(ExportTools.gotrace, ["diff", before, after, "-o", output])
        #expect(result.status == 0, "\(result.error)")
        let frames = try DiffFrames(svgAt: output)
        let grew = try #require(frames.named { $0.hasSuffix("0xb000") || $0.hasSuffix("0xB000") }.first, "\(frames.all.map(\.name))")
        #expect(grew.value == 50_000 && grew.baseline == 20_000)
        #expect(grew.fill == DiffFrames.fullRed, "\(grew)")
        let shrank = try #require(frames.named { $0.hasSuffix("0xa000") || $0.hasSuffix("0xA000") }.first)
        #expect(shrank.value == 50_000 && shrank.baseline == 80_000)
        #expect(shrank.fill == DiffFrames.fullBlue, "\(shrank)")
        let reason = try #require(frames.named { $0 == "[chan-receive]" }.first)
        #expect(reason.value == 100_000 && reason.baseline == 100_000)
        #expect(reason.fill == DiffFrames.white, "\(reason)")
    }

    @Test func badOptionsAreErrors() throws {
        let (trace, _) = try Self.blockedReceivers()
        let result = try ExportTools.run(ExportTools.gotrace, ["export", trace, "--format", "png", "-o", "/tmp/x.png"])
        #expect(result.status != 0)
        #expect(result.error.contains("png"))
    }
}
