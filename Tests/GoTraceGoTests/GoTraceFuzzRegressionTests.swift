import Foundation
import GoTrace
import GoTraceGo
import Testing

/// Go-trace inputs that made the reader trap, from traces/fuzz-regressions/ (replayed by scripts/fuzz.sh
/// under AddressSanitizer as well).
@Suite("Go trace reader regressions")
struct GoTraceFuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("traces/fuzz-regressions").path

    /// A string defined under id UInt64.max made the user-log ids (allocated above Go's largest) overflow.
    @Test("a string id of UInt64.max does not overflow the ids given to user-log values")
    func stringIDMaximum() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/go-string-id-max.trace")))
        let reader = GoTraceReader(bytes: bytes, fileName: "go-string-id-max.trace")
        #expect(reader.fatalDiagnostic == nil)
        #expect(reader.strings[UInt64.max] == Array("key".utf8))
        var logs: [GoMappedEvent] = []
        while let event = reader.nextMapped() { if event.kind == .log { logs.append(event) } }
        let log = try #require(logs.first)
        // Arguments: goroutine, key string id, value string id.
        #expect(log.arguments.1 == UInt64.max)
        #expect(log.arguments.2 != 0 && log.arguments.2 != UInt64.max)
        #expect(reader.strings[log.arguments.2] == Array("hello".utf8))
    }
}
