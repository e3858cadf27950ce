import Foundation
import GotraceTestSupport
import GoSymbolize
import Testing
@testable import GoTraceAnalysis

/// The built plugin libraries: next to the test bundle in the build directory.
enum BuiltPlugins {
    static let directory = BuiltProduct.directory

    static let catalog = PluginLoader.discover(explicitPaths: [directory], directories: [])

    static func plugin(_ name: String) throws -> LoadedPlugin {
        try #require(catalog.plugin(named: name), "plugin \(name) not built in \(directory) (run swift build first)")
    }
}

/// Runs `plugins` over `trace` and returns each one's JSON document, parsed.
func report(_ trace: inout SyntheticTrace, _ names: [String], options: [String: [String: String]] = [:],
            outputDirectory: String? = nil) throws -> [String: [String: Any]] {
    let path = try trace.write()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let plugins = try names.map(BuiltPlugins.plugin)
    let outcome = AnalysisSession(source: TraceFile.open(path: path), plugins: plugins, options: options, format: .json,
                                  outputDirectory: outputDirectory).run()
    #expect(outcome.fatal == nil)
    var documents: [String: [String: Any]] = [:]
    for result in outcome.results {
        #expect(result.failure == nil, "\(result.name): \(result.failure ?? [])")
        let json = try #require(result.json)
        documents[result.name] = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
    return documents
}

@Suite struct LeakAnalyzerTests {
    @Test func hundredBlockedReceiversFormOneGroup() throws {
        var trace = Scenario.hundredBlockedReceivers()
        let leak = try #require(try report(&trace, ["leak"])["leak"])
        #expect(leak["leaked"] as? Int == 100)
        let groups = try #require(leak["groups"] as? [[String: Any]])
        #expect(groups.count == 1)
        let group = try #require(groups.first)
        #expect(group["count"] as? Int == 100)
        #expect(group["reason"] as? String == "chan-receive")
        #expect(group["goroutines"] as? [Int] == Array(10..<110))
        // No symbols for synthetic addresses: frames fall back to hex, innermost first.
        #expect(group["blockedAt"] as? [String] == ["0x1000", "0x2000", "0x3000"])
        #expect(group["createdAt"] as? [String] == ["0x4000", "0x5000"])
        // The first receiver parked at 2.5 µs; the trace ends 10 ms after the last spawn.
        let blocked = try #require(group["blockedForNs"] as? Int)
        #expect(blocked > 10_000_000 && blocked < 10_200_000)
        #expect((leak["cycles"] as? [Any])?.isEmpty == true)
    }

    @Test func abbaDeadlockIsOneCycleOfTwo() throws {
        var trace = Scenario.abbaDeadlock()
        let leak = try #require(try report(&trace, ["leak"])["leak"])
        #expect(leak["leaked"] as? Int == 2)
        let cycles = try #require(leak["cycles"] as? [[String: Any]])
        #expect(cycles.count == 1)
        #expect(cycles.first?["goroutines"] as? [Int] == [2, 3])
        let edges = try #require(cycles.first?["edges"] as? [[String: Any]])
        #expect(edges.map { $0["waitsFor"] as? Int } == [3, 2])
        #expect(edges.map { $0["object"] as? String } == ["0xb000", "0xa000"])
    }

    @Test func workerPoolLeaksNothing() throws {
        var trace = Scenario.workerPool()
        let leak = try #require(try report(&trace, ["leak"])["leak"])
        #expect(leak["leaked"] as? Int == 0)
        #expect((leak["groups"] as? [Any])?.isEmpty == true)
    }

    @Test func withoutHolderEventsThereAreNoCycles() throws {
        // The same deadlock recorded with format v1's table: the leak is found, the cycle cannot be.
        var trace = Scenario.hundredBlockedReceivers()
        let leak = try #require(try report(&trace, ["leak"])["leak"])
        #expect((leak["cycles"] as? [Any])?.count == 0)
    }

    @Test func badOptionIsAnErrorChain() throws {
        var trace = Scenario.workerPool()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = AnalysisSession(source: TraceFile.open(path: path), plugins: [try BuiltPlugins.plugin("leak")],
                                      options: ["leak": ["include-sleep": "maybe"]]).run()
        let failure = try #require(outcome.results.first?.failure)
        #expect(failure.first == "analyzer leak could not start")
        #expect(failure.last?.contains("include-sleep must be true or false") == true)
    }
}
