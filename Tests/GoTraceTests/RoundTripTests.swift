import Testing
@testable import GoTrace

#if canImport(Glibc)
import Glibc
#endif

@Suite struct RoundTripTests {
    /// Distinctive argument values for `spec`, by wire type; `seed` varies them per kind.
    static func sampleArguments(for spec: EventKindSpec, seed: UInt64) -> [TraceValue] {
        spec.arguments.enumerated().map { index, argument in
            switch argument.wireType {
            case .uvarint:
                // Mix one-byte, multi-byte and maximal values.
                let values: [UInt64] = [seed, 300 + seed, UInt64.max - seed, 1 << 35]
                return .number(values[index % values.count])
            case .uvarintList: return .numbers([0x5555_5555_1000 + seed, 0, UInt64.max])
            case .bytes: return .bytes(Array("héllo \(seed)\n".utf8))
            }
        }
    }

    @Test(arguments: EventKindSpec.builtIn.map(\.name))
    func everyKindRoundTrips(name: String) throws {
        let spec = try #require(EventKindSpec.named(name))
        let arguments = RoundTripTests.sampleArguments(for: spec, seed: UInt64(spec.kind.rawValue))
        let buffer = TraceBuffer(baseTicks: 1_000)
        #expect(buffer.emit(spec.kind, at: 1_500, arguments: arguments))
        // The same event through the fixed-arity fast path, where the kind allows it.
        if spec.isFixedArity {
            let numbers = arguments.compactMap(\.number)
            let written: Bool
            switch numbers.count {
            case 0: written = buffer.emit(spec.kind, at: 2_000)
            case 1: written = buffer.emit(spec.kind, at: 2_000, numbers[0])
            case 2: written = buffer.emit(spec.kind, at: 2_000, numbers[0], numbers[1])
            case 3: written = buffer.emit(spec.kind, at: 2_000, numbers[0], numbers[1], numbers[2])
            case 4: written = buffer.emit(spec.kind, at: 2_000, numbers[0], numbers[1], numbers[2], numbers[3])
            default: written = buffer.emit(spec.kind, at: 2_000, numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
            }
            #expect(written)
        }
        var trace = TraceBuilder(startTicks: 1_000)
        trace.seal(buffer, machine: 7, sequence: 0)
        trace.finish()

        let (events, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(reader.isComplete)
        #expect(events.count == (spec.isFixedArity ? 2 : 1))
        for (event, ticks) in zip(events, [UInt64(1_500), 2_000]) {
            #expect(event.spec.name == name)
            #expect(event.ticks == ticks)
            #expect(event.nanoseconds == ticks - 1_000)
            #expect(event.machine == 7)
            #expect(event.arguments == arguments)
        }
    }

    @Test func fileWriterProducesWhatTheReaderReads() throws {
        var descriptors: [Int32] = [0, 0]
        let path = "/tmp/gotrace-roundtrip-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).gtrace"
        defer { unlink(path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(descriptor >= 0)
        descriptors[0] = descriptor
        let writer = try TraceFileWriter(fileDescriptor: descriptor, ticksPerSecond: 2_000_000_000, startTicks: 0,
                                         startWallTimeNanoseconds: 42, compressing: true)
        let buffer = TraceBuffer(capacity: TraceBuffer.minimumCapacity)
        var sequence: UInt64 = 0
        var written = 0
        for index in 0..<5_000 {
            let ticks = UInt64(index) * 10
            if !buffer.emit(.start, at: ticks, UInt64(index % 7)) {
                try writer.write(rawChunk: buffer.sealChunk(machine: 1, sequence: sequence))
                sequence += 1
                #expect(buffer.emit(.start, at: ticks, UInt64(index % 7)))
            }
            written += 1
        }
        try writer.write(rawChunk: buffer.sealChunk(machine: 1, sequence: sequence))
        try writer.finish(endWallTimeNanoseconds: 99)
        #expect(throws: TraceFileWriter.WriteError.alreadyFinished) { try writer.finish(endWallTimeNanoseconds: 1) }
        close(descriptor)

        let reader = TraceReader(path: path)
        let summary = TraceSummary(reading: reader)
        #expect(reader.diagnostics.isEmpty)
        #expect(summary.events == UInt64(written))
        #expect(summary.complete)
        #expect(summary.eventChunks == Int(sequence) + 1)
        #expect(reader.header?.startWallTimeNanoseconds == 42)
        #expect(reader.header?.version == 2)  // goroutine arguments as deltas (docs/trace-format.md §5.1)
        #expect(reader.endChunk?.events == UInt64(written))
        // Ticks are half-nanoseconds here: 49_990 ticks = 24_995 ns.
        #expect(summary.durationNanoseconds == 24_995)
    }

    @Test func stringsAndStacksResolveAcrossChunksAndMachines() {
        let definer = TraceBuffer()
        definer.emitString(id: 1, "region one", at: 10)
        definer.emitStack(id: 9, [0x1000, 0x2000], at: 11)
        let user = TraceBuffer()
        user.emit(.regionBegin, at: 20, 5, 1)
        user.emit(.park, at: 21, 5, UInt64(ParkReason.mutex.rawValue), 9)
        var trace = TraceBuilder()
        // The user's chunk comes first in the file; the merge still puts the definitions first.
        trace.seal(user, machine: 2, sequence: 0)
        trace.seal(definer, machine: 1, sequence: 0)
        trace.finish()
        let (events, reader) = readAll(trace.bytes)
        #expect(events.map(\.spec.name) == ["string", "stack", "region-begin", "park"])
        #expect(reader.string(1) == "region one")
        #expect(reader.stacks[9] == [0x1000, 0x2000])
        #expect(events[3].stackID == 9)
        let line = TraceTextFormatter.line(for: events[2], strings: reader.string)
        #expect(line == "0.000000020 M2 P- G5 region-begin goroutine=g5 name=\"region one\"")
    }

    @Test func oversizedDefinitionsAreTruncatedToTheLimits() {
        let buffer = TraceBuffer(capacity: TraceBuffer.minimumCapacity)
        #expect(buffer.emitString(id: 1, String(repeating: "x", count: 10_000), at: 1))
        // Fill the buffer until a maximal stack no longer fits.
        var filler: UInt64 = 100
        while buffer.emitString(id: filler, String(repeating: "y", count: 1_000), at: 1) { filler += 1 }
        #expect(buffer.emitStack(id: 2, [UInt64](repeating: UInt64.max, count: 1_000), at: 2) == false)
        var trace = TraceBuilder()
        trace.seal(buffer, machine: 1, sequence: 0)
        // After sealing, even a maximal stack fits an empty buffer.
        #expect(buffer.emitStack(id: 2, [UInt64](repeating: UInt64.max, count: 1_000), at: 2))
        trace.seal(buffer, machine: 1, sequence: 1)
        let (_, reader) = readAll(trace.bytes)
        #expect(reader.strings[1]?.utf8.count == TraceLimits.maxByteStringLength)
        #expect(reader.stacks[2]?.count == TraceLimits.maxListCount)
    }

    @Test func emitRefusesInsteadOfOverflowing() {
        let buffer = TraceBuffer(capacity: TraceBuffer.minimumCapacity)
        var accepted = 0
        while buffer.emit(.snapshot, at: UInt64.max, UInt64.max, UInt64.max, UInt64.max, UInt64.max, UInt64.max) {
            accepted += 1
        }
        #expect(buffer.byteCount <= buffer.capacity)
        #expect(accepted == buffer.eventCount)
        #expect(accepted > 0)
        let payloadBytes = buffer.byteCount
        let chunk = buffer.sealChunk(machine: 1, sequence: 0)
        // The sealed chunk holds exactly the accepted events: its header says so, and its payload is all there.
        guard case .success(let (header, headerSize)) = ChunkHeader.decode(chunk[...]) else {
            Issue.record("the sealed chunk's header does not decode")
            return
        }
        #expect(header.eventCount == UInt32(accepted))
        #expect(Int(header.rawPayloadSize) == payloadBytes)
        #expect(chunk.count == headerSize + Int(header.storedPayloadSize))
        #expect(buffer.isEmpty)
    }

    @Test func droppedCountTravelsInTheNextChunkHeader() {
        let buffer = TraceBuffer()
        buffer.noteDropped(3)
        buffer.emit(.start, at: 5, 1)
        var trace = TraceBuilder()
        trace.seal(buffer, machine: 1, sequence: 0)
        let (_, reader) = readAll(trace.bytes)
        #expect(reader.droppedEvents == 3)
    }

    @Test func pingPongCostsAboutFourRawBytesPerEvent() {
        // The workload the format's byte budget is stated for: unpark, park, start, repeated.
        let buffer = TraceBuffer(baseTicks: 0)
        var ticks: UInt64 = 0
        for round in 0..<3_000 {
            let (a, b): (UInt64, UInt64) = round % 2 == 0 ? (10, 11) : (11, 10)
            ticks += 45
            buffer.emit(.unpark, at: ticks, b, a, 2)
            ticks += 30
            buffer.emit(.park, at: ticks, a, UInt64(ParkReason.chanReceive.rawValue), 2)
            ticks += 25
            buffer.emit(.start, at: ticks, b)
        }
        let raw = buffer.sealChunk(machine: 1, sequence: 0)
        let rawPerEvent = Double(raw.count - ChunkHeader.encodedSize) / 9_000
        let compressedPerEvent = Double(ChunkCodec.compress(raw).count) / 9_000
        // 13 bytes per unpark+park+start: a kind byte, a one-byte delta and one byte per argument (unpark 3,
        // park 3, start 1). Ids 10 and 11 take one byte as plain values (version 1) and as deltas (version 2:
        // at most 11 - 0, zigzagged 22, then steps of ±1) alike. See docs/trace-format.md, "Size".
        #expect(raw.count - ChunkHeader.encodedSize == 13 * 3_000)
        #expect(rawPerEvent <= 4.34)
        #expect(compressedPerEvent < 1.0)
    }

    @Test func ringHopsCostThirteenRawBytesWhateverTheGoroutineIds() {
        // A ring of goroutines 1,000 to 4,000 on one M, each waking the next: in version 1 every id took two
        // varint bytes (17 bytes a hop); as deltas each is one byte (+1, -1, 0, +1: zigzag 2, 1, 0, 2), 13 bytes a
        // hop, but for the chunk's first argument, 1,001 - 0 (zigzag 2,002: two bytes).
        let buffer = TraceBuffer(baseTicks: 0)
        var ticks: UInt64 = 0
        for current in UInt64(1_000)..<4_000 {
            ticks += 45
            #expect(buffer.emit(.unpark, at: ticks, current + 1, current, 0))
            ticks += 30
            #expect(buffer.emit(.park, at: ticks, current, UInt64(ParkReason.chanReceive.rawValue), 0))
            ticks += 25
            #expect(buffer.emit(.start, at: ticks, current + 1))
        }
        let raw = buffer.sealChunk(machine: 1, sequence: 0)
        #expect(raw.count - ChunkHeader.encodedSize == 13 * 3_000 + 1)
    }
}
