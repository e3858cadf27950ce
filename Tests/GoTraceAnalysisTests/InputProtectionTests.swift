import Foundation
import GotraceTestSupport
import Testing
@testable import GoTraceAnalysis

/// `report`, `export`, `view` and `diff` never write over the trace they read, however the output names it;
/// plugins are never loaded from the current directory unless named.
@Suite struct InputProtectionTests {
    /// A fresh directory holding a synthetic trace `in.gtrace`; returns both and the trace's bytes.
    static func traceInFreshDirectory() throws -> (directory: String, trace: String, bytes: Data) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-protect-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var scenario = Scenario.hundredBlockedReceivers()
        let written = try scenario.write(name: "protect")
        let trace = directory + "/in.gtrace"
        try FileManager.default.moveItem(atPath: written, toPath: trace)
        return (directory, trace, try Data(contentsOf: URL(fileURLWithPath: trace)))
    }

    static func gotrace(_ arguments: [String], in directory: String) throws -> ProcessOutcome {
        try runProcess(ExportTools.gotrace, arguments, in: URL(fileURLWithPath: directory))
    }

    @Test func sameFileIsDecidedByInodeNotBySpelling() throws {
        let (directory, trace, _) = try Self.traceInFreshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory + "/symlink.gtrace", withDestinationPath: trace)
        try FileManager.default.linkItem(atPath: trace, toPath: directory + "/hardlink.gtrace")
        #expect(InputProtection.isSameFile(directory + "/./in.gtrace", trace))
        #expect(InputProtection.isSameFile(directory + "/symlink.gtrace", trace))
        #expect(InputProtection.isSameFile(directory + "/hardlink.gtrace", trace))
        #expect(!InputProtection.isSameFile(directory + "/missing.svg", trace))
        #expect(InputProtection.refusal(toWrite: directory + "/out.svg", inputs: [trace]) == nil)
    }

    @Test func outputsNamingTheInputAreRefusedBeforeAnythingIsWritten() throws {
        let (directory, trace, original) = try Self.traceInFreshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory + "/link.svg", withDestinationPath: trace)
        let attempts: [[String]] = [
            ["export", trace, "-o", trace],
            ["export", "in.gtrace", "-o", "./in.gtrace", "--format", "folded"],
            ["export", trace, "-o", directory + "/link.svg"],
            ["report", trace, "--html", trace],
            ["report", trace, "-o", trace],
            ["view", trace, "-o", trace],
            ["diff", trace, trace, "-o", trace],
        ]
        for arguments in attempts {
            let outcome = try Self.gotrace(arguments, in: directory)
            #expect(outcome.status == 1, "\(arguments): status \(outcome.status)")
            #expect(outcome.error.contains("error: refusing to write "), "\(arguments): \(outcome.error)")
            #expect(outcome.error.contains("it is the input trace"), "\(arguments): \(outcome.error)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: trace)) == original, "\(arguments) changed the trace")
        }
    }

    @Test func aPluginOutputNamedLikeTheInputInTheOutputDirectoryIsRefused() throws {
        let (directory, trace, original) = try Self.traceInFreshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The plugin chooses its file name; here it is told to use the trace's name in the trace's directory.
        let outcome = try Self.gotrace(["report", trace, "--analyzer", "flamegraph", "-o", directory,
                                        "--option", "flamegraph.output=in.gtrace"], in: directory)
        #expect(outcome.status == 1)
        #expect(outcome.error.contains("refusing to write \(directory)/in.gtrace: it is the input trace"), "\(outcome.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: trace)) == original)
        // Another name in the same directory is written as usual.
        let fine = try Self.gotrace(["report", trace, "--analyzer", "flamegraph", "-o", directory,
                                     "--option", "flamegraph.output=graph.svg"], in: directory)
        #expect(fine.status == 0, "\(fine.error)")
        #expect(FileManager.default.fileExists(atPath: directory + "/graph.svg"))
    }

    /// A library that leaves a marker file when loaded (its constructor runs at dlopen), built with the
    /// EventCount plugin into `directory`.
    static func markingPlugin(in directory: String, marker: String) throws -> String {
        let source = directory + "/marker.c"
        try """
            #include <stdio.h>
            __attribute__((constructor)) static void leave_marker(void) {
                FILE *file = fopen("\(marker)", "w");
                if (file) fclose(file);
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let built = try PackagePaths.buildEventCountPlugin(extraFlags: [source])
        let library = directory + "/libEventCount.so"
        try FileManager.default.moveItem(atPath: built, toPath: library)
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: built).deletingLastPathComponent().path)
        return library
    }

    @Test func aPluginInTheCurrentDirectoryIsNeverLoadedUnlessNamed() throws {
        let (directory, trace, _) = try Self.traceInFreshDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/loaded"
        _ = try Self.markingPlugin(in: directory, marker: marker)
        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        // An empty GOTRACE_PLUGIN_PATH entry reads as "." in PATH-style lists; it must not here.
        let environment = ["HOME": home, "GOTRACE_PLUGIN_PATH": ":"]

        let listed = try runProcess(ExportTools.gotrace, ["plugins", "--format", "json"], environment: environment,
                                    in: URL(fileURLWithPath: directory))
        #expect(listed.status == 0)
        #expect(!listed.output.contains("event-count"))
        let report = try runProcess(ExportTools.gotrace, ["report", trace, "--analyzer", "event-count"],
                                    environment: environment, in: URL(fileURLWithPath: directory))
        #expect(report.status == 1)
        #expect(report.error.contains("analyzer \"event-count\" not found"))
        #expect(!FileManager.default.fileExists(atPath: marker), "the library in the current directory was loaded")

        // Named — even as a bare file name — it is loaded, from here and not from the library path.
        let named = try runProcess(ExportTools.gotrace, ["report", trace, "--analyzer", "event-count", "--plugin",
                                                         "libEventCount.so", "--format", "json"],
                                   environment: environment, in: URL(fileURLWithPath: directory))
        #expect(named.status == 0, "\(named.error)")
        #expect(named.output.contains("\"event-count\""))
        #expect(FileManager.default.fileExists(atPath: marker))
    }
}
