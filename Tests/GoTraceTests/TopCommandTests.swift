import Foundation
import GotraceTestSupport
import Testing

/// `gotrace top` (TopCommand.swift, TopModel.swift) on `TraceScenarios top`: eight goroutines blocked for good
/// in `topBlockedReceiver(_:)`, one computing in `topHotLoop(_:)`, ping-pong, until killed.
@Suite
struct TopCommandTests {
    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")

    @Test func batchModePrintsFramesThatNameTheBlockingSiteAndTheHotFunction() throws {
        let outcome = try runProcess(gotrace, ["top", "--iterations", "3", "--interval", "500ms", "--", scenarios, "top"])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        let frames = outcome.output.components(separatedBy: "gotrace top: TraceScenarios").dropFirst()
        #expect(frames.count == 3, "\(outcome.output)")
        #expect(outcome.output.contains("frame 3 of 3"))
        // Plain text at 80 columns: no escape sequences, no longer line.
        #expect(!outcome.output.contains("\u{1b}"))
        for line in outcome.output.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
        // By the last frame the program has run a while: every kind of line is there.
        let last = try #require(frames.last)
        let site = try #require(last.split(separator: "\n").first { $0.contains("topBlockedReceiver(_:) [chan-receive]") },
                                "\(last)")
        #expect(site.split(separator: " ").dropLast(2).last == "8", "eight goroutines wait there: \(site)")
        // The hot function, in some frame: on a loaded machine one 500 ms frame may hold two samples, of others.
        let cpu = frames.compactMap { $0.components(separatedBy: "TOP CPU FUNCTIONS").dropFirst().first }
        #expect(cpu.contains { $0.contains("topHotLoop(_:)") }, "\(cpu)")
        #expect(last.contains("Ps busy"))
        #expect(last.contains("goroutines   "))
        #expect(last.contains(" created, "))
        #expect(last.contains("scheduling   p50 "))
    }

    @Test(arguments: [["--interval", "1x"], ["--iterations", "0"], ["--bogus"]])
    func badOptionsAreUsageErrors(_ options: [String]) throws {
        let outcome = try runProcess(gotrace, ["top"] + options + ["--", scenarios, "exit", "0"])
        #expect(outcome.shellStatus == 64, "\(outcome.error)")
    }

    /// The interactive view in a real terminal: tmux runs it in an 80-column pane; `s` re-sorts, `q` quits and
    /// stops the program.
    @Test func theInteractiveViewAnswersTheKeyboard() throws {
        let tmux = try #require(["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                "tmux is needed (scripts/setup.sh installs it)")
        let socket = "gotrace-top-\(UUID().uuidString)"
        func tmuxRun(_ arguments: [String]) throws -> ProcessResult { try spawnAndWait(tmux, ["-L", socket] + arguments) }
        defer { _ = try? tmuxRun(["kill-server"]) }
        let marker = "GOTRACE_FAULT_TOKEN=\(socket)"  // processesCarrying(token:) finds the program by it
        let started = try tmuxRun(["new-session", "-d", "-s", "top", "-x", "80", "-y", "40",
                                   "env \(marker) \(gotrace) top --interval 300ms -- \(scenarios) top"])
        #expect(started.status == 0, "\(started.standardError)")
        var lastScreen = ""
        func screenShows(_ text: String) throws -> Bool {
            // Bounded only so that a broken view fails instead of hanging (not a timing under test).
            for _ in 0..<300 {
                lastScreen = try tmuxRun(["capture-pane", "-p", "-t", "top"]).standardOutput
                if lastScreen.contains(text) { return true }
                usleep(100_000)
            }
            return false
        }
        #expect(try screenShows("topBlockedReceiver(_:) [chan-receive]"), "the screen:\n\(lastScreen)")
        #expect(try screenShows("q quits, s sorts the blocking sites by wait"), "the screen:\n\(lastScreen)")
        _ = try tmuxRun(["send-keys", "-t", "top", "s"])
        #expect(try screenShows("TOP BLOCKING SITES (by wait)"), "the screen:\n\(lastScreen)")
        _ = try tmuxRun(["send-keys", "-t", "top", "q"])
        var ended = false
        for _ in 0..<300 where !ended {
            ended = try tmuxRun(["has-session", "-t", "top"]).status != 0
            if !ended { usleep(100_000) }
        }
        #expect(ended, "q ends gotrace top")
        #expect(processesCarrying(token: socket, waitingUpTo: 10).isEmpty, "the program is gone too")
    }
}

/// Runs `executable` and waits for it with waitpid(2), its output in a file. Not Foundation's `Process`, which
/// never saw `tmux new-session -d` end (the tmux server it leaves behind holds what `Process` watches open), so
/// the test hung.
private func spawnAndWait(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-tmux-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    let signal = status & 0x7f
    return ProcessResult(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, standardOutput: output,
                         standardError: output)
}
