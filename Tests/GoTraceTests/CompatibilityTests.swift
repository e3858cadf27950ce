import Testing
@testable import GoTrace

/// A newer writer's additions must not break this reader: new kinds, new trailing arguments, new chunk
/// types. The newer writer is simulated by writing a kind table that describes more than this build knows.
@Suite struct CompatibilityTests {
    /// A file whose kind table adds kind 100 ("future-kind", a number and a byte string) and a trailing
    /// argument to `start`.
    static func traceFromNewerWriter() -> [UInt8] {
        var specs = EventKindSpec.builtIn
        let future = EventKindSpec(EventKind(rawValue: 100), "future-kind",
                                   [.init("goroutine", .goroutine), .init("note", .text, wire: .bytes)])
        specs.append(future)
        if let index = specs.firstIndex(where: { $0.kind == .start }) {
            specs[index].arguments.append(.init("priority", .number))
        }
        let kindTable = KindTableCodec.encode(specs)
        var bytes = FileHeader(ticksPerSecond: 1_000_000_000, startTicks: 0, startWallTimeNanoseconds: 0).encoded()
        bytes += ChunkHeader(type: .kindTable, rawPayloadSize: UInt32(kindTable.count),
                             storedPayloadSize: UInt32(kindTable.count), payloadCRC: crc32(of: kindTable[...]))
            .encoded() + kindTable
        // A chunk type this build does not know: skipped silently.
        let opaque: [UInt8] = [1, 2, 3]
        bytes += ChunkHeader(type: ChunkType(rawValue: 9), rawPayloadSize: 3, storedPayloadSize: 3,
                             payloadCRC: crc32(of: opaque[...])).encoded() + opaque
        let buffer = TraceBuffer()
        // The newer writer knows kind 100: its goroutine argument is a delta like any other (3 - 0, zigzagged: 6).
        buffer.emit(EventKind(rawValue: 100), at: 5, arguments: [.number(3), .bytes(Array("hi".utf8))], spec: future)
        buffer.emit(EventKind.start, at: 6, arguments: [.number(3)])
        buffer.emit(.end, at: 7, 3)
        var raw = buffer.sealChunk(machine: 1, sequence: 0)
        #expect(raw[ChunkHeader.encodedSize...].prefix(3) == [100, 5, 6])
        // Give `start` its extra argument by hand: a newer writer's start event is one varint longer.
        let startOffset = ChunkHeader.encodedSize + 1 + 1 + 1 + 1 + 2  // kind, delta, g, length, "hi"
        raw.insert(42, at: startOffset + 3)
        guard case .success(var (header, _)) = ChunkHeader.decode(raw[...]) else { return [] }
        header.rawPayloadSize += 1
        header.storedPayloadSize += 1
        header.payloadCRC = crc32(of: raw[ChunkHeader.encodedSize...])
        bytes += header.encoded() + raw[ChunkHeader.encodedSize...]
        return bytes
    }

    @Test func unknownKindsAreDecodedFromTheFilesKindTable() {
        let (events, reader) = readAll(CompatibilityTests.traceFromNewerWriter())
        #expect(reader.diagnostics.isEmpty)
        #expect(events.map(\.spec.name) == ["future-kind", "start", "end"])
        #expect(events[0].goroutine == 3)
        #expect(events[0].argument("note") == .bytes(Array("hi".utf8)))
        let line = TraceTextFormatter.line(for: events[0], strings: reader.string)
        #expect(line == "0.000000005 M1 P- G3 future-kind goroutine=g3 note=\"hi\"")
    }

    @Test func appendedArgumentsOfKnownKindsAreKeptNotMisparsed() {
        let (events, _) = readAll(CompatibilityTests.traceFromNewerWriter())
        #expect(events[1].arguments == [.number(3), .number(42)])
        #expect(events[1].argument("priority") == .number(42))
        #expect(events[2].arguments == [.number(3)])
    }

    @Test func headersMayGrowInLaterVersions() {
        // A chunk header 8 bytes longer than this build writes: the size field says where the payload is.
        let buffer = TraceBuffer()
        buffer.emit(.start, at: 1, 1)
        let raw = buffer.sealChunk(machine: 1, sequence: 0)
        var longer = Array(raw.prefix(ChunkHeader.encodedSize - 4)) + [UInt8](repeating: 0, count: 8)
        longer[6] = UInt8(ChunkHeader.encodedSize + 8)
        longer += withUnsafeBytes(of: crc32(of: longer[...]).littleEndian, Array.init)
        var trace = TraceBuilder()
        trace.bytes += longer + raw[ChunkHeader.encodedSize...]
        let (events, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(events.count == 1)
    }
}

@Suite struct StreamFramerTests {
    @Test func byteByByteDeliveryYieldsTheSameUnits() {
        let trace = DamagedTraceTests.threeMachineTrace()
        var framer = TraceStreamFramer()
        var units: [String] = []
        for byte in trace.bytes {
            [byte].withUnsafeBytes { framer.append($0) }
            while let unit = framer.nextUnit() {
                switch unit {
                case .success(.fileHeader): units.append("header")
                case .success(.chunk(_, let header)): units.append("chunk-\(header.type.rawValue)")
                case .failure(let failure):
                    Issue.record("framer failed: \(failure)")
                    return
                }
            }
        }
        #expect(units == ["header", "chunk-1"] + [String](repeating: "chunk-0", count: 6) + ["chunk-2"])
        #expect(framer.bufferedByteCount == 0)
        #expect(framer.consumedOffset == UInt64(trace.bytes.count))
    }

    @Test func garbageStopsTheFramerWithAnOffset() {
        var framer = TraceStreamFramer()
        var bytes = TraceBuilder().bytes
        let garbageOffset = bytes.count
        bytes += [UInt8](repeating: 0x41, count: 100)
        bytes.withUnsafeBytes { framer.append($0) }
        var failure: TraceStreamFramer.Failure?
        while let unit = framer.nextUnit() {
            if case .failure(let found) = unit {
                failure = found
                break
            }
        }
        #expect(failure?.offset == UInt64(garbageOffset))
        #expect(failure?.reason == "corrupt chunk header: bad chunk magic")
    }
}

@Suite struct ChunkCodecTests {
    @Test func compressionRoundTripsAndKeepsTheHeaderTruthful() throws {
        let buffer = TraceBuffer()
        for index in 0..<1_000 { buffer.emit(.start, at: UInt64(index * 3), UInt64(index % 4)) }
        let raw = buffer.sealChunk(machine: 4, sequence: 2)
        let compressed = ChunkCodec.compress(raw)
        #expect(compressed.count < raw.count)
        guard case .success(let (header, size)) = ChunkHeader.decode(compressed[...]) else {
            Issue.record("compressed header does not decode")
            return
        }
        #expect(header.isCompressed && header.machine == 4 && header.sequence == 2 && header.eventCount == 1_000)
        let payload = try ChunkCodec.payload(of: header, stored: compressed[size...]).get()
        #expect(payload == Array(raw[ChunkHeader.encodedSize...]))
        // Compressing twice changes nothing.
        #expect(ChunkCodec.compress(compressed) == compressed)
    }

    @Test func inflateRefusesWrongSizesAndGarbage() {
        let stream = ChunkCodec.deflate(Array(repeating: 7, count: 1_000)[...]) ?? []
        #expect(ChunkCodec.inflate(stream[...], expectedSize: 1_000) == Array(repeating: 7, count: 1_000))
        #expect(ChunkCodec.inflate(stream[...], expectedSize: 999) == nil)
        #expect(ChunkCodec.inflate(stream[...], expectedSize: 1_001) == nil)
        #expect(ChunkCodec.inflate([1, 2, 3, 4][...], expectedSize: 10) == nil)
        #expect(ChunkCodec.inflate([][...], expectedSize: 0) == nil)
        #expect(ChunkCodec.inflate(stream[...], expectedSize: TraceLimits.maxRawPayload + 1) == nil)
    }

    @Test func chunkHeaderLayoutIsAsDocumented() {
        let header = ChunkHeader(type: .events, flags: 1, machine: 0x0102, sequence: 3, baseTicks: 4, startTicks: 5,
                                 endTicks: 6, eventCount: 7, rawPayloadSize: 8, storedPayloadSize: 9,
                                 droppedEvents: 10, payloadCRC: 11)
        let bytes = header.encoded()
        #expect(bytes.count == 72)
        #expect(Array(bytes[0..<4]) == Array("GTCK".utf8))
        #expect(bytes[4] == 0 && bytes[5] == 1 && bytes[6] == 72 && bytes[8] == 2 && bytes[9] == 1)
        #expect(bytes[16] == 3 && bytes[24] == 4 && bytes[32] == 5 && bytes[40] == 6 && bytes[48] == 7)
        #expect(bytes[52] == 8 && bytes[56] == 9 && bytes[60] == 10 && bytes[64] == 11)
        #expect(FileHeader(ticksPerSecond: 1, startTicks: 2, startWallTimeNanoseconds: 3).encoded().count == 48)
    }
}
