// Fetching a trace from a program's debug server (`gotrace top --url`; GoRuntime's DebugServer.swift serves
// `/debug/pprof/trace?seconds=N`, as Go's net/http/pprof does).
//
// One request per connection (`Connection: close`), plain HTTP/1.1; the body is framed by Content-Length (which
// the runtime's server always sends) or, failing that, by the end of the stream. Blocking calls: `top` has
// nothing else to do while a trace is being taken.

import GoTrace

#if canImport(Glibc)
import Glibc
#endif

/// A program's debug server, at `http://HOST:PORT` (any path after the port is ignored).
struct DebugEndpointClient {
    let host: String
    let port: String

    /// Why a fetch failed, in words for the user.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(url: String) throws(Failure) {
        guard url.hasPrefix("http://") else { throw Failure(description: "--url must start with http:// (got \(url))") }
        let authority = url.dropFirst("http://".count).prefix { $0 != "/" }
        guard let colon = authority.lastIndex(of: ":"), !authority[..<colon].isEmpty,
              let portNumber = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(portNumber)
        else { throw Failure(description: "--url needs a host and a port: http://HOST:PORT (got \(url))") }
        host = String(authority[..<colon])
        port = String(portNumber)
    }

    /// A trace of the next `seconds` seconds of the program: the bytes of a `.gtrace` file.
    func trace(seconds: Int) throws(Failure) -> [UInt8] {
        let response = try get("/debug/pprof/trace?seconds=\(seconds)")
        guard response.status == 200 else {
            throw Failure(description: "http://\(host):\(port): HTTP \(response.status): "
                + String(decoding: response.body.prefix(200), as: UTF8.self))
        }
        return response.body
    }

    private func get(_ path: String) throws(Failure) -> (status: Int, body: [UInt8]) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, port, &hints, &found)
        guard resolved == 0, let first = found else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(found) }
        var descriptor: Int32 = -1
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            if descriptor >= 0, connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { break }
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
            candidate = address.pointee.ai_next
        }
        guard descriptor >= 0 else {
            throw Failure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        do {
            try TraceFileWriter.writeAll(request, to: descriptor)
        } catch {
            throw Failure(description: "cannot send the request to \(host):\(port): \(error)")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var expected: Int?
        var bodyStart: Int?
        while true {
            if let bodyStart, let expected, received.count - bodyStart >= expected { break }
            // Safety: recv(2) writes at most `count` bytes into the buffer it is given.
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received += chunk[0..<count]
            if bodyStart == nil, let end = headEnd(received) {
                bodyStart = end
                expected = contentLength(String(decoding: received[..<end], as: UTF8.self))
            }
        }
        guard let bodyStart else { throw Failure(description: "\(host):\(port): no HTTP response") }
        let head = String(decoding: received[..<bodyStart], as: UTF8.self)
        let statusWords = head.split(separator: "\r\n").first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw Failure(description: "\(host):\(port): not an HTTP response")
        }
        let body = Array(received[bodyStart...])
        return (status, expected.map { Array(body.prefix($0)) } ?? body)
    }

    private func headEnd(_ bytes: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index..<index + 4].elementsEqual(separator) { return index + 4 }
        return nil
    }

    private func contentLength(_ head: String) -> Int? {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(String(parts[1].filter { $0 != " " && $0 != "\t" }))
            }
        }
        return nil
    }
}
