// `gotrace export` and `gotrace diff`: profiles of a trace as files other tools open.
//
// Both run the flamegraph analyzer plugin (Plugins/Flamegraph) — found like any plugin — through one
// report pass, asking it to write into the output file's directory under the output file's name. `diff`
// exports both traces as folded stacks into a temporary directory and draws the differential graph here.

import ArgumentParser
import Foundation
import GoProfile
import GoTraceAnalysis

enum ExportFormat: String, ExpressibleByArgument, CaseIterable { case folded, svg, speedscope, pprof, chrome }
enum ExportProfile: String, ExpressibleByArgument, CaseIterable { case cpu, block, spawn }

/// Runs the flamegraph plugin over `trace`, writing `outputPath`. Returns the plugin's text summary.
func runFlamegraphPlugin(trace: String, outputPath: String, profile: ExportProfile, format: ExportFormat,
                         extraOptions: [String: String], search: PluginSearchOptions) throws -> String {
    let plugin = try search.discover().require("flamegraph", missing: "the flamegraph analyzer plugin was not found")
    let url = URL(fileURLWithPath: outputPath)
    let directory = url.deletingLastPathComponent().path
    var options = extraOptions
    options["profile"] = profile.rawValue
    options["format"] = format.rawValue
    options["output"] = url.lastPathComponent
    try createDirectory(directory, what: "directory")
    let session = AnalysisSession(source: TraceFile.open(path: trace), plugins: [plugin], options: ["flamegraph": options],
                                  outputDirectory: directory)
    let outcome = session.run()
    try outcome.requireReadable(trace)
    guard let result = outcome.results.first else { throw ExitCode(1) }
    if let failure = result.failure {
        printErrorChain(failure)
        throw ExitCode(1)
    }
    return result.text
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a profile of a trace (cpu, block, spawn) as folded stacks, SVG, speedscope, pprof or a Chrome trace.",
        discussion: """
            Profiles: cpu — on-CPU samples (cpu-sample events); block — where goroutines were blocked, weighted \
            by nanoseconds blocked, the park reason as the root frame; spawn — where goroutines were created. \
            Formats: folded (collapsed stacks), svg (interactive flame graph), speedscope (speedscope.app), \
            pprof (gzipped profile.proto: go tool pprof), chrome (Perfetto / chrome://tracing timeline; the \
            profile is ignored). See docs/profiles.md.
            """)

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    @Option(help: "folded, svg, speedscope, pprof or chrome.")
    var format: ExportFormat = .svg

    @Option(help: "cpu, block or spawn.")
    var profile: ExportProfile = .block

    @Option(name: .customShort("o"), help: ArgumentHelp("Output file (default: <trace>.<profile>.<ext>).", valueName: "file"))
    var output: String?

    @Flag(help: "SVG: an icicle graph (roots at the top).")
    var inverted = false

    @Flag(name: .customLong("runtime-frames"), help: "Keep the goroutine runtime's own frames at both ends of stacks.")
    var runtimeFrames = false

    @Flag(name: .customLong("full-names"), help: "Name functions by their whole demangled names, not the simplified ones.")
    var fullNames = false

    @Option(name: .customLong("cpu-rate"), help: "cpu: the sampling rate (Hz) the trace was recorded with.")
    var cpuRate: Int = 99

    @Option(help: "SVG: the title.")
    var title: String?

    @OptionGroup var search: PluginSearchOptions

    static let extensions: [ExportFormat: String] = [
        .folded: "folded", .svg: "svg", .speedscope: "speedscope.json", .pprof: "pb.gz", .chrome: "trace.json",
    ]

    func run() throws {
        let base = file.hasSuffix(".gtrace") ? String(file.dropLast(7)) : file
        let path = output ?? "\(base).\(profile.rawValue).\(ExportCommand.extensions[format]!)"
        try refuseToOverwrite(path, inputs: [file])
        var options = ["inverted": inverted ? "true" : "false", "runtime-frames": runtimeFrames ? "true" : "false",
                       "cpu-rate": String(cpuRate)]
        if let title { options["title"] = title }
        // The kit's `AnalyzerHost.fullNamesOption`.
        if fullNames { options["full-names"] = "true" }
        let summary = try runFlamegraphPlugin(trace: file, outputPath: path, profile: profile, format: format,
                                              extraOptions: options, search: search)
        printError("\(summary.trimmingCharacters(in: .whitespacesAndNewlines)); wrote \(path)")
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "A differential flame graph (SVG) of two traces: frames sized by B, red where B's share grew, blue where it shrank.")

    @Argument(help: "The baseline trace.")
    var before: String

    @Argument(help: "The trace to compare with the baseline.")
    var after: String

    @Option(help: "cpu, block or spawn.")
    var profile: ExportProfile = .block

    @Option(name: .customShort("o"), help: ArgumentHelp("Output SVG (default: diff.svg).", valueName: "file"))
    var output: String = "diff.svg"

    @Flag(help: "An icicle graph (roots at the top).")
    var inverted = false

    @Flag(name: .customLong("runtime-frames"), help: "Keep the goroutine runtime's own frames at both ends of stacks.")
    var runtimeFrames = false

    @OptionGroup var search: PluginSearchOptions

    func run() throws {
        try refuseToOverwrite(output, inputs: [before, after])
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-diff-\(getpid())")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let options = ["runtime-frames": runtimeFrames ? "true" : "false"]
        var stacks: [[(frames: [String], value: Int64)]] = []
        for (index, trace) in [before, after].enumerated() {
            let path = temporary.appendingPathComponent("\(index).folded").path
            _ = try runFlamegraphPlugin(trace: trace, outputPath: path, profile: profile, format: .folded,
                                        extraOptions: options, search: search)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                printErrorChain(["cannot read the folded export of \(trace)", path])
                throw ExitCode(1)
            }
            stacks.append(FoldedStacks.parse(text))
        }
        var svgOptions = FlameGraphSVG.Options()
        svgOptions.title = "\(profile.rawValue): \(after) vs \(before)"
        svgOptions.inverted = inverted
        svgOptions.unit = profile == .spawn ? "goroutines" : (profile == .cpu ? "samples" : "nanoseconds")
        let bytes = FlameGraphSVG.renderDifferential(before: stacks[0], after: stacks[1], options: svgOptions)
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
            printErrorChain(["cannot write \(output)"])
            throw ExitCode(1)
        }
        printError("wrote \(output)")
    }
}
