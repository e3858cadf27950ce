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

public func runProcess(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
                       in directory: URL? = nil) throws -> ProcessOutcome {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let out = scratch.appendingPathComponent("stdout")
    let err = scratch.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    var environment = ProcessInfo.processInfo.environment
    environment["GOTRACE_OUT"] = nil
    environment["GOTRACE_FD"] = nil
    environment["SWIFT_BACKTRACE"] = "enable=no"
    for (key, value) in extra { environment[key] = value }
    process.environment = environment
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return ProcessOutcome(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                          output: try String(contentsOf: out, encoding: .utf8),
                          error: try String(contentsOf: err, encoding: .utf8))
}
