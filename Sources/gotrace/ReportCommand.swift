import ArgumentParser
import Foundation
import GoSymbolize
import GoTraceAnalysis
import GoTraceShared

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Run analyzer plugins (default: the built-in leak and latency) over a trace in one pass.",
        discussion: """
            Exit status: 0 on success; 1 if the trace cannot be read, an analyzer is missing or failed; \
            3 with --fail-on-leak when the leak analyzer found leaked goroutines.
            """)

    /// The analyzers run when none is named: the ones gotrace ships (loaded like any other plugin).
    static let builtInAnalyzers = ["summary", "leak", "latency"]
    static let leakExitCode: Int32 = 3

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    @Option(name: .customLong("analyzer"), help: ArgumentHelp("Run this analyzer (repeatable).", valueName: "name"))
    var analyzers: [String] = []

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(name: .customShort("o"), help: ArgumentHelp("Directory for files analyzers write (charts).", valueName: "dir"))
    var outputDirectory: String?

    @Option(name: .customLong("option"), help: ArgumentHelp("An analyzer option (repeatable).", valueName: "name.key=value"))
    var analyzerOptions: [String] = []

    @Option(help: ArgumentHelp("Also write a self-contained HTML report (summary, leaks, latency, flame graphs, timeline).",
                               valueName: "file"))
    var html: String?

    @Flag(help: "Show functions by their whole demangled names in text (JSON always has both forms).")
    var fullNames = false

    @Flag(help: "Exit with status 3 if the leak analyzer reports leaked goroutines.")
    var failOnLeak = false

    @Flag(help: "Never draw a progress bar.")
    var noProgress = false

    @OptionGroup var search: PluginSearchOptions

    func run() throws {
        for output in [html, outputDirectory].compactMap({ $0 }) { try refuseToOverwrite(output, inputs: [file]) }
        let catalog = search.discover()
        for failure in catalog.failures { printErrorChain(failure.messages + ["plugin skipped"]) }
        var names = analyzers.isEmpty ? ReportCommand.builtInAnalyzers : analyzers
        if failOnLeak && !names.contains("leak") { names.append("leak") }
        // The page needs these documents; analyzers added only for it print nothing.
        var pageOnly: Set<String> = []
        if html != nil {
            for name in HTMLReportWriter.analyzers where !names.contains(name) {
                names.append(name)
                pageOnly.insert(name)
            }
        }
        var plugins: [LoadedPlugin] = []
        for name in names where !plugins.contains(where: { $0.name == name }) {
            plugins.append(try catalog.require(name, missing: "analyzer \"\(name)\" not found"))
        }
        var options: [String: [String: String]] = [:]
        for option in analyzerOptions {
            guard let dot = option.firstIndex(of: "."), let equals = option.firstIndex(of: "="), dot < equals else {
                printErrorChain(["bad --option \"\(option)\"", "expected NAME.KEY=VALUE, e.g. leak.max-ids=20"])
                throw ExitCode(1)
            }
            let name = String(option[..<dot])
            options[name, default: [:]][String(option[option.index(after: dot)..<equals])] = String(option[option.index(after: equals)...])
        }
        if fullNames {
            // The kit's `AnalyzerHost.fullNamesOption`, for every analyzer (one given per analyzer wins).
            for plugin in plugins where options[plugin.name]?["full-names"] == nil { options[plugin.name, default: [:]]["full-names"] = "true" }
        }
        if let outputDirectory { try createDirectory(outputDirectory, what: "output directory") }
        let session = AnalysisSession(source: TraceFile.open(path: file), plugins: plugins, options: options,
                                      format: format == .json ? .json : .text, outputDirectory: outputDirectory)
        let progress = ProgressBar(enabled: !noProgress, fileBytes: fileSize(file))
        let outcome = session.run(progress: progress.map { bar in { bar.update(done: $0, total: $1) } })
        progress?.finish()
        try outcome.requireReadable(file)
        var failed = false
        for result in outcome.results {
            if let failure = result.failure {
                printErrorChain(failure)
                failed = true
            }
        }
        emit(outcome.results.filter { !pageOnly.contains($0.name) })
        if failed { throw ExitCode(1) }
        if let html {
            try HTMLReportWriter.write(trace: file, results: outcome.results, to: html)
            printError("wrote \(html)")
        }
        if failOnLeak, let leaked = outcome.results.first(where: { $0.name == "leak" })?.metrics["leaked"], leaked > 0 {
            throw ExitCode(ReportCommand.leakExitCode)
        }
    }

    private func emit(_ results: [PluginResult]) {
        var output = BufferedStandardOutput()
        switch format {
        case .json:
            // One object keyed by analyzer name; each value is that analyzer's document, verbatim. A failed analyzer
            // is left out, as in text: a document written before the failure may be partial.
            let fields = results.filter { $0.failure == nil }.compactMap { result in
                result.json.map { "  \(JSON.quote(result.name)): \($0)" }
            }
            output.writeLine("{\n" + fields.joined(separator: ",\n") + "\n}")
        case .text:
            for (index, result) in results.enumerated() where result.failure == nil {
                if index > 0 { output.writeLine("") }
                output.writeLine("== \(result.name) ==")
                var text = result.text
                if text.hasSuffix("\n") { text.removeLast() }
                output.writeLine(text)
                for file in result.files { output.writeLine("wrote \(file)") }
            }
        }
        output.flush()
    }

    private func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

/// A one-line progress bar on stderr, only when stderr is a terminal and the trace is large enough for
/// the wait to be noticeable (64 MiB ≈ a few seconds at the target rate).
final class ProgressBar {
    static let minimumFileBytes: UInt64 = 64 << 20
    private var lastPercent = -1

    init?(enabled: Bool, fileBytes: UInt64) {
        guard enabled, isatty(STDERR_FILENO) != 0, fileBytes >= ProgressBar.minimumFileBytes else { return nil }
    }

    func update(done: UInt64, total: UInt64) {
        guard total > 0 else { return }
        let percent = Int(min(100, done * 100 / total))
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 40
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        printError("\r[\(bar)] \(percent)% (\(done) events)", terminator: "")
    }

    func finish() {
        printError("\r\u{1b}[K", terminator: "")
    }
}
