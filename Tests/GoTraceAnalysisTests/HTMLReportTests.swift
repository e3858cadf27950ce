import Foundation
import GoProfile
import Testing

/// `gotrace report --html` and `gotrace view`: the page is one self-contained file whose embedded documents
/// are the ones `gotrace report --format json` prints. (scripts/browser-check.sh loads the pages in Chromium.)
@Suite struct HTMLReportTests {
    static let gotrace = BuiltPlugins.directory + "/gotrace"

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try Executables.run(HTMLReportTests.gotrace, arguments)
    }

    /// The documents embedded in a page, by analyzer name.
    static func embedded(_ page: String) throws -> [String: Any] {
        let open = try #require(page.range(of: "<script type=\"application/json\" id=\"report-data\">"))
        let close = try #require(page[open.upperBound...].range(of: "</script>"))
        let json = String(page[open.upperBound..<close.lowerBound])
        return try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func reportHTMLEmbedsTheDocumentsTheJSONReportPrints() throws {
        var trace = Scenario.hundredBlockedReceivers()
        let path = try trace.write()
        let page = path + ".html"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: page)
        }
        let result = try run(["report", path, "--format", "json", "--html", page])
        #expect(result.status == 0, "\(result.error)")
        let printed = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(printed["html-report"] == nil, "analyzers added only for the page print nothing")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let documents = try HTMLReportTests.embedded(html)
        let leak = try #require(documents["leak"] as? [String: Any])
        #expect(leak["leaked"] as? Int == 100)
        #expect(NSDictionary(dictionary: leak).isEqual(to: try #require(printed["leak"] as? [String: Any])))
        let report = try #require(documents["html-report"] as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["goroutinesAlive"] as? Int ?? 0 >= 100)
        let timeline = try #require(report["timeline"] as? [String: Any])
        #expect(!(timeline["goroutines"] as? [Any] ?? []).isEmpty)
        // Self-contained: no external script, stylesheet or image.
        #expect(!html.contains("<script src") && !html.contains("<link") && !html.contains("<img"))
        #expect(html.contains("function gotraceFlameGraph(svg)"), "the flame graph script is the SVG export's")
        #expect(html.contains("id=\"leaked-count\"") && html.contains("@media print"))
    }

    @Test func viewWritesNextToTheTraceAndPrintsThePath() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write()
        let base = path.hasSuffix(".gtrace") ? String(path.dropLast(7)) : path
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: base + ".html")
        }
        let result = try run(["view", path])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == base + ".html")
        let documents = try HTMLReportTests.embedded(try String(contentsOfFile: base + ".html", encoding: .utf8))
        let report = try #require(documents["html-report"] as? [String: Any])
        #expect(report["topBlocking"] as? [Any] != nil)
        #expect(documents["latency"] != nil)
    }

    @Test func exactSlicesAreBoundedAndTheBucketsKeepTheRest() throws {
        // A recording (synthetic traces carry no P): work stealing between Ps.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("html-lod-\(UUID().uuidString).gtrace").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorded = try run(["record", "-o", path, "--", Executables.scenarios, "steal"])
        #expect(recorded.status == 0, "\(recorded.error)")
        let result = try run(["report", path, "--analyzer", "html-report", "--format", "json", "--option", "html-report.max-slices=3"])
        #expect(result.status == 0, "\(result.error)")
        let printed = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let timeline = try #require((printed["html-report"] as? [String: Any])?["timeline"] as? [String: Any])
        #expect((timeline["slices"] as? [Any])?.count == 12)
        #expect(timeline["slicesDropped"] as? Int ?? 0 > 0)
        let levels = try #require(timeline["levels"] as? [[String: Any]])
        #expect(levels.count == 4)
        let widths = levels.compactMap { $0["bucketNs"] as? Int }
        #expect(widths.count == 4 && zip(widths, widths.dropFirst()).allSatisfy { $1 == $0 * 4 })
    }

    @Test func embeddedDocumentsCannotCloseTheirScript() throws {
        let page = String(decoding: ReportPage.render(title: "t", documents: [("x", "{\"a\": \"</script><!-- \"}")]), as: UTF8.self)
        let documents = try HTMLReportTests.embedded(page)
        #expect((documents["x"] as? [String: Any])?["a"] as? String == "</script><!-- ")
    }
}
