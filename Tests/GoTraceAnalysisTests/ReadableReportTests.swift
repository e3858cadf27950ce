import Foundation
import GoSymbolize
import GoTracePluginKit
import GotraceTestSupport
import Testing

/// The reports on a recorded program: no site and no leak starts at one of the runtime's own frames.
@Suite struct ReadableReportTests {
    @Test("the summary's top blocking site and the leak's first frame are the program's, in readable and full form")
    func sitesAreUserFrames() throws {
        _ = try BuiltProduct.require("TraceScenarios")  // a missing product fails the test, never skips it
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString).gtrace").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        _ = try Executables.run(Executables.gotrace, ["record", "-o", trace, "--", Executables.scenarios, "leak"])
        let reported = try Executables.run(Executables.gotrace, ["report", trace, "--format", "json", "--no-progress"])
        #expect(reported.status == 0, "\(reported.error)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(reported.output.utf8)) as? [String: Any])
        let sites = try #require((report["summary"] as? [String: Any])?["topBlocking"] as? [[String: Any]])
        let top = try #require(sites.first)
        let siteFull = try #require(top["siteFull"] as? String)
        let userFull = String(siteFull.components(separatedBy: " → ")[0])
        #expect(StackTrimming.classify(function: userFull, module: "TraceScenarios") == .user, "\(top)")
        #expect((top["site"] as? String)?.hasPrefix("leakyReceiver(_:) → Channel.receive()") == true, "\(top)")
        let groups = try #require((report["leak"] as? [String: Any])?["groups"] as? [[String: Any]])
        for group in groups {
            let first = try #require((group["blockedAtFull"] as? [String])?.first)
            #expect(StackTrimming.classify(first) == .user, "\(group)")
        }

        let text = try Executables.run(Executables.gotrace, ["report", trace, "--no-progress", "--analyzer", "summary"])
        #expect(text.output.contains("[chan-receive] leakyReceiver(_:) → Channel.receive()"), "\(text.output)")
        let full = try Executables.run(Executables.gotrace, ["report", trace, "--no-progress", "--analyzer", "summary", "--full-names"])
        #expect(full.output.contains("[chan-receive] TraceScenarios.leakyReceiver(GoRuntime.Channel<Swift.Int>) -> () → "
                                     + "GoRuntime.Channel.receive() -> Swift.Optional<A>"), "\(full.output)")
    }
}
