// Runs a built executable the way the end-to-end tests need: stdout and stderr through files (a pipe
// that nobody drains fills up and deadlocks on large dumps), no inherited GOTRACE_OUT/GOTRACE_FD (a
// test's own environment must not turn tracing on in the program), and Swift's crash backtracer off
// (deliberately crashing fixtures would otherwise spend seconds printing).
import Foundation

public struct ProcessOutcome: Sendable {
    public var status: Int32
    /// Whether `status` is a signal number (the process was killed) rather than an exit status.
    public var killedBySignal: Bool
    public var output: String
    public var error: String

    /// The shell's convention: the exit status, or 128 + N for a process killed by signal N.
    public var shellStatus: Int32 { killedBySignal ? 128 + status : status }
}

/// This process's environment without GOTRACE_OUT/GOTRACE_FD and with the backtracer off (see the top),
/// plus `extra`.
private func childEnvironment(adding extra: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["GOTRACE_OUT"] = nil
    environment["GOTRACE_FD"] = nil
    environment["SWIFT_BACKTRACE"] = "enable=no"
    for (key, value) in extra { environment[key] = value }
    return environment
}

public func runProcess(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
                       in directory: URL? = nil) throws -> ProcessOutcome {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let out = scratch.appendingPathComponent("stdout")
    let err = scratch.appendingPathComponent("stderr")
    try Data().write(to: out)
    try Data().write(to: err)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    process.environment = childEnvironment(adding: extra)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return ProcessOutcome(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                          output: try String(contentsOf: out, encoding: .utf8),
                          error: try String(contentsOf: err, encoding: .utf8))
}

/// A process started by `launchUntilFirstLine`: running, its first line of standard output read.
public struct LaunchedProcess {
    public let process: Process
    /// What the program printed up to its first newline ("" if it ended before printing anything).
    public let firstLine: String

    /// The pid a readiness line names (`ready pid=N`, `soak pid=N`), if it names one.
    public var announcedPID: pid_t? {
        guard let text = firstLine.split(separator: "=").last else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits for the process to end and returns its status in the shell's convention (128 + N for signal N).
    public func waitForShellStatus() -> Int32 {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// As `waitForShellStatus()`, but nil if the process is still running after `seconds`: a bound that only
    /// keeps a test whose program ignores what should end it from hanging (not a timing under test).
    public func waitForShellStatus(within seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : waitForShellStatus()
    }
}

/// Starts `executable` (with `runProcess`'s environment) with its standard output on a pipe, and returns
/// once it has printed its first line: the programs under test announce readiness that way (`ready pid=N`),
/// so tests wait for the line instead of sleeping. `standardError` is a FileHandle or a Pipe.
public func launchUntilFirstLine(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
                                 standardError: Any) throws -> LaunchedProcess {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = childEnvironment(adding: extra)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = standardError
    try process.run()
    var text = ""
    while !text.contains("\n") {
        let data = output.fileHandleForReading.availableData
        if data.isEmpty { break }
        text += String(decoding: data, as: UTF8.self)
    }
    return LaunchedProcess(process: process, firstLine: text)
}
