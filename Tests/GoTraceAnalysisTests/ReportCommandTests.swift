import Foundation
import Testing

/// Runs the built `gotrace` on synthetic traces, as a user would (argv in, exit status and stdout out).
@Suite struct ReportCommandTests {
    static let gotrace = BuiltPlugins.directory + "/gotrace"

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ReportCommandTests.gotrace)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    @Test func failOnLeakExitsThreeWithTheLeakDocument() throws {
        var trace = Scenario.hundredBlockedReceivers()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run(["report", path, "--format", "json", "--fail-on-leak"])
        #expect(result.status == 3, "\(result.error)")
        let document = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let leak = try #require(document["leak"] as? [String: Any])
        #expect(leak["leaked"] as? Int == 100)
        #expect(document["latency"] != nil)
    }

    @Test func noLeakExitsZero() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run(["report", path, "--fail-on-leak"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("no leaked goroutines"))
    }

    @Test func unknownAnalyzerIsAnErrorChain() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run(["report", path, "--analyzer", "nope"])
        #expect(result.status == 1)
        #expect(result.error.contains("error: analyzer \"nope\" not found\ncaused by: plugins found:"))
    }

    @Test func pluginsListsTheBuiltIns() throws {
        let result = try run(["plugins", "--format", "json"])
        #expect(result.status == 0)
        let listing = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let names = (listing["plugins"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("leak") && names.contains("latency"))
    }
}
