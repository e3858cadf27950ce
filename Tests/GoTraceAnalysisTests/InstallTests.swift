import Foundation
import GotraceTestSupport
import Testing

/// scripts/install.sh into a temporary prefix, then the installed gotrace run from an unrelated directory.
///
/// The script is run with `--no-build` on the products this test bundle was built beside: a `swift build` from
/// inside `swift test` would wait forever for the build directory this test holds. The installed binary must
/// find its analyzers through the install layout (PREFIX/lib/gotrace/plugins), so the test also checks that
/// nothing else in reach could have supplied them: bin/ holds only gotrace, HOME is empty and
/// GOTRACE_PLUGIN_PATH is unset, and every listed plugin path is under the prefix.
// Serialized: both tests build generate-manual in the same scratch directory the first time.
@Suite(.serialized) struct InstallTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let analyzers = ["FlamegraphAnalyzer", "HTMLReportAnalyzer", "LatencyAnalyzer", "LeakAnalyzer", "SummaryAnalyzer"]
    static let subcommands = ["record", "top", "dump", "stat", "report", "plugins", "export", "diff", "view"]

    /// A fresh empty directory, resolved (the plugin paths gotrace prints are resolved through /proc/self/exe).
    static func freshDirectory(_ label: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.resolvingSymlinksInPath().path
    }

    /// Runs scripts/install.sh on this test's build into `prefix`; fails the test with the script's output if it fails.
    static func install(into prefix: String) throws -> ProcessOutcome {
        // BuiltPlugins.directory is SCRATCH/<triple>/<configuration>; SwiftPM also links SCRATCH/<configuration> to it.
        let products = URL(fileURLWithPath: BuiltPlugins.directory)
        let configuration = products.lastPathComponent
        let scratch = products.deletingLastPathComponent().deletingLastPathComponent().path
        let outcome = try runProcess("/usr/bin/env", [
            "bash", packageRoot + "/scripts/install.sh", "--prefix", prefix, "--no-build",
            "--configuration", configuration, "--scratch-path", scratch,
        ])
        try #require(outcome.status == 0, "install.sh failed (\(outcome.status)):\n\(outcome.output)\n\(outcome.error)")
        return outcome
    }

    @Test func installedGotraceRunsFromAnotherDirectoryAndFindsItsAnalyzersInThePrefix() throws {
        let prefix = try Self.freshDirectory("prefix")
        let elsewhere = try Self.freshDirectory("elsewhere")
        let emptyHome = try Self.freshDirectory("home")
        defer {
            for directory in [prefix, elsewhere, emptyHome] { try? FileManager.default.removeItem(atPath: directory) }
        }
        let installation = try Self.install(into: prefix)
        #expect(installation.output.contains("==> installed gotrace 0.1.0 (trace format 2):"))
        #expect(installation.output.contains(prefix + "/lib/gotrace/plugins/libLeakAnalyzer.so"))

        // Only gotrace in bin/: the "directory of the executable" rule has nothing to find there.
        #expect(try FileManager.default.contentsOfDirectory(atPath: prefix + "/bin") == ["gotrace"])
        let gotrace = prefix + "/bin/gotrace"
        let isolated = ["HOME": emptyHome, "GOTRACE_PLUGIN_PATH": ""]  // an empty entry list: see PluginLoader
        func run(_ arguments: [String]) throws -> ProcessOutcome {
            try runProcess(gotrace, arguments, environment: isolated, in: URL(fileURLWithPath: elsewhere))
        }

        let version = try run(["--version"])
        #expect(version.status == 0)
        #expect(version.output == "gotrace 0.1.0 (trace format 2)\n")

        let listing = try run(["plugins", "--format", "json"])
        #expect(listing.status == 0, "\(listing.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(listing.output.utf8)) as? [String: Any])
        let plugins = try #require(json["plugins"] as? [[String: Any]])
        #expect(plugins.compactMap { $0["name"] as? String }.sorted()
            == ["flamegraph", "html-report", "latency", "leak", "summary"])
        #expect(plugins.compactMap { $0["path"] as? String }.sorted()
            == Self.analyzers.map { "\(prefix)/lib/gotrace/plugins/lib\($0).so" })
        #expect((json["errors"] as? [Any])?.isEmpty == true, "\(json["errors"] ?? "")")
        #expect((json["shadowed"] as? [Any])?.isEmpty == true, "\(json["shadowed"] ?? "")")

        // The analyzers do run, not only load: traces/basic.gtrace has 6 spawn events (traces/basic.dump.txt).
        let report = try run(["report", Self.packageRoot + "/traces/basic.gtrace", "--analyzer", "summary",
                              "--format", "json"])
        #expect(report.status == 0, "\(report.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [String: Any])
        let summary = try #require(document["summary"] as? [String: Any])
        #expect(summary["goroutinesCreated"] as? Int == 6)
    }

    @Test func manPageCompletionsAndHeaderAreInstalledAndReinstallingChangesNothing() throws {
        let prefix = try Self.freshDirectory("prefix")
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        _ = try Self.install(into: prefix)
        func contents(_ path: String) throws -> String {
            try String(contentsOfFile: prefix + "/" + path, encoding: .utf8)
        }

        let manual = try contents("share/man/man1/gotrace.1")
        #expect(manual.hasPrefix(".\\\" \"Generated by swift-argument-parser\""))
        #expect(manual.contains(".Dt GOTRACE 1"))
        // Every subcommand has its entry, and the plugins entry carries its search order.
        for subcommand in Self.subcommands { #expect(manual.contains(".It Em \(subcommand)\n"), "\(subcommand)") }
        #expect(manual.contains("PREFIX/bin/gotrace finds PREFIX/lib/gotrace/plugins"))

        let bash = try contents("share/bash-completion/completions/gotrace")
        #expect(bash.contains("compgen -W '\(Self.subcommands.joined(separator: " ")) help'"))
        // It is a script bash accepts, and it registers the completion for gotrace.
        let registered = try runProcess("/usr/bin/env", [
            "bash", "-c", "source \"$0\" && complete -p gotrace", prefix + "/share/bash-completion/completions/gotrace",
        ])
        #expect(registered.status == 0, "\(registered.error)")
        #expect(registered.output == "complete -o filenames -F _gotrace gotrace\n")
        let zsh = try contents("share/zsh/site-functions/_gotrace")
        #expect(zsh.hasPrefix("#compdef gotrace\n"))
        let fish = try contents("share/fish/vendor_completions.d/gotrace.fish")
        for subcommand in Self.subcommands { #expect(zsh.contains("'\(subcommand):"), "\(subcommand)") }
        for subcommand in Self.subcommands { #expect(fish.contains("-fa '\(subcommand)'"), "\(subcommand)") }

        let header = try contents("include/gotrace_plugin.h")
        let source = try String(contentsOfFile: Self.packageRoot + "/Sources/CGoTracePlugin/include/gotrace_plugin.h",
                                encoding: .utf8)
        #expect(header == source)

        // Installing again over the same prefix leaves the same files (the man page is dated by the commit).
        let entries = try FileManager.default.subpathsOfDirectory(atPath: prefix).sorted()
        let files = entries.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: prefix + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        #expect(files.count == 11)  // bin: 1, plugins: 5, the header, the man page, three completions
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: prefix + "/" + $0)) }
        _ = try Self.install(into: prefix)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: prefix).sorted() == entries)
        #expect(try files.map { try Data(contentsOf: URL(fileURLWithPath: prefix + "/" + $0)) } == before)
    }
}
