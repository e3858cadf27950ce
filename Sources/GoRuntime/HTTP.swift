// HTTP.swift — a small HTTP/1.1 client and server on TCPConnection, for tests and examples.
//
// Client: `HTTP.get("http://host:port/path")` — one connection per request (`Connection: close`),
// response bodies framed by Content-Length, chunked transfer encoding, or end of stream.
// Server: `HTTPServer` accepts on its own goroutine and serves each connection on another, with
// keep-alive; request bodies need a Content-Length (chunked requests are refused). Requests are read by
// `HTTPRequestReader` over any `HTTPByteSource` (a connection; bytes in memory for the fuzz target): a
// malformed head gets 400 and the connection closes, as Go's server does; a body over 1 MiB gets 413.
//
// Not here: https, redirects, proxies, connection pooling, trailers, 100-continue, pipelining
// beyond serving requests in order. Header names are compared case-insensitively and stored
// lower-cased; repeated headers are joined with ", ".
import CGoRuntime

/// A malformed or unsupported HTTP exchange.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    /// What was wrong, e.g. `bad port in "http://host:x/"`.
    public let message: String
    /// The status a server answers a request with when reading it failed this way: 400 unless the request
    /// was well-formed but refused (411 for a chunked body, 413 for an oversized one, 431 for an oversized head).
    public let statusCode: Int
    init(_ message: String, statusCode: Int = 400) {
        self.message = message
        self.statusCode = statusCode
    }
    /// The message prefixed with `http: `.
    public var description: String { "http: \(message)" }
}

/// A request as the server sees it.
public struct HTTPRequest: Sendable {
    /// The request method as sent, e.g. `GET`.
    public var method: String
    /// The request target, e.g. "/a?b=c".
    public var path: String
    /// Lower-cased names.
    public var headers: [String: String]
    /// The request body (empty without a `Content-Length`).
    public var body: [UInt8]
    /// Whether the connection stays open after the response (HTTP/1.1 unless `Connection: close`).
    public var keepAlive: Bool = true
}

/// A response: what `HTTP.get` returns and what a server handler produces.
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 200.
    public var statusCode: Int
    /// The reason phrase, e.g. `OK`.
    public var reason: String
    /// Lower-cased names. The server sets Content-Length itself.
    public var headers: [String: String]
    /// The response body, whole.
    public var body: [UInt8]

    /// A response with a binary body.
    ///
    /// - Parameters:
    ///   - statusCode: The status code; 200 unless given.
    ///   - reason: The reason phrase; nil picks the standard one for `statusCode` (`Not Found` for 404).
    ///   - headers: Header fields; names are lower-cased. The server sets `Content-Length` itself.
    ///   - body: The body bytes.
    public init(statusCode: Int = 200, reason: String? = nil, headers: [String: String] = [:], body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reason = reason ?? HTTP.reasonPhrase(statusCode)
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    /// A response whose body is `text` encoded as UTF-8.
    ///
    /// - Parameters:
    ///   - statusCode: The status code; 200 unless given.
    ///   - reason: The reason phrase; nil picks the standard one for `statusCode`.
    ///   - headers: Header fields; names are lower-cased. The server sets `Content-Length` itself.
    ///   - text: The body, as text.
    public init(statusCode: Int = 200, reason: String? = nil, headers: [String: String] = [:], text: String) {
        self.init(statusCode: statusCode, reason: reason, headers: headers, body: Array(text.utf8))
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A minimal HTTP/1.1 client: plain `http://` only, one connection per request, no redirects.
public enum HTTP {
    /// Fetches `url` (http:// only) with GET and returns the whole response. Parks the calling
    /// goroutine while waiting on the network; `timeout` bounds the whole exchange.
    ///
    /// Any status code is a response, not an error: check ``HTTPResponse/statusCode``.
    ///
    /// - Parameters:
    ///   - url: `http://host[:port][/path]`; the host may be a name, an IPv4 address or a bracketed
    ///     IPv6 address.
    ///   - timeout: The longest the whole exchange may take; nil waits as long as it takes.
    /// - Returns: The response, its body read to the end.
    /// - Throws: ``HTTPError`` for a URL that is not `http://` or a malformed response, ``NetError`` when
    ///   connecting, sending or receiving fails (``NetError/Code/timedOut`` once `timeout` has passed).
    public static func get(_ url: String, timeout: Duration? = nil) throws -> HTTPResponse {
        let target = try URLParts(url)
        let connection = try TCPConnection.connect(host: target.host, port: target.port, timeout: timeout)
        defer { connection.close() }
        if let timeout { connection.setDeadline(.now + timeout) }
        let hostHeader = target.port == 80 ? target.hostHeader : "\(target.hostHeader):\(target.port)"
        try connection.write(
            "GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: GoRuntime\r\n"
                + "Accept-Encoding: identity\r\nConnection: close\r\n\r\n")
        let reader = HTTPReader(connection)
        let status = try reader.line()
        // "HTTP/1.1 200 OK" — the reason may be empty or contain spaces.
        let parts = status.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
            throw HTTPError("malformed status line \"\(status)\"")
        }
        let headers = try reader.headers()
        var response = HTTPResponse(statusCode: code, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
        // 1xx, 204 and 304 have no body.
        if (100..<200).contains(code) || code == 204 || code == 304 { return response }
        response.body = try reader.body(headers, untilEndIfUnframed: true)
        return response
    }

    static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 411: return "Length Required"
        case 413: return "Request Entity Too Large"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return ""
        }
    }
}

/// "http://host[:port][/path]", with "[v6]" hosts.
struct URLParts {
    var host: String
    /// As it goes in the Host header (brackets kept for IPv6).
    var hostHeader: String
    var port: Int
    var path: String

    init(_ url: String) throws {
        guard url.lowercased().hasPrefix("http://") else { throw HTTPError("unsupported URL \"\(url)\" (http:// only)") }
        let rest = url.dropFirst("http://".count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        path = rest[authorityEnd...].isEmpty ? "/" : String(rest[authorityEnd...])
        if path.hasPrefix("?") { path = "/" + path }
        port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw HTTPError("bad IPv6 host in \"\(url)\"") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            hostHeader = String(authority[...close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { throw HTTPError("bad port in \"\(url)\"") }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            hostHeader = host
            guard let value = Int(authority[authority.index(after: colon)...]) else { throw HTTPError("bad port in \"\(url)\"") }
            port = value
        } else {
            host = String(authority)
            hostHeader = host
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw HTTPError("bad host or port in \"\(url)\"") }
    }
}

/// Where an HTTP reader gets its bytes: a ``TCPConnection``, or bytes in memory (tests, the request parser's
/// fuzz target).
public protocol HTTPByteSource: AnyObject {
    /// Reads at most `buffer.count` bytes into `buffer`; 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension TCPConnection: HTTPByteSource {}

/// Buffered reading of lines, headers and bodies from a byte source.
final class HTTPReader {
    private let source: any HTTPByteSource
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bounds what a peer can make us buffer for one line or header block.
    static let lineLimit = 64 * 1024

    /// What one read may bring in; reused for the reader's life, so a read neither allocates nor zeroes.
    private let scratch: UnsafeMutableRawBufferPointer

    init(_ source: any HTTPByteSource) {
        self.source = source
        scratch = .allocate(byteCount: 16 * 1024, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        let n = try source.read(into: scratch)
        guard n > 0 else { return false }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
        return true
    }

    /// Whether a request or response starts here (false: the peer closed cleanly).
    func hasMore() throws -> Bool { start < buffer.count ? true : try fill() }

    /// One line without its CRLF (or LF).
    func line() throws -> String {
        // Bytes already searched, counted from `start`: `fill` may compact the buffer.
        var searched = 0
        while true {
            if let newline = buffer[(start + searched)...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return text
            }
            searched = buffer.count - start
            if buffer.count - start > Self.lineLimit { throw HTTPError("line too long", statusCode: 431) }
            guard try fill() else { throw HTTPError("unexpected end of stream") }
        }
    }

    func headers() throws -> [String: String] {
        var headers: [String: String] = [:]
        var total = 0
        while true {
            let line = try line()
            if line.isEmpty { return headers }
            total += line.utf8.count
            if total > Self.lineLimit { throw HTTPError("header block too large", statusCode: 431) }
            // RFC 9112 §5: a field name is a token, with no space before the colon.
            guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
                  !line[..<colon].contains(where: { $0 == " " || $0 == "\t" })
            else { throw HTTPError("malformed header \"\(line.prefix(200))\"") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            if let existing = headers[name] { headers[name] = existing + ", " + value } else { headers[name] = value }
        }
    }

    func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { throw HTTPError("unexpected end of stream in body") }
        }
        let result = Array(buffer[start..<start + count])
        start += count
        return result
    }

    func rest() throws -> [UInt8] {
        while try fill() {}
        let result = Array(buffer[start...])
        start = buffer.count
        return result
    }

    /// The body framed by `headers`: chunked, Content-Length, or (responses) end of stream.
    func body(_ headers: [String: String], untilEndIfUnframed: Bool, maxBody: Int = .max) throws -> [UInt8] {
        if let encoding = headers["transfer-encoding"], encoding.lowercased().contains("chunked") {
            var body: [UInt8] = []
            while true {
                let sizeLine = try line()
                let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    throw HTTPError("malformed chunk size \"\(sizeLine)\"")
                }
                if size == 0 {
                    // Trailers, then the blank line.
                    while try !line().isEmpty {}
                    return body
                }
                body += try bytes(size)
                guard try line().isEmpty else { throw HTTPError("chunk not followed by CRLF") }
            }
        }
        if let lengthText = headers["content-length"] {
            // Digits only (RFC 9110 §8.6): Int() would take "+5", and a repeated header arrives as "5, 5".
            let digits = lengthText.trimmingSpaces()
            guard !digits.isEmpty, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let length = Int(digits) else {
                throw HTTPError("bad Content-Length \"\(lengthText.prefix(200))\"")
            }
            guard length <= maxBody else { throw HTTPError("request body of \(length) bytes is too large", statusCode: 413) }
            return try bytes(length)
        }
        return untilEndIfUnframed ? try rest() : []
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// Reads the requests a client sends on one connection, as ``HTTPServer`` does: the request line, header
/// fields and a body framed by `Content-Length`. Public for the request parser's fuzz target; programs serve
/// with ``HTTPServer``.
public final class HTTPRequestReader {
    /// The largest request body read (a larger `Content-Length` gets 413): the server holds a body whole.
    public static let maxBodySize = 1 << 20

    private let reader: HTTPReader

    /// A reader of the requests `source` delivers.
    public init(_ source: any HTTPByteSource) { reader = HTTPReader(source) }

    /// The next request; nil when the stream ended cleanly between requests.
    ///
    /// - Throws: ``HTTPError`` for a request to answer with its ``HTTPError/statusCode`` and then close the
    ///   connection: malformed (400, also for a stream that ends inside a request), chunked (411), a body
    ///   over ``maxBodySize`` (413), a line or header block over 64 KiB (431); the source's own errors as they come.
    public func next() throws -> HTTPRequest? {
        guard try reader.hasMore() else { return nil }
        let requestLine = try reader.line()
        // "METHOD SP target SP HTTP/1.x", single spaces (RFC 9112 §3).
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].hasPrefix("HTTP/1."),
              parts[2].count == "HTTP/1.1".count
        else { throw HTTPError("bad request line") }
        let headers = try reader.headers()
        if headers["transfer-encoding"] != nil {
            throw HTTPError("chunked requests are not supported", statusCode: 411)
        }
        let body = try reader.body(headers, untilEndIfUnframed: false, maxBody: Self.maxBodySize)
        let keepAlive = parts[2] == "HTTP/1.1"
            ? headers["connection"]?.lowercased() != "close"
            : headers["connection"]?.lowercased() == "keep-alive"
        return HTTPRequest(method: String(parts[0]), path: String(parts[1]), headers: headers, body: body,
                           keepAlive: keepAlive)
    }
}

/// A tiny HTTP/1.1 server: an accept loop on its own goroutine, each connection served on its own.
/// Starts serving as soon as it is created (from a goroutine or not: `go` starts the runtime).
///
///     let server = try HTTPServer(port: 0) { request in HTTPResponse(text: "hello") }
///     print(server.port)
public final class HTTPServer: @unchecked Sendable {
    /// Produces the response to one request. Runs on the goroutine that serves the request's connection,
    /// so it may block on channels, locks or network I/O; requests on one connection are answered in order.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private let listener: TCPListener
    private let handler: Handler
    // Open connections, so that `close` can end them. Guarded by `lock` (held for a few
    // instructions, never across a park).
    private let lock: UnsafeMutablePointer<gort_lock_t>
    private var connections: [ObjectIdentifier: TCPConnection] = [:]
    private var closed = false

    /// Listens on `host`:`port` (0: an ephemeral port; see `port`) and starts serving.
    public init(host: String = "127.0.0.1", port: Int = 0, handler: @escaping Handler) throws {
        listener = try TCPListener.listen(host: host, port: port)
        self.handler = handler
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        go { [self] in acceptLoop() }
    }

    deinit { lock.deallocate() }

    /// The address the server listens on.
    public var address: SocketAddress { listener.address }
    /// The port the server listens on: the one the kernel chose when created with port 0.
    public var port: Int { listener.port }

    /// Stops accepting and closes every open connection; their goroutines end.
    public func close() {
        gort_lock(lock)
        closed = true
        let open = Array(connections.values)
        connections.removeAll()
        gort_unlock(lock)
        listener.close()
        for connection in open { connection.close() }
    }

    private func acceptLoop() {
        while true {
            let connection: TCPConnection
            do {
                connection = try listener.accept()
            } catch {
                if (error as? NetError)?.code == .closed { return }
                // EMFILE and friends: back off instead of spinning, as Go's http.Server does.
                Runtime.sleep(for: .milliseconds(5))
                continue
            }
            gort_lock(lock)
            if closed {
                gort_unlock(lock)
                connection.close()
                return
            }
            connections[ObjectIdentifier(connection)] = connection
            gort_unlock(lock)
            go { [self] in
                serve(connection)
                gort_lock(lock)
                connections[ObjectIdentifier(connection)] = nil
                gort_unlock(lock)
                connection.close()
            }
        }
    }

    private func serve(_ connection: TCPConnection) {
        let reader = HTTPRequestReader(connection)
        var date = HTTPDate()
        // The response's bytes, reused from one request to the next on this connection.
        var output: [UInt8] = []
        output.reserveCapacity(512)
        do {
            while true {
                let request: HTTPRequest
                do {
                    guard let next = try reader.next() else { return }
                    request = next
                } catch let error as HTTPError {
                    // Malformed or refused: answer, as Go's server does, then close (what follows is not framed).
                    try write(HTTPResponse(statusCode: error.statusCode, text: error.message + "\n"), to: connection,
                              keepAlive: false, date: &date, output: &output)
                    return
                }
                try write(handler(request), to: connection, keepAlive: request.keepAlive, date: &date, output: &output)
                if !request.keepAlive { return }
            }
        } catch {
            // The peer went away: drop the connection.
        }
    }

    private func write(_ response: HTTPResponse, to connection: TCPConnection, keepAlive: Bool,
                       date: inout HTTPDate, output: inout [UInt8]) throws {
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: "HTTP/1.1 ".utf8)
        output.append(contentsOf: String(response.statusCode).utf8)
        output.append(UInt8(ascii: " "))
        output.append(contentsOf: response.reason.utf8)
        output.append(contentsOf: "\r\n".utf8)
        // Sorted, so that a response's bytes do not depend on dictionary order (one header: no sort).
        let names = response.headers.count > 1 ? response.headers.keys.sorted() : Array(response.headers.keys)
        for name in names where name != "content-length" && name != "connection" && name != "transfer-encoding" {
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: ": ".utf8)
            output.append(contentsOf: response.headers[name]!.utf8)
            output.append(contentsOf: "\r\n".utf8)
        }
        // RFC 9110 §6.6.1: an origin server with a clock sends Date.
        if response.headers["date"] == nil {
            output.append(contentsOf: "date: ".utf8)
            output.append(contentsOf: date.now().utf8)
            output.append(contentsOf: "\r\n".utf8)
        }
        output.append(contentsOf: "content-length: ".utf8)
        output.append(contentsOf: String(response.body.count).utf8)
        output.append(contentsOf: "\r\n".utf8)
        if !keepAlive { output.append(contentsOf: "connection: close\r\n".utf8) }
        output.append(contentsOf: "\r\n".utf8)
        output.append(contentsOf: response.body)
        try connection.write(output)
    }
}

/// The Date header's value (IMF-fixdate, RFC 9110 §5.6.7), formatted once per second per connection.
struct HTTPDate {
    private var second: Int64 = -1
    private var text = ""

    mutating func now() -> String {
        let current = gort_walltime() / 1_000_000_000
        if current != second {
            second = current
            text = Self.format(current)
        }
        return text
    }

    /// "Sun, 06 Nov 1994 08:49:37 GMT" for `seconds` since the epoch (no locale, no libc state).
    static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdays[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) "
            + "\(two(secondOfDay / 3_600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }
}
