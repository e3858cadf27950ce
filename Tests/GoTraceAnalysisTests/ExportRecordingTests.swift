import Foundation
import Testing

/// Exports of real recordings (Examples/ProfileScenarios, Examples/TraceScenarios recorded with the built
/// `gotrace record`, so their symbols resolve): the profiles must say what the programs did.
@Suite
struct ExportRecordingTests {
    static func record(_ program: String, _ arguments: [String]) throws -> String {
        try recordWithOutput(program, arguments).trace
    }

    /// Records `program` and returns the trace's path and what the program printed.
    static func recordWithOutput(_ program: String, _ arguments: [String]) throws -> (trace: String, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString).gtrace").path
        let result = try ExportTools.run(ExportTools.gotrace, ["record", "-o", path, "--", program] + arguments)
        #expect(result.status == 0, "record failed: \(result.error)")
        return (path, result.output)
    }

    /// Folded lines whose leaf frame contains `fragment`: their summed count.
    static func total(_ folded: String, leaf fragment: String) -> Int64 {
        folded.split(separator: "\n").reduce(0) { sum, line in
            guard let space = line.lastIndex(of: " "), let value = Int64(line[line.index(after: space)...]) else { return sum }
            let leaf = line[..<space].split(separator: ";").last ?? ""
            return fragment.isEmpty || leaf.contains(fragment) ? sum + value : sum
        }
    }

    @Test func blockProfileChargesEachFunctionTheWaitsItHad() throws {
        // The bugs this catches: blocked time charged to the wrong stack, counted in the wrong unit, counted
        // twice, or lost. The scenario (Examples/ProfileScenarios) asks for 12 waits of 40 ms in
        // blockedMostly() and 12 of 10 ms in blockedBriefly(), and prints what it measured around them
        // itself; a loaded machine fires timers late, which lengthens both alike. So, on any machine:
        //   upper  each function's blocked time is at most what the program measured around its waits
        //          (park → unpark lies inside that interval), plus 0.1% for the trace clock's calibration;
        //   lower  at least what the program asked for less 10%: a wait is short in the profile only by
        //          the instants between arming its timer and tracing the park (microseconds), not by 48 ms.
        let rounds: Int64 = 12
        let (trace, output) = try Self.recordWithOutput(ExportTools.profileScenarios, ["block", String(rounds)])
        func measured(_ name: String) -> Int64? {
            output.split(separator: "\n").first { $0.hasPrefix(name + "_ns ") }.flatMap { Int64($0.dropFirst(name.count + 4)) }
        }
        let measuredMostly = try #require(measured("blockedMostly"), "the program printed:\n\(output)")
        let measuredBriefly = try #require(measured("blockedBriefly"), "the program printed:\n\(output)")
        let folded = String(decoding: try ExportTools.export(trace, format: "folded", profile: "block").bytes, as: UTF8.self)
        let mostly = Self.total(folded, leaf: "blockedMostly")
        let briefly = Self.total(folded, leaf: "blockedBriefly")
        let context = "program measured \(measuredMostly) ns and \(measuredBriefly) ns:\n\(folded)"
        #expect(measuredMostly >= rounds * 40_000_000 && measuredBriefly >= rounds * 10_000_000, "timers fired early: \(context)")
        #expect(mostly <= measuredMostly + measuredMostly / 1_000, "blockedMostly \(mostly) ns; \(context)")
        #expect(briefly <= measuredBriefly + measuredBriefly / 1_000, "blockedBriefly \(briefly) ns; \(context)")
        #expect(mostly >= rounds * 40_000_000 * 9 / 10, "blockedMostly \(mostly) ns; \(context)")
        #expect(briefly >= rounds * 10_000_000 * 9 / 10, "blockedBriefly \(briefly) ns; \(context)")
        // Nothing else in the program blocks for long: the two functions hold nearly all of the profile.
        let all = Self.total(folded, leaf: "")
        #expect(mostly + briefly >= all * 9 / 10, "\(all) ns in all; \(context)")
        #expect(folded.contains("[select];") && folded.contains("[sleep];"))
    }

    @Test(.enabled(if: ExportTools.goAvailable || ExportTools.inCI, "go (golang-go) not installed; CI requires it"))
    func goToolPprofTopOfTheRecordedBlockProfileIsTheKnownFunction() throws {
        try ExportTools.require(ExportTools.goAvailable, "go (golang-go)")
        let trace = try Self.record(ExportTools.profileScenarios, ["block"])
        let file = try ExportTools.export(trace, format: "pprof", profile: "block")
        let top = try ExportTools.pprofTop(file.path)
        #expect(top.status == 0, "\(top.output)")
        #expect(ExportTools.topFunctions(top.output).first == "blockedMostly", "\(top.output)")
    }

    @Test func spawnProfileCountsGoroutinesPerCreatingFunction() throws {
        let trace = try Self.record(ExportTools.profileScenarios, ["spawn"])
        let folded = String(decoding: try ExportTools.export(trace, format: "folded", profile: "spawn").bytes, as: UTF8.self)
        #expect(Self.total(folded, leaf: "spawnMany") == 300, "\(folded)")
        #expect(Self.total(folded, leaf: "spawnFew") == 100, "\(folded)")
    }

    @Test
    func leakScenarioBlockingStackShowsLeakyReceiver() throws {
        let trace = try Self.record(ExportTools.traceScenarios, ["leak"])
        let folded = String(decoding: try ExportTools.export(trace, format: "folded", profile: "block").bytes, as: UTF8.self)
        let leaky = folded.split(separator: "\n").filter { $0.contains(";leakyReceiver(_:)") }
        #expect(leaky.count >= 1, "\(folded)")
        #expect(leaky.allSatisfy { $0.hasPrefix("[chan-receive];") })
        // Runtime frames are trimmed by default and kept on request.
        #expect(!folded.contains("Scheduler.park") && !folded.contains("goroutineMain"))
        let whole = String(decoding: try ExportTools.export(trace, format: "folded", profile: "block", ["--runtime-frames"]).bytes,
                           as: UTF8.self)
        // The park stack is taken inside the runtime's park (Scheduler.park → tracePark → captureStack).
        #expect(whole.contains("Scheduler.park") && whole.contains("goroutineMain") && whole.contains("leakyReceiver"))
    }

    @Test func svgOfARecordingIsSelfContained() throws {
        let trace = try Self.record(ExportTools.profileScenarios, ["block", "5"])
        for inverted in [[], ["--inverted"]] {
            let svg = String(decoding: try ExportTools.export(trace, format: "svg", profile: "block", inverted).bytes, as: UTF8.self)
            #expect(svg.contains("blockedMostly") && svg.contains("<script"))
            #expect(!svg.contains("src=\"http") && !svg.contains("href=\"http"))
        }
    }

    /// Events by kind (`gotrace stat --format json`) and the time of the last event since the trace's start
    /// (the last line of `gotrace dump`, "SECONDS.NANOSECONDS …").
    static func stat(_ trace: String) throws -> (byKind: [String: Int], lastEventNs: Int64) {
        let result = try ExportTools.run(ExportTools.gotrace, ["stat", trace, "--format", "json"])
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let dump = try ExportTools.run(ExportTools.gotrace, ["dump", trace])
        let last = try #require(dump.output.split(separator: "\n").last?.split(separator: " ").first)
        let parts = last.split(separator: ".")
        try #require(parts.count == 2, "\(last)")
        let lastEventNs = (Int64(parts[0]) ?? -1) * 1_000_000_000 + (Int64(parts[1]) ?? -1)
        return (json["eventsByKind"] as? [String: Int] ?? [:], lastEventNs)
    }

    /// ProfileScenarios block 3 on one P: its goroutine's track shows three rounds of a select wait of at
    /// least 40 ms then a sleep of at least 10 ms, in that order; no track's slices overlap; the P track
    /// shows the same goroutine running; instants match the trace's own event counts.
    @Test func chromeTimelineOfARecordingShowsTheWaitsInOrder() throws {
        let trace = try Self.record(ExportTools.profileScenarios, ["block", "3"])
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let file = try ExportTools.export(trace, format: "chrome", profile: "block")
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let json = try #require(JSONSerialization.jsonObject(with: file.bytes) as? [String: Any])
        let chrome = ChromeEvents(try #require(json["traceEvents"] as? [[String: Any]]))
        let slices = chrome.slices
        let waits = slices.filter { $0.name.hasPrefix("blocked: ") && ($0.name.hasSuffix("select") || $0.name.hasSuffix("sleep")) }
        #expect(waits.map(\.name) == Array(repeating: ["blocked: select", "blocked: sleep"], count: 3).flatMap { $0 },
                "\(waits.map(\.name))")
        let worker = try #require(waits.first?.track)
        #expect(waits.allSatisfy { $0.track == worker })
        #expect(chrome.trackNames[worker]?.hasPrefix("G\(worker.tid)") == true, "\(chrome.trackNames)")
        // A timer wait ends no earlier than asked (1 µs for the timestamps' rounding).
        for wait in waits {
            let asked: Int64 = wait.name.hasSuffix("select") ? 40_000_000 : 10_000_000
            #expect(wait.end - wait.start >= asked - 1_000, "\(wait.name): \(wait.end - wait.start) ns")
        }
        // The worker runs between its waits: a running slice separates each wait from the next.
        let onWorker = slices.filter { $0.track == worker }
        for (wait, next) in zip(waits, waits.dropFirst()) {
            #expect(onWorker.contains { $0.name == "running" && $0.start >= wait.end && $0.end <= next.start },
                    "nothing ran between \(wait.name) and \(next.name)")
        }
        // One P (maxProcs 1): its track shows the worker running whenever the worker's own track does.
        #expect(chrome.trackNames.filter { $0.key.pid == 1 }.map(\.value) == ["P0"], "\(chrome.trackNames)")
        let onP = slices.filter { $0.track.pid == 1 && $0.name == "G\(worker.tid)" }
        #expect(onP.map { [$0.start, $0.end] } == onWorker.filter { $0.name == "running" }.map { [$0.start, $0.end] })
        // Slices on one track never overlap, and all lie within the trace.
        let stats = try Self.stat(trace)
        for track in Set(slices.map(\.track)) {
            let ordered = slices.filter { $0.track == track }
            for (slice, next) in zip(ordered, ordered.dropFirst()) {
                #expect(next.start >= slice.end, "\(track): \(slice.name) [\(slice.start), \(slice.end)] overlaps \(next.name) at \(next.start)")
            }
        }
        #expect(slices.allSatisfy { $0.start >= 0 && $0.end <= stats.lastEventNs }, "the last event is at \(stats.lastEventNs) ns")
        // One instant per preempt, stack-grow and steal event the trace holds.
        for (category, kind) in [("preempt", "preempt"), ("stack", "stack-grow"), ("steal", "steal")] {
            #expect(chrome.instants.filter { $0.category == category }.count == stats.byKind[kind] ?? 0, "\(kind)")
        }
    }

    /// The same program recorded twice, blockedBriefly() waiting 10 ms then 40 ms a round (blockedMostly()
    /// 40 ms both times): its share of the blocked time grows from about 20% to about 50%, so the diff draws
    /// it red and blockedMostly blue, with each frame's values those of the two recordings' folded exports.
    @Test func diffOfTwoRecordingsShowsTheFunctionThatGrewRed() throws {
        let before = try Self.record(ExportTools.profileScenarios, ["block", "4"])
        let after = try Self.record(ExportTools.profileScenarios, ["block", "4", "40"])
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("diff-\(UUID().uuidString).svg").path
        defer { for path in [before, after, output] { try? FileManager.default.removeItem(atPath: path) } }
        let result = try ExportTools.run(ExportTools.gotrace, ["diff", before, after, "-o", output])
        #expect(result.status == 0, "\(result.error)")
        let foldedBefore = String(decoding: try ExportTools.export(before, format: "folded", profile: "block").bytes, as: UTF8.self)
        let foldedAfter = String(decoding: try ExportTools.export(after, format: "folded", profile: "block").bytes, as: UTF8.self)
        let frames = try DiffFrames(svgAt: output)
        for (function, grew) in [("blockedBriefly", true), ("blockedMostly", false)] {
            let nodes = frames.named { $0.contains(function) }
            try #require(!nodes.isEmpty, "\(function) not in the diff: \(frames.all.map(\.name))")
            #expect(nodes.reduce(0) { $0 + $1.value } == Self.total(foldedAfter, leaf: function), "\(nodes)")
            #expect(nodes.reduce(0) { $0 + $1.baseline } == Self.total(foldedBefore, leaf: function), "\(nodes)")
            for node in nodes {
                let rgb = DiffFrames.channels(node.fill)
                try #require(rgb.count == 3, "\(node)")
                if grew {
                    #expect(rgb[0] == 255 && rgb[1] == rgb[2] && rgb[1] < 200, "\(function) should be red: \(node)")
                } else {
                    #expect(rgb[2] == 255 && rgb[0] == rgb[1] && rgb[0] < 200, "\(function) should be blue: \(node)")
                }
            }
        }
    }
}
