import GoRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How long any exchange below may take before it is counted as hung: a bound that keeps a broken run
/// from blocking the suite, never a timing expectation (the expectations say what went wrong).
private let hangBound: Duration = .seconds(20)

/// Reads up to and including the blank line that ends a request or response head.
private func readHead(_ connection: TCPConnection) throws -> String {
    var head: [UInt8] = []
    while !head.suffix(4).elementsEqual("\r\n\r\n".utf8) {
        let byte = try connection.read(maxLength: 1)
        if byte.isEmpty { break }
        head += byte
    }
    return String(decoding: head, as: UTF8.self)
}

/// What `HTTP.get` made of one exchange: the response's status, headers and body, or the error's text.
private enum Outcome: Equatable, Sendable {
    case response(status: Int, reason: String, body: String)
    case failure(String)
}

/// Serves one connection by hand: reads the request head, writes `reply` (each element in a write of its
/// own, so that the client's reader sees the pieces arrive apart), then — unless `holdOpen` — closes.
/// With `holdOpen` it writes nothing and waits for the client to go away. Returns the outcome of
/// `HTTP.get` on `path` and the request head the server received.
private func getFromHandWrittenServer(_ reply: [String], path: String = "/", holdOpen: Bool = false,
                                      timeout: Duration = hangBound) throws -> (Outcome, String) {
    try Runtime.run(maxProcs: 2) { () throws -> (Outcome, String) in
        let listener = try TCPListener.listen()
        defer { listener.close() }
        let requestHead = Channel<String>(capacity: 1)
        go {
            guard let connection = try? listener.accept() else {
                requestHead.send("")
                return
            }
            connection.setDeadline(.now + hangBound)
            requestHead.send((try? readHead(connection)) ?? "")
            if holdOpen {
                _ = try? connection.read(maxLength: 1)  // returns when the client closes
            }
            for part in reply {
                try? connection.write(part)
                Runtime.yield()
            }
            connection.close()
        }
        let outcome: Outcome
        do {
            let response = try HTTP.get("http://127.0.0.1:\(listener.port)\(path)", timeout: timeout)
            outcome = .response(status: response.statusCode, reason: response.reason, body: response.text)
        } catch {
            outcome = .failure("\(error)")
        }
        return (outcome, requestHead.receive() ?? "")
    }
}

/// One response read by hand from a raw connection: the head (lower-cased header names) and the body
/// as its Content-Length frames it.
private struct RawResponse {
    var statusLine: String
    var headers: [String: String]
    var body: String

    init?(_ connection: TCPConnection) throws {
        let head = try readHead(connection)
        guard !head.isEmpty else { return nil }
        var lines = head.split(separator: "\r\n").map(String.init)
        statusLine = lines.removeFirst()
        headers = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        body = String(decoding: try readFully(connection, length), as: UTF8.self)
    }
}

/// Runs `body` against an HTTPServer whose handler answers "<method> <path> <body>" with an `x-count`
/// header numbering the requests it served, on a raw connection to it.
private func withEchoingServer<Result: Sendable>(_ body: @escaping @Sendable (TCPConnection) throws -> Result) throws -> Result {
    try Runtime.run(maxProcs: 2) { () throws -> Result in
        let served = Shared(0)
        let lock = GoRuntime.Mutex()
        let server = try HTTPServer { request in
            let count = lock.withLock {
                served.value += 1
                return served.value
            }
            let text = "\(request.method) \(request.path) \(String(decoding: request.body, as: UTF8.self))"
            return HTTPResponse(headers: ["X-Count": "\(count)"], text: text)
        }
        defer { server.close() }
        let connection = try TCPConnection.connect(host: "127.0.0.1", port: server.port)
        defer { connection.close() }
        connection.setDeadline(.now + hangBound)
        return try body(connection)
    }
}

extension NetTests {
    // MARK: Client: URLs that never reach the network.

    @Test("HTTP.get refuses URLs it cannot use, before connecting", arguments: [
        ("https://127.0.0.1/", #"http: unsupported URL "https://127.0.0.1/" (http:// only)"#),
        ("ftp://127.0.0.1/", #"http: unsupported URL "ftp://127.0.0.1/" (http:// only)"#),
        ("http://[::1/", #"http: bad IPv6 host in "http://[::1/""#),
        ("http://127.0.0.1:http/", #"http: bad port in "http://127.0.0.1:http/""#),
        ("http://[::1]:x/", #"http: bad port in "http://[::1]:x/""#),
        ("http://:80/", #"http: bad host or port in "http://:80/""#),
        ("http://127.0.0.1:0/", #"http: bad host or port in "http://127.0.0.1:0/""#),
        ("http://127.0.0.1:65536/", #"http: bad host or port in "http://127.0.0.1:65536/""#),
    ])
    func badURL(url: String, message: String) {
        let error = #expect(throws: HTTPError.self) { try HTTP.get(url) }
        #expect(error?.description == message)
    }

    // MARK: Client: malformed or cut-short responses, each from a hand-written server.

    @Test("HTTP.get sends a well-formed request and reads a body framed by end of stream")
    func requestAndUnframedBody() throws {
        let (outcome, request) = try getFromHandWrittenServer(["HTTP/1.1 200 Fine\r\n\r\n", "until ", "the end"],
                                                               path: "/a/b?c=d")
        #expect(outcome == .response(status: 200, reason: "Fine", body: "until the end"))
        let lines = request.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.first == "GET /a/b?c=d HTTP/1.1")
        #expect(lines.contains { $0.hasPrefix("Host: 127.0.0.1:") })
        #expect(lines.contains("Connection: close"))
        #expect(request.hasSuffix("\r\n\r\n"))
    }

    @Test("HTTP.get returns a 204 without reading a body, and a status line without a reason")
    func noBodyAndNoReason() throws {
        let (noContent, _) = try getFromHandWrittenServer(["HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"])
        #expect(noContent == .response(status: 204, reason: "No Content", body: ""))
        let (noReason, _) = try getFromHandWrittenServer(["HTTP/1.0 200\r\nContent-Length: 2\r\n\r\nok"])
        #expect(noReason == .response(status: 200, reason: "", body: "ok"))
    }

    @Test("each malformed or truncated response fails with its own HTTPError", arguments: [
        (["HTTP/2 200 OK\r\n\r\n"], #"http: malformed status line "HTTP/2 200 OK""#),
        (["HTTP/1.1 OK\r\n\r\n"], #"http: malformed status line "HTTP/1.1 OK""#),
        (["HTTP/1.1 200 " + String(repeating: "a", count: 70_000)], "http: line too long"),
        (["HTTP/1.1 200 O"], "http: unexpected end of stream"),
        (["HTTP/1.1 200 OK\r\nA: b\r\n"], "http: unexpected end of stream"),
        (["HTTP/1.1 200 OK\r\nnot a header\r\n\r\n"], #"http: malformed header "not a header""#),
        (["HTTP/1.1 200 OK\r\n" + (0..<2_000).map { "X-Filler-\($0): \(String(repeating: "f", count: 40))\r\n" }.joined() + "\r\n"],
         "http: header block too large"),
        (["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "only ten.."], "http: unexpected end of stream in body"),
        (["HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nten bytes."], #"http: bad Content-Length "ten""#),
        (["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"], #"http: bad Content-Length "-1""#),
        (["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\n"], #"http: malformed chunk size "zz""#),
        (["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "-5\r\nhello\r\n"], #"http: malformed chunk size "-5""#),
        (["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhelloXX\r\n0\r\n\r\n"],
         "http: chunk not followed by CRLF"),
        (["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhel"], "http: unexpected end of stream in body"),
        (["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n"], "http: unexpected end of stream"),
    ])
    func malformedResponse(reply: [String], message: String) throws {
        let (outcome, _) = try getFromHandWrittenServer(reply)
        #expect(outcome == .failure(message))
    }

    @Test("HTTP.get's timeout ends an exchange whose server never answers")
    func getTimeoutWhileReading() throws {
        let (outcome, request) = try getFromHandWrittenServer([], holdOpen: true, timeout: .milliseconds(100))
        #expect(outcome == .failure("read: i/o timeout"))
        #expect(request.hasPrefix("GET / HTTP/1.1\r\n"), "the request went out before the wait")
    }

    @Test("HTTP.get's timeout bounds the connect too (a listener whose accept queue is full)")
    func getTimeoutWhileConnecting() throws {
        // Linux may still answer a SYN while the accept queue is full (when no earlier request is young), so
        // the page's connect can complete and its request time out instead: then the attempt says nothing
        // about connects and is made again on a fresh listener (a loaded stress run saw "write" once). Every
        // attempt must time out; one must do so connecting.
        var operations: [String] = []
        for _ in 0..<5 where operations.last != "connect" {
            let error = try Runtime.run(maxProcs: 1) { () throws -> NetError? in
                let listener = try TCPListener.listen(backlog: 0)
                defer { listener.close() }
                var queued: [TCPConnection] = []
                defer { for connection in queued { connection.close() } }
                // Fill the queue (see connectDeadline), then ask for a page. Each filling connect may wait 1 s:
                // on loopback one completes at once unless the queue is full, but a shorter wait could end, on
                // a loaded machine, before this goroutine ran again, and leave a place in the queue.
                for _ in 0..<8 {
                    guard let connection = try? TCPConnection.connect(host: "127.0.0.1", port: listener.port,
                                                                      timeout: .seconds(1)) else { break }
                    queued.append(connection)
                }
                do {
                    _ = try HTTP.get("http://127.0.0.1:\(listener.port)/", timeout: .milliseconds(100))
                } catch {
                    return error as? NetError
                }
                return nil
            }
            #expect(error?.code == .timedOut, "\(String(describing: error))")
            operations.append(error?.operation ?? "none")
        }
        #expect(operations.last == "connect", "operations that timed out, attempt by attempt: \(operations)")
    }

    // MARK: Server.

    @Test("the server keeps a connection alive across requests, answers pipelined ones in order, and closes on request")
    func serverKeepAlive() throws {
        let (responses, endOfStream) = try withEchoingServer { connection -> ([RawResponse?], [UInt8]) in
            try connection.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            var responses = [try RawResponse(connection)]
            // Two at once: the second waits in the server's buffer while the first is answered.
            try connection.write("GET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
            responses.append(try RawResponse(connection))
            responses.append(try RawResponse(connection))
            try connection.write("GET /four HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            responses.append(try RawResponse(connection))
            return (responses, try connection.read(maxLength: 16))
        }
        #expect(responses.map { $0?.body } == ["GET /one ", "GET /two ", "GET /three ", "GET /four "])
        #expect(responses.map { $0?.headers["x-count"] } == ["1", "2", "3", "4"], "all four on one connection")
        #expect(responses.map { $0?.statusLine } == Array(repeating: "HTTP/1.1 200 OK", count: 4))
        #expect(responses.prefix(3).allSatisfy { $0?.headers["connection"] == nil })
        #expect(responses.last??.headers["connection"] == "close")
        #expect(endOfStream.isEmpty, "the server closed after the request that asked it to")
    }

    @Test("an HTTP/1.0 request without keep-alive gets one response and the connection closes")
    func serverHTTP10() throws {
        let (response, endOfStream) = try withEchoingServer { connection -> (RawResponse?, [UInt8]) in
            try connection.write("GET /old HTTP/1.0\r\n\r\n")
            return (try RawResponse(connection), try connection.read(maxLength: 16))
        }
        #expect(response?.body == "GET /old ")
        #expect(response?.headers["connection"] == "close")
        #expect(endOfStream.isEmpty)
    }

    @Test("request bodies framed by Content-Length reach the handler, and the next request starts after them")
    func serverRequestBodies() throws {
        let responses = try withEchoingServer { connection -> [RawResponse?] in
            // The first body arrives in two writes; the second request follows the first body in one write.
            try connection.write("POST /first HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello ")
            Runtime.sleep(for: .milliseconds(5))
            try connection.write("world" + "PUT /second HTTP/1.1\r\ncontent-length:  3 \r\n\r\nabc")
            return [try RawResponse(connection), try RawResponse(connection)]
        }
        #expect(responses.map { $0?.body } == ["POST /first hello world", "PUT /second abc"])
    }

    @Test("a chunked request body gets 411 Length Required and the connection closes")
    func serverRefusesChunkedBodies() throws {
        let (response, endOfStream) = try withEchoingServer { connection -> (RawResponse?, [UInt8]) in
            try connection.write("POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            return (try RawResponse(connection), try connection.read(maxLength: 16))
        }
        #expect(response?.statusLine == "HTTP/1.1 411 Length Required")
        #expect(response?.body == "chunked requests are not supported\n")
        #expect(response?.headers["connection"] == "close")
        #expect(endOfStream.isEmpty)
    }

    @Test("a malformed request line or header gets 400 and the connection closes", arguments: [
        "HELLO\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
    ])
    func serverMalformedHead(request: String) throws {
        let (response, endOfStream) = try withEchoingServer { connection -> (RawResponse?, [UInt8]) in
            try connection.write(request)
            return (try RawResponse(connection), try connection.read(maxLength: 16))
        }
        #expect(response?.statusLine == "HTTP/1.1 400 Bad Request")
        #expect(response?.headers["connection"] == "close")
        #expect(endOfStream.isEmpty)
    }

    @Test("a Content-Length over the server's limit gets 413 before any of the body is read")
    func serverRefusesHugeBodies() throws {
        let (response, endOfStream) = try withEchoingServer { connection -> (RawResponse?, [UInt8]) in
            try connection.write("POST / HTTP/1.1\r\nContent-Length: \(HTTPRequestReader.maxBodySize + 1)\r\n\r\n")
            return (try RawResponse(connection), try connection.read(maxLength: 16))
        }
        #expect(response?.statusLine == "HTTP/1.1 413 Request Entity Too Large")
        #expect(endOfStream.isEmpty)
    }
}
