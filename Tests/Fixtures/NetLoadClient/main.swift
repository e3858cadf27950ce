// The client half of the 10,000-connection test (Tests/GoRuntimeTests/NetTests.swift), run as a child
// process so that each side of the loopback needs only one descriptor per connection (both ends in one
// process would need two, and RLIMIT_NOFILE's hard limit may be below that).
//
//   NetLoadClient HOST PORT COUNT [IN-FLIGHT]
//
// Protocol with the test:
//   1. Opens COUNT connections to HOST:PORT, each from its own goroutine on 2 Ps, with at most IN-FLIGHT
//      (default 1,000) handshakes and echoes under way at a time; each writes "connection I" and reads it
//      back whole.
//   2. When every connection is open and has echoed, prints "open COUNT" on stdout. All stay open.
//   3. Waits for a line on stdin, or for stdin to close.
//   4. Closes every connection and exits 0.
// On any failure (a connect, write or read error, a wrong echo, too few descriptors) it prints
// "NetLoadClient: ..." on stderr, naming how many failed and the first failure, and exits 1 without
// printing "open"; the kernel closes whatever it had open.
import GoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to descriptor `fd` unbuffered (stdio's streams are globals Swift 6 will not share).
func emit(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}

func fail(_ message: String) -> Never {
    emit("NetLoadClient: \(message)\n", to: 2)
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 4 || arguments.count == 5, let port = Int(arguments[2]), let count = Int(arguments[3]),
      count > 0
else {
    fail("usage: NetLoadClient HOST PORT COUNT [IN-FLIGHT]")
}
let host = arguments[1]
// Below the listener's accept backlog (somaxconn, 4,096 here): more handshakes at once would only have
// SYNs dropped and retried a second later.
let inFlight = arguments.count == 5 ? Int(arguments[4]) ?? 0 : 1_000
guard inFlight > 0 else { fail("IN-FLIGHT must be a positive number") }

/// Makes room for `count` sockets plus stdio and the runtime's own descriptors (poller, eventfd, ...).
func raiseDescriptorLimit() {
    let needed = count + 64
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur >= rlim_t(needed) { return }
    guard limit.rlim_max >= rlim_t(needed) else {
        fail("RLIMIT_NOFILE's hard limit \(limit.rlim_max) is below the \(needed) descriptors \(count) connections need")
    }
    var raised = rlimit(rlim_cur: rlim_t(needed), rlim_max: limit.rlim_max)
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
        fail("setrlimit(RLIMIT_NOFILE, \(needed)): \(String(cString: strerror(errno)))")
    }
}

/// The number of failed connections and the first failure's description.
final class Failures: Sendable {
    private let state = Mutex<(count: Int, first: String?)>((0, nil))

    func record(_ description: String) {
        state.withLock { state in
            state.count += 1
            if state.first == nil { state.first = description }
        }
    }

    var summary: (count: Int, first: String?) { state.withLock { $0 } }
}

/// Blocks until stdin yields a newline or ends (or fails: the test is gone, so stop either way).
func waitForStdin() {
    var byte: UInt8 = 0
    while true {
        let n = Runtime.blockingCall { read(0, &byte, 1) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 || byte == UInt8(ascii: "\n") { return }
    }
}

raiseDescriptorLimit()
let status = Runtime.run(maxProcs: 2) { () -> Int32 in
    let failures = Failures()
    let echoed = WaitGroup()
    let closed = WaitGroup()
    let release = Channel<Void>()  // closed once the test has seen every connection open
    let slots = Channel<Void>(capacity: inFlight)
    for index in 0..<count {
        echoed.add(1)
        closed.add(1)
        go {
            slots.send(())
            var connection: TCPConnection?
            do {
                let opened = try TCPConnection.connect(host: host, port: port)
                connection = opened
                let message = Array("connection \(index)".utf8)
                try opened.write(message)
                var received: [UInt8] = []
                while received.count < message.count {
                    let chunk = try opened.read(maxLength: message.count - received.count)
                    if chunk.isEmpty { break }
                    received += chunk
                }
                if received != message {
                    failures.record("connection \(index): echoed \"\(String(decoding: received, as: UTF8.self))\", not \"\(String(decoding: message, as: UTF8.self))\"")
                }
            } catch {
                failures.record("connection \(index): \(error)")
            }
            _ = slots.receive()
            echoed.done()
            _ = release.receive()
            connection?.close()
            closed.done()
        }
    }
    echoed.wait()
    let (failed, first) = failures.summary
    if failed > 0 {
        emit("NetLoadClient: \(failed) of \(count) connections failed; the first: \(first ?? "?")\n", to: 2)
        return 1
    }
    emit("open \(count)\n", to: 1)
    waitForStdin()
    release.close()
    closed.wait()
    return 0
}
exit(status)
