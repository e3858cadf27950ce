import Foundation
import Testing
@testable import GoTraceAnalysis

@Suite struct LatencyAnalyzerTests {
    @Test func fiftySleepsOfTwentyMilliseconds() throws {
        var trace = Scenario.sleepers()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-latency-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let latency = try #require(try report(&trace, ["latency"], outputDirectory: directory)["latency"])
        let blocking = try #require(latency["blocking"] as? [String: Any])
        let sleep = try #require(blocking["sleep"] as? [String: Int])
        #expect(sleep["count"] == 50)
        let p50 = try #require(sleep["p50Ns"])
        #expect(abs(p50 - 20_000_000) <= 2_000_000)
        #expect(Set(sleep.keys) == ["count", "meanNs", "p50Ns", "p90Ns", "p99Ns", "p999Ns", "maxNs"])
        // Spawn → start took 5 µs for each; woken → running 3 µs: 100 scheduling samples.
        let scheduling = try #require(latency["scheduling"] as? [String: Int])
        #expect(scheduling["count"] == 100)
        #expect(scheduling["maxNs"].map { abs($0 - 5_000) <= 5 } == true)
        let lifetime = try #require(latency["lifetime"] as? [String: Int])
        #expect(lifetime["count"] == 50)
        #expect(FileManager.default.fileExists(atPath: directory + "/latency.svg"))
    }
}
