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
        #expect(ExportTools.topFunctions(top.output).first == "ProfileScenarios.blockedMostly", "\(top.output)")
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
        let leaky = folded.split(separator: "\n").filter { $0.contains("TraceScenarios.leakyReceiver(") }
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
}
