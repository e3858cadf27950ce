@testable import GoRuntime
import Testing

@Suite("HTTP Date header")
struct HTTPDateTests {
    @Test("IMF-fixdate formatting", arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),  // RFC 9110's example
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func format(seconds: Int64, expected: String) {
        #expect(HTTPDate.format(seconds) == expected)
    }

    @Test("the server sends a Date header")
    func serverSendsDate() throws {
        let date = try Runtime.run(maxProcs: 2) { () throws -> String? in
            let server = try HTTPServer(port: 0) { _ in HTTPResponse(text: "ok") }
            defer { server.close() }
            return try HTTP.get("http://127.0.0.1:\(server.port)/").headers["date"]
        }
        let text = try #require(date)
        #expect(text.hasSuffix(" GMT") && text.count == 29, "date: \(text)")
    }
}
