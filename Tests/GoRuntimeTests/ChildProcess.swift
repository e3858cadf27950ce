// A child process that a test talks to while it runs (Foundation's Process only hands back output
// after exit, and its reads would block a P). The child's stdin and stdout are one end of a Unix socket
// pair, stderr a temporary file read after exit. The socket pair, not two pipes: it is created
// close-on-exec in one call (Glibc's pipe2 is not imported), so no process that a test running in
// parallel spawns can inherit our end and keep the child's stdin open; and writes to it can ask for
// EPIPE instead of SIGPIPE should the child be gone. Callers that count this process's sockets count
// after `finish`, which closes our end.
// Blocking reads and waits go through `Runtime.blockingCall`, so inside a run they leave the P to the
// other goroutines (the server the child talks to).
import GoRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The package's built executable `name`: next to the test bundle (`.build/<triple>/debug/`), else
/// in `.build/debug` under the package root (from this file's path, Tests/GoRuntimeTests/<file>).
func builtExecutable(_ name: String) -> String? {
    var candidates: [String] = []
    var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &target, target.count - 1)
    if length > 0 {
        let executable = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        candidates.append(String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]))
    }
    let testsDirectory = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2)
    candidates.append(testsDirectory.joined(separator: "/") + "/.build/debug")
    return candidates.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
}

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
}

final class ChildProcess {
    let pid: pid_t
    /// Our end of the socket pair on the child's stdin and stdout; -1 once closed.
    private var channel: Int32
    /// The child's stderr (an unlinked temporary file).
    private let errorFile: Int32
    private var exitStatus: Int32?

    /// Starts `path` with `arguments`, in this environment less GOTRACE_OUT and GOTRACE_FD (a traced
    /// test run must not turn tracing on in the child).
    init(_ path: String, _ arguments: [String]) throws {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw ChildProcessError(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(ends[1]) }  // the child's copies are its 0 and 1
        var template = Array("/tmp/gotrace-child-stderr-XXXXXX".utf8CString)
        let errorFile = mkstemp(&template)
        guard errorFile >= 0 else {
            Glibc.close(ends[0])
            throw ChildProcessError(description: "mkstemp: \(String(cString: strerror(errno)))")
        }
        // Inheriting this one elsewhere would only keep an unlinked file alive a little longer.
        _ = fcntl(errorFile, F_SETFD, FD_CLOEXEC)
        unlink(template)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 0, 1 and 2 clears close-on-exec on the copies only.
        posix_spawn_file_actions_adddup2(&actions, ends[1], 0)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errorFile, 2)

        // Safety: argv and envp hold strdup'd copies, null-terminated, freed only after posix_spawn has
        // returned (the child has its own copies by then). environ is libc's null-terminated array; the
        // tests do not change the environment while they run, so it stays valid while we copy it.
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            if !text.hasPrefix("GOTRACE_OUT=") && !text.hasPrefix("GOTRACE_FD=") { envp.append(strdup(variable)) }
            entry += 1
        }
        envp.append(nil)
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, &argv, &envp)
        guard rc == 0 else {
            Glibc.close(ends[0])
            Glibc.close(errorFile)
            throw ChildProcessError(description: "posix_spawn \(path): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        self.channel = ends[0]
        self.errorFile = errorFile
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = finish()
        }
        Glibc.close(errorFile)
    }

    /// The next line of the child's stdout without its newline; nil at end of stream with nothing read,
    /// or after `timeout` with no output (then the child is killed: a test must not hang on it).
    func readLine(timeout: Duration = .seconds(120)) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        let milliseconds = Int32(timeout.components.seconds * 1_000)
        while true {
            var ready = pollfd(fd: channel, events: Int16(POLLIN), revents: 0)
            let polled = Runtime.blockingCall { poll(&ready, 1, milliseconds) }
            if polled < 0 && errno == EINTR { continue }
            if polled == 0 {
                kill(pid, SIGKILL)
                return nil
            }
            let n = Runtime.blockingCall { Glibc.read(channel, &byte, 1) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Sends the child a newline and then end of stream on its stdin, closes our end, and waits for
    /// the child to end. Returns its exit status (128 + N if killed by signal N) and its stderr. A child
    /// still running after `timeout` is killed (a test must not hang on it).
    func finish(timeout: Duration = .seconds(120)) -> (status: Int32, errorOutput: String) {
        if channel >= 0 {
            var newline = UInt8(ascii: "\n")
            _ = send(channel, &newline, 1, Int32(MSG_NOSIGNAL))  // EPIPE if it is gone: nothing to tell
            Glibc.close(channel)
            channel = -1
        }
        if exitStatus == nil {
            var status: Int32 = 0
            let deadline = ContinuousClock.now + timeout
            while true {
                let ended = waitpid(pid, &status, WNOHANG)
                if ended == pid || (ended < 0 && errno != EINTR) { break }
                if ContinuousClock.now > deadline {
                    kill(pid, SIGKILL)
                    while Runtime.blockingCall({ waitpid(pid, &status, 0) }) < 0 && errno == EINTR {}
                    break
                }
                Runtime.sleep(for: .milliseconds(5))
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
            let signal = status & 0x7f
            exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
        var errorOutput: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while true {
            let n = pread(errorFile, &buffer, buffer.count, offset)
            if n <= 0 { break }
            errorOutput += buffer[..<n]
            offset += off_t(n)
        }
        return (exitStatus!, String(decoding: errorOutput, as: UTF8.self))
    }
}
