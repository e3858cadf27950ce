import GotraceTestSupport
import Testing
@testable import GoTrace

/// Truncated, corrupted and foreign input: the reader reports, skips and goes on, and never traps.
@Suite struct DamagedTraceTests {
    /// Three Ms, two chunks each, 20 events per chunk, interleaved in time.
    static func threeMachineTrace() -> TraceBuilder {
        var trace = TraceBuilder()
        for sequence in 0..<2 {
            for machine in 1...3 {
                let buffer = TraceBuffer(baseTicks: 0)
                for index in 0..<20 {
                    let ticks = UInt64(sequence * 1_000 + index * 10 + machine)
                    buffer.emit(.start, at: ticks, UInt64(machine * 100 + index))
                }
                trace.seal(buffer, machine: UInt64(machine), sequence: UInt64(sequence))
            }
        }
        trace.finish()
        return trace
    }

    @Test func truncatedFileReadsUpToItsLastWholeChunk() {
        let bytes = DamagedTraceTests.threeMachineTrace().bytes
        let layout = chunkLayout(bytes)
        let fifthEventChunk = layout.filter { $0.header.type == .events }[4]
        let cut = Array(bytes.prefix(fifthEventChunk.offset + fifthEventChunk.headerSize + 3))
        let (events, reader) = readAll(cut)
        #expect(events.count == 80)
        #expect(!reader.isComplete)
        #expect(reader.diagnostics == [
            TraceDiagnostic(fileName: "test.gtrace", offset: UInt64(fifthEventChunk.offset), problem: .truncated),
        ])
        #expect(reader.diagnostics[0].description.hasPrefix("test.gtrace: offset \(fifthEventChunk.offset): truncated"))
    }

    @Test func truncatedInsideAChunkHeader() {
        let bytes = DamagedTraceTests.threeMachineTrace().bytes
        let last = chunkLayout(bytes).last!
        let (events, reader) = readAll(Array(bytes.prefix(last.offset + 10)))
        #expect(events.count == 120)
        #expect(!reader.isComplete)
        #expect(reader.diagnostics.map(\.problem) == [.truncated])
    }

    @Test func corruptPayloadSkipsOnlyThatChunk() {
        var bytes = DamagedTraceTests.threeMachineTrace().bytes
        let second = chunkLayout(bytes).filter { $0.header.type == .events }[1]
        bytes[second.offset + second.headerSize + 2] ^= 0x55
        let (events, reader) = readAll(bytes)
        #expect(events.count == 100)
        #expect(reader.isComplete)
        #expect(reader.corruptChunkCount == 1)
        #expect(reader.diagnostics == [
            TraceDiagnostic(fileName: "test.gtrace", offset: UInt64(second.offset),
                            problem: .corruptChunk(reason: "payload checksum mismatch")),
        ])
        #expect(!events.contains { $0.machine == 2 && $0.ticks < 1_000 })
    }

    @Test func corruptChunkHeaderResynchronisesOnTheNextChunk() {
        var bytes = DamagedTraceTests.threeMachineTrace().bytes
        let events = chunkLayout(bytes).filter { $0.header.type == .events }
        let damaged = events[2]
        bytes[damaged.offset + 20] ^= 0x01  // inside the sequence number: header CRC no longer matches
        let (read, reader) = readAll(bytes)
        #expect(read.count == 100)
        #expect(reader.isComplete)
        let skipped = UInt64(events[3].offset - damaged.offset)
        #expect(reader.diagnostics.map(\.problem) == [
            .corruptChunkHeader(reason: "chunk header checksum mismatch", skippedBytes: skipped),
        ])
        #expect(reader.diagnostics[0].offset == UInt64(damaged.offset))
    }

    @Test func malformedEventKeepsTheEventsBeforeIt() {
        let buffer = TraceBuffer()
        buffer.emit(.start, at: 1, 1)
        buffer.emit(.start, at: 2, 2)
        var raw = buffer.sealChunk(machine: 1, sequence: 0)
        // Replace the second event's kind with a code no kind table defines, and fix the CRCs up.
        raw[ChunkHeader.encodedSize + 3] = 0x7e
        guard case .success(let (header, _)) = ChunkHeader.decode(raw[...]) else {
            Issue.record("sealed chunk does not decode")
            return
        }
        var patched = header
        patched.payloadCRC = crc32(of: raw[ChunkHeader.encodedSize...])
        var trace = TraceBuilder()
        trace.bytes += patched.encoded() + raw[ChunkHeader.encodedSize...]
        let (events, reader) = readAll(trace.bytes)
        #expect(events.count == 1)
        #expect(reader.diagnostics.count == 1)
        #expect(reader.diagnostics[0].description.contains("event kind 126 not in any kind table"))
    }

    @Test func notATraceUnsupportedVersionAndEmptyInput() {
        let garbage = readAll(Array("hello, world, this is not a trace at all".utf8))
        #expect(garbage.reader.fatalDiagnostic?.problem == .notATrace)
        #expect(garbage.events.isEmpty)

        var newer = TraceBuilder().bytes
        newer[8] = 9
        let future = readAll(newer)
        #expect(future.reader.fatalDiagnostic?.problem == .unsupportedVersion(9))
        #expect(future.reader.fatalDiagnostic?.description == "test.gtrace: offset 8: unsupported format version 9 (this build reads up to 2)")

        #expect(readAll([]).reader.fatalDiagnostic?.problem == .notATrace)
        #expect(readAll(Array(FileHeader.magic.prefix(5))).reader.fatalDiagnostic != nil)

        var badHeader = TraceBuilder().bytes
        badHeader[20] ^= 1
        #expect(readAll(badHeader).reader.fatalDiagnostic?.problem == .corruptFileHeader("file header checksum mismatch"))

        let missing = TraceReader(path: "/nonexistent/trace.gtrace")
        #expect(missing.next() == nil)
        #expect(missing.fatalDiagnostic?.description.hasPrefix("/nonexistent/trace.gtrace: offset 0: cannot open") == true)
    }

    @Test func headerOnlyTraceIsReadableAndIncomplete() {
        let (events, reader) = readAll(TraceBuilder().bytes)
        #expect(events.isEmpty)
        #expect(reader.diagnostics.isEmpty)
        #expect(!reader.isComplete)
    }

    /// Random damage of every kind — flipped bytes, cuts, inserted and deleted stretches — must only ever
    /// produce diagnostics. Deterministic seeds, so a failure reproduces.
    @Test(arguments: 0..<8)
    func randomDamageNeverTraps(seed: Int) {
        var generator = SeededGenerator(state: UInt64(seed) &* 7919)
        let pristine = DamagedTraceTests.threeMachineTrace().bytes
        for _ in 0..<60 {
            var bytes = pristine
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes = Array(bytes.prefix(position))
                case 2: bytes.insert(contentsOf: [0xff, 0x80, 0x47, 0x54, 0x43, 0x4b], at: position)
                default: bytes.removeSubrange(position..<min(bytes.count, position + 9))
                }
                if bytes.isEmpty { break }
            }
            let (events, reader) = readAll(bytes)
            var previous: UInt64 = 0
            for event in events {
                #expect(event.ticks >= previous)
                previous = event.ticks
            }
            #expect(events.count <= 120)
            _ = reader.diagnostics.map(\.description)
        }
    }
}
