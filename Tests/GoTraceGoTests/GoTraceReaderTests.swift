import Foundation
import GoTrace
import GotraceTestSupport
import Testing
@testable import GoTraceGo

/// Writes Go 1.19 traces by hand: the edge cases Go's runtime does not produce on demand.
struct GoTraceBuilder {
    var bytes: [UInt8]

    init(version: String = "go 1.19 trace") {
        bytes = Array(version.utf8)
        bytes += [UInt8](repeating: 0, count: max(0, 16 - bytes.count))
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    mutating func event(_ type: UInt8, _ arguments: [UInt64]) {
        if arguments.count <= 3 {
            bytes.append(type | UInt8(arguments.count - 1) << 6)
            for argument in arguments { bytes += GoTraceBuilder.varint(argument) }
        } else {
            bytes.append(type | 3 << 6)
            let body = arguments.flatMap(GoTraceBuilder.varint)
            bytes += GoTraceBuilder.varint(UInt64(body.count)) + body
        }
    }

    mutating func string(_ id: UInt64, _ text: String) {
        bytes.append(GoEventType.string)
        bytes += GoTraceBuilder.varint(id) + GoTraceBuilder.varint(UInt64(text.utf8.count)) + Array(text.utf8)
    }

    mutating func batch(p: UInt64, ticks: UInt64) { event(GoEventType.batch, [p, ticks]) }
    mutating func frequency(_ ticksPerSecond: UInt64) { event(GoEventType.frequency, [ticksPerSecond]) }

    /// Goroutine 5 is created and started on P0, blocks on a receive; P1 unblocks it with a timestamp *before*
    /// the block (a skewed clock): the sequence numbers still put the unblock after the block.
    static func skewed() -> GoTraceBuilder {
        var trace = GoTraceBuilder()
        trace.string(1, "main.worker")
        trace.string(2, "/src/main.go")
        trace.batch(p: 0, ticks: 1000)
        trace.event(GoEventType.goCreate, [0, 5, 1, 1])  // [delta, g, new stack, stack]
        trace.event(GoEventType.goStart, [10, 5, 1])      // [delta, g, seq]
        trace.event(GoEventType.goBlockRecv, [100, 1])    // at 1110
        trace.batch(p: 1, ticks: 1050)
        trace.event(GoEventType.goUnblock, [0, 5, 2, 1])  // at 1050: [delta, g, seq, stack]
        trace.event(GoEventType.stack, [1, 1, 0x401000, 1, 2, 42])
        trace.frequency(1_000_000_000)
        return trace
    }
}

@Suite struct GoTraceReaderTests {
    func mapped(_ reader: GoTraceReader) -> [GoMappedEvent] {
        var events: [GoMappedEvent] = []
        while let event = reader.nextMapped() { events.append(event) }
        return events
    }

    @Test func sequenceNumbersOrderEventsAndSkewIsReported() {
        let reader = GoTraceReader(bytes: GoTraceBuilder.skewed().bytes, fileName: "skewed.trace")
        #expect(reader.fatalDiagnostic == nil)
        let events = mapped(reader)
        #expect(events.map(\.kind) == [.spawn, .start, .park, .unpark])
        #expect(events.map(\.nanoseconds) == [0, 10, 110, 110], "the unblock is raised to the block's time")
        #expect(events[2].arguments.1 == UInt64(ParkReason.chanReceive.rawValue))
        #expect(reader.outOfOrderTimestamps == 1)
        #expect(reader.diagnostics.map(\.description).contains { $0.hasPrefix("skewed.trace: offset ") && $0.contains("time stamps out of order") })
        #expect(reader.frames.values.first?.function == "main.worker")
        #expect(reader.frames.values.first?.line == 42)
        #expect(reader.isComplete)
    }

    @Test func startLabelNamesTheGoroutine() {
        var trace = GoTraceBuilder()
        trace.string(3, "worker pool")
        trace.batch(p: 0, ticks: 10)
        trace.event(GoEventType.goCreate, [0, 7, 0, 0])
        trace.event(GoEventType.goStartLabel, [5, 7, 1, 3])  // [delta, g, seq, label]
        trace.event(GoEventType.goEnd, [5])
        trace.frequency(1_000_000_000)
        let reader = GoTraceReader(bytes: trace.bytes, fileName: "label.trace")
        let events = mapped(reader)
        #expect(events.map(\.kind) == [.spawn, .goroutineLabel, .start, .end])
        #expect(events[1].arguments.0 == 7 && events[1].arguments.1 == 3)
        #expect(reader.string(3) == "worker pool")
        #expect(reader.diagnostics.isEmpty, "\(reader.diagnostics)")
    }

    @Test func unsupportedVersionIsOneClearLine() {
        var trace = GoTraceBuilder(version: "go 1.24 trace")
        trace.batch(p: 0, ticks: 1)
        let reader = GoTraceReader(bytes: trace.bytes, fileName: "new.trace")
        #expect(reader.fatalDiagnostic?.description == "new.trace: offset 5: unsupported Go trace version 1.24: this build reads Go 1.11–1.21 and 1.22–1.26 traces (written by Go 1.11 through Go 1.27)")
        #expect(mapped(reader).isEmpty)
        let old = GoTraceReader(bytes: GoTraceBuilder(version: "go 1.9 trace").bytes, fileName: "old.trace")
        #expect(old.fatalDiagnostic?.description.contains("unsupported Go trace version 1.9") == true)
    }

    @Test func everyTruncationGivesPartialResultsAndAnOffset() {
        let whole = GoTraceBuilder.skewed().bytes
        for length in GoTraceHeader.size..<whole.count {
            let reader = GoTraceReader(bytes: Array(whole.prefix(length)), fileName: "cut.trace")
            let events = mapped(reader)
            #expect(reader.fatalDiagnostic == nil)
            #expect(!reader.isComplete, "cut at \(length)")
            #expect(reader.diagnostics.map(\.description).allSatisfy { $0.hasPrefix("cut.trace: offset ") })
            #expect(events.count <= 4)
        }
    }

    @Test func mutatedTracesNeverTrap() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("mutatedTracesNeverTrap: seed \(seed) (SeededGenerator(state:) reproduces the run)")
        var generator = SeededGenerator(state: seed)
        let seeds = [GoTraceBuilder.skewed().bytes] + (try GoTraceReaderTests.realTraces())
        for original in seeds {
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let index = Int.random(in: GoTraceHeader.size..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
                let reader = GoTraceReader(bytes: bytes, fileName: "fuzz.trace")
                var count = 0
                while reader.next() != nil { count += 1 }
                // Every event takes at least one byte after the header: more would be events made up.
                #expect(count <= max(0, bytes.count - GoTraceHeader.size), "seed \(seed)")
            }
        }
        // Garbage after a valid header.
        for _ in 0..<200 {
            let bytes = GoTraceBuilder().bytes + (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let reader = GoTraceReader(bytes: bytes, fileName: "garbage.trace")
            while reader.nextMapped() != nil {}
        }
    }

    /// A real Go trace (built once, from the leaks fixture). Without Go it is left out locally; under CI
    /// (`CI` set) a missing Go or a failed build fails the test instead.
    static func realTraces() throws -> [[UInt8]] {
        guard GoPrograms.goPath != nil || GoPrograms.inCI else { return [] }
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("leaks", in: directory)
        return [Array(try #require(FileManager.default.contents(atPath: trace), "no trace at \(trace)"))]
    }
}

/// The CLI on damaged Go traces: one line naming the file and offset, partial results, no crash.
@Suite(.enabled(if: GoPrograms.enabled, "go is not installed (scripts/setup.sh installs golang-go)"))
struct GoTraceCommandLineTests {
    @Test func truncatedTraceReportsAndStillAnalyses() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("leaks", in: directory)
        let bytes = try #require(FileManager.default.contents(atPath: trace))
        let cut = directory.appendingPathComponent("cut.trace").path
        // Two thirds: in this small trace, inside the footer's stack table (Go writes the frequency, then the
        // stacks, last) — the cut is seen as a truncated event or as stacks missing from the table.
        try #require(FileManager.default.createFile(atPath: cut, contents: bytes.prefix(bytes.count * 2 / 3)))
        let report = try GoPrograms.run(GoPrograms.gotrace, ["report", cut, "--analyzer", "leak", "--no-progress"])
        #expect(report.status == 0, "\(report.error)")
        #expect(report.error.split(separator: "\n").contains { $0.hasPrefix("\(cut): offset ") }, "\(report.error)")
        #expect(report.output.contains("== leak =="))
        for command in [["stat", cut], ["dump", cut]] {
            let result = try GoPrograms.run(GoPrograms.gotrace, command)
            #expect(result.status == 0, "\(command): \(result.error)")
            #expect(result.error.contains("\(cut): offset "), "\(command)")
        }
    }

    @Test func statDumpAndExportTakeGoTraces() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("totals", in: directory)
        let stat = try GoPrograms.run(GoPrograms.gotrace, ["stat", trace, "--format", "json"])
        #expect(stat.status == 0, "\(stat.error)")
        #expect(stat.output.contains("\"park\""))
        let dump = try GoPrograms.run(GoPrograms.gotrace, ["dump", trace])
        #expect(dump.status == 0, "\(dump.error)")
        #expect(dump.output.contains("main.pingPong"))
        let folded = directory.appendingPathComponent("block.folded").path
        let export = try GoPrograms.run(GoPrograms.gotrace, ["export", trace, "--format", "folded", "--profile", "block", "-o", folded])
        #expect(export.status == 0, "\(export.error)")
        let text = try String(contentsOfFile: folded, encoding: .utf8)
        #expect(text.contains("[chan-send];main.main;main.pingPong;runtime.chansend1 "), "\(text.prefix(500))")
    }

    @Test func unsupportedVersionFailsWithOneLine() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("go124.trace").path
        try #require(FileManager.default.createFile(atPath: path, contents: Data(GoTraceBuilder(version: "go 1.24 trace").bytes)))
        let result = try GoPrograms.run(GoPrograms.gotrace, ["report", path, "--no-progress"])
        #expect(result.status == 1)
        #expect(result.error.contains("\(path): offset 5: unsupported Go trace version 1.24"), "\(result.error)")
    }
}
