// `gotrace view` and `gotrace report --html`: the self-contained HTML report (docs/report.md).
//
// The page is composed here from the documents of three analyzer plugins run in the one report pass —
// `html-report` (summary, top functions, flame graphs, timeline), `leak` and `latency` — embedded verbatim,
// so the page shows exactly what `gotrace report --format json` prints (GoProfile's `ReportPage`).

import ArgumentParser
import Foundation
import GoProfile
import GoTraceAnalysis

enum HTMLReportWriter {
    static let analyzers = ["html-report", "leak", "latency"]

    /// Writes the page from the session's results; fails (exit 1) if a document is missing.
    static func write(trace: String, results: [PluginResult], to path: String) throws {
        var documents: [(name: String, json: String)] = []
        for name in analyzers {
            guard let result = results.first(where: { $0.name == name }), result.failure == nil, let json = result.json else {
                printErrorChain(["cannot write the HTML report \(path)", "the \(name) analyzer gave no JSON document"])
                throw ExitCode(1)
            }
            documents.append((name, json))
        }
        let title = "gotrace report — " + URL(fileURLWithPath: trace).lastPathComponent
        let bytes = ReportPage.render(title: title, documents: documents)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            printErrorChain(["cannot write the HTML report \(path)"])
            throw ExitCode(1)
        }
    }
}

struct ViewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "Write the trace's HTML report (one self-contained file) and print its path.",
        discussion: "The page opens from file:// in any browser, offline. See docs/report.md.")

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    @Option(name: .customShort("o"), help: ArgumentHelp("Output file (default: <trace>.html next to the trace).", valueName: "file"))
    var output: String?

    @OptionGroup var search: PluginSearchOptions

    func run() throws {
        let base = file.hasSuffix(".gtrace") ? String(file.dropLast(7)) : file
        let path = output ?? base + ".html"
        try refuseToOverwrite(path, inputs: [file])
        let catalog = search.discover()
        for failure in catalog.failures { printErrorChain(failure.messages + ["plugin skipped"]) }
        var plugins: [LoadedPlugin] = []
        for name in HTMLReportWriter.analyzers {
            guard let plugin = catalog.plugin(named: name) else {
                printErrorChain(["analyzer \"\(name)\" not found", "the HTML report needs html-report, leak and latency"])
                throw ExitCode(1)
            }
            plugins.append(plugin)
        }
        let session = AnalysisSession(source: TraceFile.open(path: file), plugins: plugins, options: [:], format: .json, outputDirectory: nil)
        let outcome = session.run()
        try outcome.requireReadable(file)
        for result in outcome.results { if let failure = result.failure { printErrorChain(failure) } }
        try HTMLReportWriter.write(trace: file, results: outcome.results, to: path)
        print(path)
    }
}
