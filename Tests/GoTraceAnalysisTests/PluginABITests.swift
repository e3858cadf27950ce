import Foundation
import GoTrace
import GotraceTestSupport
import Testing
@testable import GoTraceAnalysis

/// The C ABI from a plugin's side: Tests/Fixtures/CPlugins/abi_probe.c calls every host function and writes
/// what came back; these tests build it (and its variants) with cc, run it over a trace whose contents they
/// chose, and compare line by line with the answers that trace was built with.
@Suite struct PluginABITests {
    static let probeSource = "Tests/Fixtures/CPlugins/abi_probe.c"
    /// Where the trace says the probe library was loaded: any bias works, the symbolizer reads the file.
    static let moduleBias: UInt64 = 0x7f00_0000_0000
    static let chanReceive = UInt64(ParkReason.chanReceive.rawValue)

    /// A built probe, the address of its `gotrace_plugin_v1` (from nm, not from the code under test) and
    /// a return address 5 bytes into that function as mapped at `moduleBias`.
    struct Probe {
        var library: String
        var plugin: LoadedPlugin
        var entryAddress: UInt64
        var modulePC: UInt64 { PluginABITests.moduleBias + entryAddress + 5 }
        var fileName: String { URL(fileURLWithPath: library).lastPathComponent }
    }

    static func buildProbe(_ flags: [String] = [], name: String = "abi-probe") throws -> Probe {
        let library = try PackagePaths.buildCPlugin(probeSource, extraFlags: flags + ["-DPROBE_NAME=\"\(name)\""],
                                                    name: "lib\(name).so")
        let catalog = PluginLoader.discover(explicitPaths: [library], directories: [])
        #expect(catalog.failures.isEmpty, "\(catalog.failures)")
        let plugin = try #require(catalog.plugin(named: name))
        let symbols = try runProcess("/usr/bin/env", ["nm", "--defined-only", library])
        try #require(symbols.status == 0, "nm failed: \(symbols.error)")
        let entry = try #require(symbols.output.split(separator: "\n").first { $0.hasSuffix(" T gotrace_plugin_v1") },
                                 "nm lists gotrace_plugin_v1")
        let address = try #require(UInt64(entry.prefix { $0 != " " }, radix: 16))
        return Probe(library: library, plugin: plugin, entryAddress: address)
    }

    /// g1 spawns g10, which parks receiving (stack 1, spawned at stack 2) and is labelled "hello, plugin";
    /// g1 spawns g11, which runs and ends. Stack 2's last frame lies in the probe library, which a module
    /// event maps at `moduleBias`. Twelve events in all; the last at 3000 ns.
    static func probeTrace(_ probe: Probe) -> SyntheticTrace {
        var trace = SyntheticTrace()
        trace.string(5, "hello, plugin")
        trace.string(6, probe.library)
        trace.stack(1, [0x1000, 0x2000, 0x3000])
        trace.stack(2, [0x4000, probe.modulePC])
        trace.emit(.module, at: 0, 6, moduleBias, 0)
        trace.emit(.spawn, at: 1000, 1, 10, 2)
        trace.emit(.start, at: 1200, 10)
        trace.emit(.park, at: 1500, 10, chanReceive, 1)
        trace.emit(.spawn, at: 2000, 1, 11, 2)
        trace.emit(.start, at: 2200, 11)
        trace.emit(.end, at: 2500, 11)
        trace.emit(.goroutineLabel, at: 3000, 10, 5)
        return trace
    }

    static func run(_ probes: [Probe], trace: String, outputDirectory: String?, format: ReportFormat = .text)
        -> AnalysisOutcome {
        var options: [String: [String: String]] = [:]
        for probe in probes {
            options[probe.plugin.name] = ["greeting": "hello", "module-pc": "0x" + String(probe.modulePC, radix: 16)]
        }
        return AnalysisSession(source: TraceFile.open(path: trace), plugins: probes.map(\.plugin), options: options, format: format,
                               outputDirectory: outputDirectory).run()
    }

    static func temporaryDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-abi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The lines every variant prints from `create` and `consume`, for the probe built as ABI 1.2.
    static func createAndConsumeLines(hasOutputDirectory: Bool) -> [String] {
        [
            "api.abi_minor: 2",
            "api.covers_1_1: yes",
            "option.greeting: hello",
            "option.absent: (null)",
            "kind_code.spawn: 16",
            "kind_code.unknown: -1",
            "argument_index.park.reason: 1",
            "argument_index.park.unknown: -1",
            "kind_name.16: spawn",
            "output_format: 0",
            "has_output_directory: \(hasOutputDirectory ? 1 : 0)",
            "batch.covers_1_2: yes",
            "park.transition: g10 2->3 reason 0 stack 1 creation_stack 2 at 1500 since 1200",
            // Leaving RUNNING: no stack goes with the state it leaves.
            "park.from_stack: 0",
            "park.event: kind 18 goroutine 10 arguments 3: 10 0 1",
            // spawn, start, park of g10; spawn, start, end of g11.
            "consumed: events 12 transitions 6",
        ]
    }

    /// The look-up lines of `finish` (stacks, strings, symbols).
    static func lookUpLines(_ probe: Probe) -> [String] {
        let pc = "0x" + String(probe.modulePC, radix: 16)
        return [
            "stack.1: status 0 count 3: 0x1000 0x2000 0x3000",
            "stack.2: status 0 count 2: 0x4000 \(pc)",
            "stack.99: status 2 count 0:",
            "string.5: status 0 length 13 \"hello, plugin\"",
            "string.0: status 0 length 0 \"\"",
            "string.99: status 2 length 0 \"\"",
            // Outside every module: bare hex (the header's third form).
            "symbolize.0x1000: 0x1000",
            "symbolize.module_pc: gotrace_plugin_v1 + 0x5 (\(probe.fileName))",
        ]
    }

    static func frameLines(_ probe: Probe) -> [String] {
        let pc = "0x" + String(probe.modulePC, radix: 16)
        return [
            "frame.0x1000: status 0 address 0x1000 function (null) offset 0x0 module (null) module_offset 0x0 line 0 file (null)",
            "frame.0x1000.module_range: none",
            "frame.\(pc): status 0 address \(pc) function gotrace_plugin_v1 offset 0x5 module \(probe.fileName) "
                + "module_offset 0x\(String(probe.entryAddress + 5, radix: 16)) line 0 file (null)",
            "frame.\(pc).module_range: covers pc",
        ]
    }

    static let goroutineLines = [
        "goroutine.10: status 0 state 3 reason 0 parent 1 created 1000 since 1500 creation_stack 2 state_stack 1",
        "goroutine.10.label: 5",
        "goroutine.10.struct_size: 64",
        "goroutine.11: status 2",  // dead: the host answers for live goroutines only
        "goroutine.12345: status 2",
        "live: g10 state 3",
    ]

    @Test("a C plugin calling every host function gets the answers the trace was built with")
    func everyHostFunction() throws {
        let probe = try Self.buildProbe()
        var trace = Self.probeTrace(probe)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: output) }

        let outcome = Self.run([probe], trace: path, outputDirectory: output)
        let result = try #require(outcome.results.first)
        #expect(result.failure == nil)
        let expected = Self.createAndConsumeLines(hasOutputDirectory: true) + Self.lookUpLines(probe) + Self.frameLines(probe)
            + Self.goroutineLines + [
                "trace_info: events 12 complete 1 end_ns 3000 struct_size 40",
                "trace_info.path_suffix: .gtrace",
                "write_file: 0",
                "write_file.slash: 1",  // not a plain file name: invalid argument
                "append_file: 0 0",
            ]
        let lines = result.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines == expected + [""])
        for (index, line) in lines.enumerated() where index < expected.count && line != expected[index] {
            Issue.record("line \(index + 1): got \"\(line)\", expected \"\(expected[index])\"")
        }
        #expect(result.metrics == ["answer": 42, "negative": -7])
        #expect(result.files == [output + "/abi-probe.txt", output + "/abi-probe-log.txt"])
        #expect(try String(contentsOfFile: output + "/abi-probe.txt", encoding: .utf8) == "written by abi-probe\n")
        #expect(try String(contentsOfFile: output + "/abi-probe-log.txt", encoding: .utf8) == "one\ntwo\n")
        #expect(!FileManager.default.fileExists(atPath: output + "/a"))
    }

    @Test("without an output directory, write_file and append_file say unsupported and write nothing")
    func filesNeedAnOutputDirectory() throws {
        let probe = try Self.buildProbe()
        var trace = Self.probeTrace(probe)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try #require(Self.run([probe], trace: path, outputDirectory: nil).results.first)
        let lines = result.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("has_output_directory: 0"))
        #expect(lines.contains("write_file: 4"))
        #expect(lines.contains("write_file.slash: 4"))
        #expect(lines.contains("append_file: 4 4"))
        #expect(result.files.isEmpty)
        #expect(result.failure == nil, "a refused file is the plugin's to handle, not a failure")
    }

    @Test("write_json from C: a malformed document is refused, one is kept, a second is refused")
    func writeJSON() throws {
        let probe = try Self.buildProbe()
        var trace = Self.probeTrace(probe)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try #require(Self.run([probe], trace: path, outputDirectory: nil, format: .json).results.first)
        let lines = result.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("output_format: 1"))
        #expect(lines.contains("write_json: 1 0 1"))
        #expect(result.json == #"{"plugin": "abi-probe", "events": 12}"#)
        #expect(result.failure == nil, "refused calls the plugin went past are not a failure")
    }

    @Test("a plugin built for ABI 1.0 and one for a newer minor run beside a current one; the host writes only what each declared")
    func olderAndNewerMinorVersions() throws {
        let current = try Self.buildProbe()
        let older = try Self.buildProbe(["-DPROBE_ABI_1_0"], name: "abi-probe-older")
        let newer = try Self.buildProbe(["-DPROBE_ABI_FUTURE"], name: "abi-probe-newer")
        #expect(older.plugin.abiMinor == 0)
        #expect(newer.plugin.abiMinor == 3)
        var trace = Self.probeTrace(current)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: output) }

        let results = Self.run([older, current, newer], trace: path, outputDirectory: output).results
        #expect(results.map(\.name) == ["abi-probe-older", "abi-probe", "abi-probe-newer"])
        #expect(results.allSatisfy { $0.failure == nil }, "\(results.compactMap(\.failure))")
        let byName = Dictionary(uniqueKeysWithValues: results.map {
            ($0.name, $0.text.split(separator: "\n").map(String.init))
        })
        let olderLines = try #require(byName["abi-probe-older"])
        let newerLines = try #require(byName["abi-probe-newer"])

        // The older plugin's structs end early: the host fills what they have, says so, and stops there.
        #expect(olderLines.contains(
            "goroutine.10: status 0 state 3 reason 0 parent 1 created 1000 since 1500 creation_stack 2 state_stack 1"))
        #expect(olderLines.contains("goroutine.10.struct_size: 56"))
        #expect(olderLines.contains("goroutine.10.after: intact"))
        #expect(olderLines.contains("trace_info: events 12 complete 1 end_ns 3000 struct_size 32"))
        #expect(olderLines.contains("trace_info.after: intact"))
        #expect(!olderLines.contains { $0.hasPrefix("frame") || $0.hasPrefix("append_file") })
        #expect(Array(olderLines.prefix(14)) == Self.createAndConsumeLines(hasOutputDirectory: true).filter {
            !$0.hasPrefix("batch.covers_1_2") && !$0.hasPrefix("park.from_stack")
        }, "the 1.0 plugin never looks at the 1.2 batch field")

        // The newer plugin's structs are longer: the host fills its own size, reports that size, and leaves
        // the field it does not know alone; the table entry the plugin looks for is absent.
        #expect(newerLines.contains("api.future_call: absent"))
        #expect(newerLines.contains("goroutine.10.struct_size: 64"))
        #expect(newerLines.contains("goroutine.10.after: intact"))
        #expect(newerLines.contains("trace_info: events 12 complete 1 end_ns 3000 struct_size 40"))
        #expect(newerLines.contains("trace_info.after: intact"))
        #expect(newerLines.filter { $0.hasSuffix(".after: intact") }.count == 6,
                "three goroutine look-ups (one found, two not), two frames, trace info")
        #expect(newerLines.contains("symbolize.0x1000: 0x1000"))
        #expect(newerLines.contains("append_file: 0 0"))
    }

    @Test("a descriptor shorter than ABI 1 needs is refused with both sizes named")
    func shortDescriptorIsRefused() throws {
        let library = try PackagePaths.buildCPlugin(Self.probeSource, extraFlags: ["-DPROBE_SHORT_DESCRIPTOR"],
                                                    name: "libshort.so")
        let catalog = PluginLoader.discover(explicitPaths: [library], directories: [])
        #expect(catalog.plugins.isEmpty)
        let failure = try #require(catalog.failures.first)
        // 88: the descriptor up to `destroy` (four 32-bit fields, four pointers, a count, a context and three callbacks).
        #expect(failure.messages == ["cannot load plugin \(library)", "descriptor is 88 bytes, ABI 1 needs 96"])
    }

    @Test("a refused host call the plugin fails on at once is the innermost cause, with or without its own context",
          arguments: [1, 2])
    func refusalAsTheCause(variant: Int) throws {
        let probe = try Self.buildProbe(["-DPROBE_FAIL_ON_REFUSAL=\(variant)"])
        var trace = Self.probeTrace(probe)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try #require(Self.run([probe], trace: path, outputDirectory: nil).results.first)
        let context = variant == 1 ? ["abi-probe could not save its results"] : []
        #expect(result.failure == ["analyzer abi-probe failed while writing its results"] + context
            + ["no output directory (pass -o DIR) for abi-probe.txt"])
    }

    /// The `error:` / `caused by:` chains in `stderr`, each as its lines.
    static func errorChains(_ stderr: String) -> [[String]] {
        var chains: [[String]] = []
        for line in stderr.split(separator: "\n").map(String.init) {
            if line.hasPrefix("error: ") {
                chains.append([line])
            } else if line.hasPrefix("caused by: "), !chains.isEmpty {
                chains[chains.count - 1].append(line)
            }
        }
        return chains
    }

    @Test("plugins failing in consume and in finish: gotrace report prints each error chain, the others' output is intact, exit 1")
    func failingPluginsLeaveTheOthersIntact() throws {
        let failsInConsume = try Self.buildProbe(["-DPROBE_FAIL_IN_CONSUME"], name: "fails-in-consume")
        let failsInFinish = try Self.buildProbe(["-DPROBE_FAIL_IN_FINISH"], name: "fails-in-finish")
        let eventCount = try PackagePaths.buildEventCountPlugin()
        var trace = Self.probeTrace(failsInConsume)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }

        let arguments = ["report", path, "--no-progress",
                         "--plugin", failsInConsume.library, "--plugin", failsInFinish.library, "--plugin", eventCount,
                         "--analyzer", "fails-in-consume", "--analyzer", "event-count", "--analyzer", "fails-in-finish",
                         "--analyzer", "leak"]
        let outcome = try runProcess(BuiltPlugins.directory + "/gotrace", arguments)
        #expect(outcome.status == 1, "exit status (docs/plugins.md: 1 if an analyzer failed); stderr: \(outcome.error)")
        // Each chain whole: the probe's two links and nothing else. The finish probe's refused calls before it
        // failed (write_file and append_file without -o) were calls it carried on from, not causes of the failure.
        #expect(Self.errorChains(outcome.error) == [
            ["error: analyzer fails-in-consume failed while reading events",
             "caused by: fails-in-consume gave up on batch 1",
             "caused by: the probe was built to fail in consume"],
            ["error: analyzer fails-in-finish failed while writing its results",
             "caused by: fails-in-finish could not write its results",
             "caused by: the probe was built to fail in finish"],
        ])
        // The others ran over the whole trace: event-count saw every event, leak found g10 still parked.
        #expect(outcome.output.contains("== event-count ==\n"))
        for (kind, count) in [("string", 2), ("stack", 2), ("module", 1), ("spawn", 2), ("start", 2), ("park", 1),
                              ("end", 1), ("goroutine-label", 1)] {
            #expect(outcome.output.contains(kind.padding(toLength: 16, withPad: " ", startingAt: 0) + " \(count)\n"),
                    "event-count's line for \(kind)")
        }
        #expect(outcome.output.contains("== leak =="))
        #expect(outcome.output.contains("1 leaked goroutine in 1 group"))
        #expect(outcome.output.contains("]: g10\n"))
        // Neither failed plugin's section is printed (the finish one wrote text before failing).
        #expect(!outcome.output.contains("== fails-in"))
        #expect(!outcome.output.contains("text written before the failure"))
    }

    @Test("with --format json, a plugin that wrote its document and then failed in finish is left out of the object")
    func failedPluginsAreLeftOutOfTheJSON() throws {
        let failsInFinish = try Self.buildProbe(["-DPROBE_FAIL_IN_FINISH"], name: "fails-in-finish")
        let eventCount = try PackagePaths.buildEventCountPlugin()
        var trace = Self.probeTrace(failsInFinish)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }

        let arguments = ["report", path, "--no-progress", "--format", "json",
                         "--plugin", failsInFinish.library, "--plugin", eventCount,
                         "--analyzer", "fails-in-finish", "--analyzer", "event-count"]
        let outcome = try runProcess(BuiltPlugins.directory + "/gotrace", arguments)
        #expect(outcome.status == 1, "stderr: \(outcome.error)")
        // Its refused write_json calls (malformed, then a second document) came before and were carried on from.
        #expect(Self.errorChains(outcome.error) == [
            ["error: analyzer fails-in-finish failed while writing its results",
             "caused by: fails-in-finish could not write its results",
             "caused by: the probe was built to fail in finish"],
        ])
        let document = try #require(JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
                                    "stdout is one JSON object: \(outcome.output)")
        // The probe wrote {"plugin": "fails-in-finish", ...} before failing: as in text mode, a failed analyzer's
        // output is not printed.
        #expect(Set(document.keys) == ["event-count"])
        #expect((document["event-count"] as? [String: Int])?["spawn"] == 2)
    }
}
