import Foundation
import Testing

/// File and line from DWARF, end to end: a recorded program built with debug information (SwiftPM builds
/// with -g), its leak report's frames and its pprof profile's lines.
@Suite
struct SourceLineTests {
    static func recordLeak() throws -> String {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString).gtrace").path
        let recorded = try ExportTools.run(ExportTools.gotrace, ["record", "-o", trace, "--", ExportTools.traceScenarios, "leak"])
        #expect(recorded.status == 0, "record leak exited \(recorded.status): \(recorded.error)")
        return trace
    }

    @Test("leak frames end with the source file and line of the call")
    func leakFramesCarryLines() throws {
        let trace = try Self.recordLeak()
        let result = try ExportTools.run(ExportTools.gotrace, ["report", trace, "--analyzer", "leak", "--format", "json", "--no-progress"])
        let document = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let group = try #require(((document["leak"] as? [String: Any])?["groups"] as? [[String: Any]])?.first)
        let frames = try #require(group["blockedAt"] as? [String])
        let receiver = try #require(frames.first { $0.contains("leakyReceiver") }, "\(frames)")
        // leakyReceiver's call to receive() is in Examples/TraceScenarios/main.swift.
        #expect(receiver.contains("TraceScenarios/main.swift:"), "\(receiver)")
        #expect(receiver.hasPrefix("leakyReceiver(_:) + 0x"), "frames still start with the function name")
    }

    @Test("pprof locations carry lines: go tool pprof -lines names file:line",
          .enabled(if: ExportTools.goAvailable || ExportTools.inCI, "go (golang-go) not installed; CI requires it"))
    func pprofLines() throws {
        try ExportTools.require(ExportTools.goAvailable, "go (golang-go)")
        let trace = try Self.recordLeak()
        let file = try ExportTools.export(trace, format: "pprof", profile: "block")
        let result = try ExportTools.run(ExportTools.which("go") ?? "/usr/bin/go", ["tool", "pprof", "-top", "-lines", file.path],
                                         environment: ["HOME": NSTemporaryDirectory()])
        #expect(result.status == 0, "\(result.error)")
        // pprof's tools print the short name (readable, no argument list).
        #expect(result.output.contains(" leakyReceiver ") && result.output.contains("TraceScenarios/main.swift:"),
                "\(result.output)")
    }
}
