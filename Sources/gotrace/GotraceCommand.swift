import ArgumentParser
import GoTrace

@main
struct GotraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gotrace",
        abstract: "Record and inspect goroutine traces (.gtrace files).",
        version: gotraceVersionLine,
        subcommands: [RecordCommand.self, TopCommand.self, DumpCommand.self, StatCommand.self, ReportCommand.self, PluginsCommand.self,
                      ExportCommand.self, DiffCommand.self, ViewCommand.self])
}

/// Exit codes shared by `dump` and `stat` (documented in docs/trace-format.md, "Tools"):
enum ReadExitCode {
    /// The trace was read; damage or incompleteness, if any, was reported on stderr.
    static let readable: Int32 = 0
    /// Nothing could be read: the file cannot be opened, is not a trace, has an unsupported version or a
    /// corrupt file header, or every event chunk in it is damaged.
    static let unreadable: Int32 = 1
}
