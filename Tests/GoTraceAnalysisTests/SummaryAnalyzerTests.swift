import Foundation
import Testing

/// The summary analyzer ("the kitchen view") on real recordings of programs whose numbers are known.
@Suite
struct SummaryAnalyzerTests {
    static func summary(of program: String, _ arguments: [String]) throws -> [String: Any] {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("sum-\(UUID().uuidString).gtrace").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let recorded = try ExportTools.run(ExportTools.gotrace, ["record", "-o", trace, "--", program] + arguments)
        #expect(recorded.status == 0, "record \(arguments) exited \(recorded.status): \(recorded.error)")
        let result = try ExportTools.run(ExportTools.gotrace, ["report", trace, "--format", "json", "--no-progress"])
        #expect(result.status == 0, "\(result.error)")
        let document = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        return try #require(document["summary"] as? [String: Any], "the default report includes the summary")
    }

    @Test("the blocking scenario: its two blocking functions are the top sites, in order, and the P is mostly idle")
    func blockingSites() throws {
        let summary = try Self.summary(of: ExportTools.profileScenarios, ["block"])
        let sites = try #require(summary["topBlocking"] as? [[String: Any]])
        #expect((sites.first?["site"] as? String)?.contains("blockedMostly") == true, "\(sites)")
        #expect((sites.dropFirst().first?["site"] as? String)?.contains("blockedBriefly") == true, "\(sites)")
        #expect(sites.first?["reason"] as? String == "select")
        #expect(summary["goroutinesCreated"] as? Int == 1)
        #expect((summary["busyPercent"] as? Double ?? 100) < 20, "it waits on timers 100% of the time but for the work")
    }

    @Test("the CPU scenario: spin() takes the samples and the P is busy")
    func cpuTop() throws {
        // 1 s of CPU time (the scenario counts CPU time, not wall time): ~99 samples at 99 Hz however
        // loaded the machine is.
        let summary = try Self.summary(of: ExportTools.profileScenarios, ["cpu", "1000"])
        let top = try #require(summary["topCPU"] as? [[String: Any]])
        #expect((top.first?["function"] as? String)?.hasPrefix("spin(") == true, "\(top)")
        #expect((top.first?["functionFull"] as? String)?.contains("ProfileScenarios.spin") == true, "\(top)")
        #expect((summary["cpuSamples"] as? Int ?? 0) > 20)
        #expect((summary["busyPercent"] as? Double ?? 0) > 80)
    }

    @Test("the steal scenario: 2,001 goroutines created, steals counted, both Ps busy")
    func stealCounts() throws {
        let summary = try Self.summary(of: ExportTools.traceScenarios, ["steal"])
        #expect(summary["goroutinesCreated"] as? Int == 2_001)
        #expect((summary["steals"] as? Int ?? 0) > 0)
        #expect((summary["procs"] as? [[String: Any]])?.count == 2)
    }
}
