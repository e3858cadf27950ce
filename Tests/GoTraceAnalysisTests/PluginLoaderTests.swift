import Foundation
import Testing
@testable import GoTraceAnalysis

enum PackagePaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Compiles Plugins/EventCount/event_count.c into a fresh directory with `cc`; returns the library path.
    static func buildEventCountPlugin(extraFlags: [String] = [], name: String = "libEventCount.so") throws -> String {
        try buildCPlugin("Plugins/EventCount/event_count.c", extraFlags: extraFlags, name: name)
    }

    /// Compiles one C plugin source (a path from the package root) against the installed header, with `cc`,
    /// into a fresh directory; returns the library path.
    static func buildCPlugin(_ source: String, extraFlags: [String] = [], name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-plugin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let output = directory.appendingPathComponent(name).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror",
                             "-I", root.appendingPathComponent("Sources/CGoTracePlugin/include").path]
            + extraFlags + ["-o", output, root.appendingPathComponent(source).path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "cc failed on \(source) \(extraFlags)")
        return output
    }
}

@Suite struct PluginLoaderTests {
    @Test func builtInPluginsAreFoundBesideTheBinaries() throws {
        let names = BuiltPlugins.catalog.plugins.map(\.name)
        #expect(names.contains("leak"))
        #expect(names.contains("latency"))
        let leak = try BuiltPlugins.plugin("leak")
        #expect(leak.abiMajor == 1)
        #expect(leak.path.hasSuffix("libLeakAnalyzer.so"))
    }

    @Test func pluginWrittenInCCountsEvents() throws {
        let library = try PackagePaths.buildEventCountPlugin()
        let catalog = PluginLoader.discover(explicitPaths: [library], directories: [])
        #expect(catalog.failures.isEmpty)
        let plugin = try #require(catalog.plugin(named: "event-count"))
        var trace = Scenario.workerPool()
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = AnalysisSession(source: TraceFile.open(path: path), plugins: [plugin], format: .json).run()
        let json = try #require(outcome.results.first?.json)
        let counts = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Int])
        // 4 spawns; 50 rounds × 4 workers of start/park/unpark, then a final start and end per worker.
        #expect(counts["spawn"] == 4)
        #expect(counts["start"] == 204)
        #expect(counts["park"] == 200)
        #expect(counts["unpark"] == 200)
        #expect(counts["end"] == 4)
        #expect(counts["stack"] == 1)
    }

    @Test func pluginForAnotherABIIsReportedAndSkipped() throws {
        let library = try PackagePaths.buildEventCountPlugin(extraFlags: ["-DGOTRACE_EVENT_COUNT_ABI=2"])
        let directory = URL(fileURLWithPath: library).deletingLastPathComponent().path
        // Found by scanning a directory, as GOTRACE_PLUGIN_PATH would.
        let catalog = PluginLoader.discover(explicitPaths: [], directories: [directory])
        #expect(catalog.plugins.isEmpty)
        let failure = try #require(catalog.failures.first)
        #expect(failure.messages.last == "built for plugin ABI 2; this gotrace speaks ABI 1")
    }

    @Test func nonPluginLibrariesInADirectoryAreIgnoredButNamedOnesFail() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-np-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("libnothing.so").path
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: file))
        #expect(PluginLoader.discover(explicitPaths: [], directories: [directory.path]).failures.isEmpty)
        let named = PluginLoader.discover(explicitPaths: [file], directories: [])
        #expect(named.failures.first?.messages.last?.contains("not a gotrace plugin") == true)
    }

    @Test func searchOrderNeverIncludesTheCurrentDirectory() {
        let directories = PluginLoader.searchDirectories(
            environment: ["GOTRACE_PLUGIN_PATH": "/a:/b", "HOME": "/home/u"], executablePath: "/opt/gotrace/bin/gotrace")
        #expect(directories == ["/a", "/b", "/home/u/.local/lib/gotrace/plugins", "/opt/gotrace/lib/gotrace/plugins",
                                "/opt/gotrace/bin"])
    }
}
