// DebugServer.swift — Go's `net/http/pprof` endpoints, served by a running program on the runtime's own
// HTTP server and network poller, so that `go tool pprof`, Pyroscope and Parca work on it unchanged.
//
// Design note
// -----------
// Vocabulary: an *endpoint* is one path under /debug/pprof/; *collecting* endpoints (`profile`, `trace`)
// hold their request for `seconds` while the program runs, the others answer from a snapshot at once.
// Safety rules, each enforced here:
//   1. It binds where it is told and nowhere else: no default address; `GOTRACE_DEBUG_ADDR` or
//      `DebugServer.start(address:)` name the host and port (port 0: the kernel picks one).
//   2. Requests are bounded: `seconds` must be a whole number from 1 to `maxSeconds`; one CPU profile and
//      one trace at a time — a second gets 429 with Go's message (`CPUProfiler.start`, `Tracer.start`).
//   3. A malformed request gets 400 (or 411, 413, 431 as Go's server answers), never a crash: the head and
//      body are read by `HTTPRequestReader` (HTTP.swift), the target split by `DebugRequestTarget` (bad
//      percent-escape, non-numeric `seconds` or `debug`), both without trusting a byte and both fuzzed
//      together (Fuzz/Sources/FuzzHTTPRequest).
//   4. A slow or vanished client costs only its connection's goroutine: each connection is served on its own
//      goroutine (HTTPServer), which parks in the poller while writing; a write to a closed peer fails and
//      ends that goroutine. A collecting request whose client left still stops its profile on time.
// Paths, parameters and content types follow Go's net/http/pprof: `debug=0` answers a gzipped protobuf as
// `application/octet-stream` with an attachment name, `debug>0` text; `profile` defaults to 30 s and
// `trace` to 1 s as in Go.
import CGoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The debug endpoints of `net/http/pprof` on an address of your choosing:
///
///     let server = try DebugServer.start(address: "127.0.0.1:6060")
///     // go tool pprof -top http://127.0.0.1:6060/debug/pprof/goroutine
///     server.close()
///
/// A program started with `GOTRACE_DEBUG_ADDR=HOST:PORT` serves them from the start of its first
/// ``Runtime/run(maxProcs:_:)`` without calling this.
public final class DebugServer: Sendable {
    /// The longest `seconds` a `profile` or `trace` request may ask for.
    public static let maxSeconds = 300

    private let server: HTTPServer

    private init(server: HTTPServer) { self.server = server }

    /// Starts serving the debug endpoints on `address`.
    ///
    /// - Parameter address: `HOST:PORT` (`[v6]:PORT` for IPv6); port 0 picks a free port (see ``port``).
    /// - Returns: The running server.
    /// - Throws: ``HTTPError`` for an address without a host or a valid port, ``NetError`` when it cannot listen.
    public static func start(address: String) throws -> DebugServer {
        let (host, port) = try parseAddress(address)
        let server = try HTTPServer(host: host, port: port) { request in DebugEndpoints.respond(to: request) }
        return DebugServer(server: server)
    }

    /// The port it listens on (the kernel's choice when started with port 0).
    public var port: Int { server.port }

    /// The address it listens on.
    public var address: SocketAddress { server.address }

    /// Stops listening and closes open connections.
    public func close() { server.close() }

    static func parseAddress(_ address: String) throws -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw HTTPError("bad debug address \"\(address)\" (want HOST:PORT, e.g. 127.0.0.1:6060)")
            }
            host = address[address.index(after: address.startIndex)..<close]
            portText = address[address.index(close, offsetBy: 2)...]
        } else {
            guard let colon = address.lastIndex(of: ":") else {
                throw HTTPError("bad debug address \"\(address)\" (want HOST:PORT, e.g. 127.0.0.1:6060)")
            }
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw HTTPError("bad debug address \"\(address)\" (want HOST:PORT, e.g. 127.0.0.1:6060)")
        }
        return (String(host), port)
    }
}

/// The process's diagnostics that start with its first run: the SIGQUIT dump and `GOTRACE_DEBUG_ADDR`.
enum Diagnostics {
    private static let started = Atomic<Bool>(false)
    // Safety: written once, by the one caller that wins `started`; kept so the server lives for the process.
    nonisolated(unsafe) private static var environmentServer: DebugServer?

    static func startOnce() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        StackDumpOnQuit.install()
        guard let address = getenvString("GOTRACE_DEBUG_ADDR"), !address.isEmpty else { return }
        do {
            let server = try DebugServer.start(address: address)
            environmentServer = server
            writeStandardError("gotrace: debug server on http://\(server.address)/debug/pprof/\n")
        } catch {
            writeStandardError("gotrace: cannot serve GOTRACE_DEBUG_ADDR=\(address): \(error)\n")
        }
    }
}

/// A request target split into its path and query, percent-decoded. Public for the request-parser fuzz
/// target; programs have no need of it.
public struct DebugRequestTarget: Sendable, Equatable {
    /// The path, decoded, e.g. `/debug/pprof/goroutine`.
    public var path: String
    /// The query's parameters, decoded; a repeated name keeps its first value, as Go's `FormValue` does.
    public var query: [String: String]

    /// Parses `target` (`/path?name=value&…`).
    ///
    /// - Throws: ``HTTPError`` for a target that does not start with `/`, a bad percent-escape, or one
    ///   longer than 8 KiB.
    public init(parsing target: String) throws {
        guard target.utf8.count <= 8 * 1024 else { throw HTTPError("request target too long") }
        guard target.hasPrefix("/") else { throw HTTPError("request target must start with /") }
        let bytes = Array(target.utf8)
        let questionMark = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        path = try Self.decode(bytes[..<questionMark], plusIsSpace: false)
        query = [:]
        guard questionMark < bytes.count else { return }
        for pair in bytes[(questionMark + 1)...].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let name = try Self.decode(pair[..<equals], plusIsSpace: true)
            let value = equals < pair.endIndex ? try Self.decode(pair[(equals + 1)...], plusIsSpace: true) : ""
            if query[name] == nil { query[name] = value }
        }
    }

    private static func decode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw HTTPError("bad percent-escape in request target")
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
