import Foundation
import Testing

/// Exports of real recordings (Examples/ProfileScenarios, Examples/TraceScenarios recorded with the built
/// `gotrace record`, so their symbols resolve): the profiles must say what the programs did.
@Suite
struct ExportRecordingTests {
    static func record(_ program: String, _ arguments: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString).gtrace").path
        let result = try ExportTools.run(ExportTools.gotrace, ["record", "-o", path, "--", program] + arguments)
        #expect(result.status == 0, "record failed: \(result.error)")
        return path
    }

    /// Folded lines whose leaf frame contains `fragment`: their summed count.
    static func total(_ folded: String, leaf fragment: String) -> Int64 {
        folded.split(separator: "\n").reduce(0) { sum, line in
            guard let space = line.lastIndex(of: " "), let value = Int64(line[line.index(after: space)...]) else { return sum }
            let leaf = line[..<space].split(separator: ";").last ?? ""
            return fragment.isEmpty || leaf.contains(fragment) ? sum + value : sum
        }
    }

    @Test func blockProfileShowsTheFunctionBlockedEightyPercentOnTop() throws {
        let trace = try Self.record(ExportTools.profileScenarios, ["block"])
        let folded = String(decoding: try ExportTools.export(trace, format: "folded", profile: "block").bytes, as: UTF8.self)
        let mostly = Self.total(folded, leaf: "blockedMostly")
        let briefly = Self.total(folded, leaf: "blockedBriefly")
        let all = Self.total(folded, leaf: "")
        #expect(all > 200_000_000, "25 rounds of 10 ms: \(folded)")
        let share = Double(mostly) / Double(all)
        #expect(share > 0.7 && share < 0.9, "blockedMostly has \(share) of the block profile:\n\(folded)")
        #expect(Double(briefly) / Double(all) > 0.1, "\(folded)")
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
