import ArgumentParser
import GoTrace
import GoTraceAnalysis

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
        let source = TraceFile.open(path: file)
        var output = BufferedStandardOutput()
        while let event = source.next() {
            output.writeLine(TraceTextFormatter.line(for: event, strings: source.string))
        }
        // Frames the trace names itself (Go traces), one per line after the events.
        let frames = source.frames
        for address in frames.keys.sorted() {
            if let frame = frames[address] { output.writeLine("frame 0x\(String(address, radix: 16)) \(frame)") }
        }
        output.flush()
        for diagnostic in source.diagnostics { printError(diagnostic.description) }
        if let warning = source.incompleteWarning { printError(warning) }
        if source.isUnreadable { throw ExitCode(ReadExitCode.unreadable) }
    }
}
