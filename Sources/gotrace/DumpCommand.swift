import ArgumentParser
import GoTrace
import GoTraceGo

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every event of a trace, one per line, in timestamp order.",
        discussion: """
            Line format: seconds since trace start, M, P, G, kind name, then name=value per argument.
            Problems (damaged or truncated chunks) are reported on stderr as FILE: offset N: …; everything
            readable is still printed. Exit status: 0 if the trace could be read, 1 if nothing could.
            """)

    @Argument(help: "The trace file (.gtrace).")
    var file: String

    func run() throws {
        if GoTraceFile.isGoTrace(path: file) { return try dumpGoTrace() }
        let reader = TraceReader(path: file)
        var output = BufferedStandardOutput()
        while let event = reader.next() {
            output.writeLine(TraceTextFormatter.line(for: event, strings: reader.string))
        }
        output.flush()
        for diagnostic in reader.diagnostics { printError(diagnostic.description) }
        if reader.fatalDiagnostic == nil && !reader.isComplete {
            printError("\(file): trace incomplete (no end chunk): the recording stopped early")
        }
        let status = readExitStatus(after: reader)
        if status != 0 { throw ExitCode(status) }
    }

    /// A Go execution trace, mapped onto gotrace kinds (docs/go-traces.md); then Go's frames, one per line.
    private func dumpGoTrace() throws {
        let reader = GoTraceFile.open(path: file)
        var output = BufferedStandardOutput()
        while let event = reader.next() {
            output.writeLine(TraceTextFormatter.line(for: event, strings: reader.string))
        }
        for address in reader.frames.keys.sorted() {
            if let frame = reader.describeFrame(address) { output.writeLine("frame 0x\(String(address, radix: 16)) \(frame)") }
        }
        output.flush()
        for diagnostic in reader.diagnostics { printError(diagnostic) }
        if reader.fatal != nil { throw ExitCode(ReadExitCode.unreadable) }
    }
}
