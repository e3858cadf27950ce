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

    /// A duration label of the chart's value axis ("1ns", "10µs", "100ms", "1s") in nanoseconds.
    static func nanoseconds(_ label: String) -> Double? {
        for (unit, scale) in [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)] where label.hasSuffix(unit) {
            if let number = Double(label.dropLast(unit.count)) { return number * scale }
        }
        return nil
    }

    /// latency.svg of Scenario.sleepers, read back as a chart: its axes, one line per non-empty distribution
    /// named with its count in the legend, and points that say the same as the JSON report.
    @Test func chartShowsEachDistributionAsTheReportDoes() throws {
        var trace = Scenario.sleepers()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-latency-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let latency = try #require(try report(&trace, ["latency"], outputDirectory: directory)["latency"])
        let svg = try XMLTree.parse(try Data(contentsOf: URL(fileURLWithPath: directory + "/latency.svg")))
        #expect(svg.name == "svg")
        let texts = svg.all("text")

        // Value axis: one gridline per decade from 1 ns up to the decade above the largest value, the
        // lifetime maximum (20 ms of sleep plus up to 60 µs of slack and 9 µs of running: under 100 ms).
        let horizontal = svg.all("line").filter { $0["y1"] == $0["y2"] }.compactMap { Double($0["y1"] ?? "") }
        let valueLabels = texts.filter { $0["text-anchor"] == "end" }.map(\.text)
        #expect(valueLabels == ["1ns", "10ns", "100ns", "1µs", "10µs", "100µs", "1ms", "10ms", "100ms"])
        #expect(horizontal.count == valueLabels.count)
        // Percentile axis: one more nine per gridline.
        let vertical = svg.all("line").filter { $0["x1"] == $0["x2"] }.compactMap { Double($0["x1"] ?? "") }
        let percentileLabels = texts.filter { $0["text-anchor"] == "middle" }.map(\.text)
        #expect(percentileLabels == ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "percentile"])
        try #require(horizontal.count >= 2 && vertical.count >= 2)

        // Screen position → value: log scale between the 1 ns and 10 ns gridlines; percentile → x: linear
        // in the number of nines, 0% and 90% one gridline apart.
        let decade = horizontal[0] - horizontal[1]
        func value(atY y: Double) -> Double { pow(10, (horizontal[0] - y) / decade) }
        func x(ofPercentile percentile: Double) -> Double {
            let nines = percentile >= 100 ? 5 : -log10(1 - percentile / 100)
            return vertical[0] + nines * (vertical[1] - vertical[0])
        }

        // Legend: the series with samples, in the report's order, each with its count; preemption and
        // syscall have none in this scenario and are left out.
        #expect(texts.first?.text == "Latency by percentile (log scale)")
        let legend = texts.dropFirst().filter { $0["text-anchor"] == nil }.map(\.text)
        #expect(legend == ["scheduling (100)", "blocking sleep (50)", "lifetime (50)"])
        let lines = svg.all("polyline")
        try #require(lines.count == 3)
        let swatches = svg.all("rect").filter { $0["width"] == "12" }.compactMap { $0["fill"] }
        #expect(swatches == lines.compactMap { $0["stroke"] })
        #expect(Set(swatches).count == 3)

        let blocking = try #require(latency["blocking"] as? [String: Any])
        let series: [(name: String, stats: [String: Int]?)] = [
            ("scheduling", latency["scheduling"] as? [String: Int]), ("blocking sleep", blocking["sleep"] as? [String: Int]),
            ("lifetime", latency["lifetime"] as? [String: Int]),
        ]
        let percentiles: [Double] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100]
        for (line, (name, stats)) in zip(lines, series) {
            let stats = try #require(stats, "\(name) missing from the report")
            let points = (line["points"] ?? "").split(separator: " ").map { pair in
                pair.split(separator: ",").compactMap { Double($0) }
            }
            try #require(points.count == percentiles.count && points.allSatisfy { $0.count == 2 }, "\(name): \(points)")
            for (point, percentile) in zip(points, percentiles) {
                #expect(abs(point[0] - x(ofPercentile: percentile)) < 0.01, "\(name) p\(percentile) at x \(point[0])")
            }
            // A percentile curve never falls.
            #expect(zip(points, points.dropFirst()).allSatisfy { $0[1] >= $1[1] }, "\(name): \(points)")
            for (percentile, key) in [(50.0, "p50Ns"), (90, "p90Ns"), (99, "p99Ns"), (99.9, "p999Ns"), (100, "maxNs")] {
                let index = try #require(percentiles.firstIndex(of: percentile))
                let expected = Double(try #require(stats[key]))
                let drawn = value(atY: points[index][1])
                #expect(abs(drawn - expected) <= expected * 0.005, "\(name) \(key): drawn \(drawn), report \(expected)")
            }
        }
        // And what the scenario did: sleeps of 20 ms, 5 µs from spawn to running.
        let sleepLine = try #require(lines[1]["points"]?.split(separator: " ")[2].split(separator: ",").last.flatMap { Double($0) })
        #expect(abs(value(atY: sleepLine) - 20e6) < 1e6)
        #expect(valueLabels.compactMap(Self.nanoseconds) == (0...8).map { pow(10, Double($0)) })
    }
}
