import Foundation
import GotraceTestSupport
import Testing
@testable import GoTrace

/// What a trace may hold: no environment variables ever, the program's arguments only with `--record-args`.
/// Checked on every byte of every chunk, inflated — not only on what `dump` chooses to print.
@Suite
struct TraceContentsTests {
    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")

    /// The file header and every chunk's payload, decompressed, concatenated.
    static func allPayloadBytes(_ path: String) throws -> [UInt8] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var plain = Array(bytes.prefix(FileHeader.encodedSize))
        let layout = chunkLayout(bytes)
        #expect(layout.count > 3)
        for chunk in layout {
            let start = chunk.offset + chunk.headerSize
            let stored = bytes[start..<start + Int(chunk.header.storedPayloadSize)]
            plain += try ChunkCodec.payload(of: chunk.header, stored: stored).get()
        }
        return plain
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard haystack.count >= pattern.count else { return false }
        return (0...(haystack.count - pattern.count)).contains { haystack[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    func record(_ options: [String], trace: String) throws -> GotraceTestSupport.ProcessOutcome {
        try runProcess(gotrace, ["record"] + options + ["-o", trace, "--", scenarios, "pingpong", "300", "--token=argument-secret-4711"],
                       environment: ["GOTRACE_TEST_SECRET": "environment-secret-0815"])
    }

    @Test func byDefaultATraceHoldsNeitherArgumentsNorEnvironment() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try record([], trace: trace)
        #expect(outcome.status == 0, "\(outcome.error)")
        let plain = try Self.allPayloadBytes(trace)
        #expect(!Self.contains(plain, "argument-secret-4711"))
        #expect(!Self.contains(plain, "environment-secret-0815"))
        #expect(!Self.contains(plain, "GOTRACE_TEST_SECRET"))
        #expect(TraceReader(path: trace).commandLine == nil)
        let stat = try run(gotrace, ["stat", "--format", "json", trace])
        #expect(!stat.standardOutput.contains("commandLine"))
    }

    @Test func recordArgsAddsTheArgumentsAndStillNoEnvironment() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try record(["--record-args"], trace: trace)
        #expect(outcome.status == 0, "\(outcome.error)")
        let reader = TraceReader(path: trace)
        #expect(reader.commandLine == [scenarios, "pingpong", "300", "--token=argument-secret-4711"])
        let summary = TraceSummary(reading: reader)
        #expect(summary.complete && summary.diagnostics.isEmpty)
        let plain = try Self.allPayloadBytes(trace)
        #expect(!Self.contains(plain, "environment-secret-0815"))
        let stat = try run(gotrace, ["stat", trace])
        #expect(stat.standardOutput.contains("command line:           \(scenarios) pingpong 300 --token=argument-secret-4711"))
    }

    @Test func commandLineChunkRoundTripsAndRejectsBadLengths() throws {
        let arguments = ["prog", "", "with space", "ünïcode"]
        let chunk = CommandLineChunk.encoded(arguments)
        guard case .success(let (header, size)) = ChunkHeader.decode(chunk[...]) else {
            Issue.record("header does not decode")
            return
        }
        #expect(header.type == .commandLine)
        #expect(CommandLineChunk.decode(Array(chunk[size...])) == arguments)
        // A length past the end, a count larger than the bytes, trailing bytes: all rejected, nothing trapped.
        #expect(CommandLineChunk.decode([1, 200, 0x41]) == nil)
        #expect(CommandLineChunk.decode([0xff, 0xff, 0xff, 0x0f]) == nil)
        #expect(CommandLineChunk.decode([0, 0]) == nil)
        // Too many bytes for one chunk: the tail is dropped and said so.
        let huge = [String](repeating: String(repeating: "x", count: 1000), count: 2_000)
        let cut = try #require(CommandLineChunk.decode(Array(CommandLineChunk.encoded(huge).dropFirst(size))))
        #expect(cut.count < huge.count && cut.last?.hasSuffix("more arguments not recorded)") == true)
    }
}
