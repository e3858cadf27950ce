import Testing
@testable import GoTrace

/// Format version 2's one rule (docs/trace-format.md §5.1, GoroutineDelta.swift): goroutine arguments are
/// zigzagged deltas from the chunk's previous one. Every byte below is worked out by hand from the rule:
///   unpark goroutine=300 waker=299 stack=0 at tick 5   13 05 | D8 04 | 01 | 00
///       300 - 0 = 300, zigzag 600 = 0x258: varint 0xD8 0x04; 299 - 300 = -1, zigzag 1
///   park goroutine=299 reason=chan-receive stack=0 at 7  12 02 | 00 | 00 | 00      (299 - 299 = 0)
///   start goroutine=301 at 9                            11 02 | 04                 (301 - 299 = 2, zigzag 4)
/// In version 1 the same events are the plain varints: 300 = AC 02, 299 = AB 02, 301 = AD 02.
@Suite struct GoroutineDeltaTests {
    static let versionTwoPayload: [UInt8] = [
        0x13, 0x05, 0xD8, 0x04, 0x01, 0x00,
        0x12, 0x02, 0x00, 0x00, 0x00,
        0x11, 0x02, 0x04,
    ]
    static let versionOnePayload: [UInt8] = [
        0x13, 0x05, 0xAC, 0x02, 0xAB, 0x02, 0x00,
        0x12, 0x02, 0xAB, 0x02, 0x00, 0x00,
        0x11, 0x02, 0xAD, 0x02,
    ]
    /// What both payloads hold: (kind, ticks, arguments, the goroutine the event concerns).
    static let expected: [(EventKind, UInt64, [UInt64], UInt64)] = [
        (.unpark, 5, [300, 299, 0], 300), (.park, 7, [299, 0, 0], 299), (.start, 9, [301], 301),
    ]

    /// The events `TraceReader` reads from a file of `version` with `payload` as M 1's only chunk.
    static func readerEvents(_ payload: [UInt8], version: UInt16) -> [TraceEvent] {
        var trace = TraceBuilder(version: version)
        trace.append(payload: payload, eventCount: 3, machine: 1, sequence: 0)
        trace.finish()
        let (events, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty, "\(reader.diagnostics)")
        #expect(reader.header?.version == version)
        return events
    }

    static func batchEvents(_ payload: [UInt8], version: UInt16) -> [DecodedEvent] {
        let (events, ends, _) = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload[...]), size: payload.count, baseTicks: 0, capacity: 2,
            formatVersion: version)
        #expect(ends.last == .endOfPayload)
        return events
    }

    @Test func zigzagMapsSmallDifferencesEitherWayToSmallValues() {
        let pairs: [(Int64, UInt64)] = [
            (0, 0), (-1, 1), (1, 2), (-2, 3), (2, 4), (300, 600), (Int64.max, UInt64.max - 1), (Int64.min, UInt64.max),
        ]
        for (difference, encoded) in pairs {
            #expect(zigzagEncode(UInt64(bitPattern: difference)) == encoded, "\(difference)")
            #expect(zigzagDecode(encoded) == UInt64(bitPattern: difference), "\(encoded)")
        }
    }

    /// One event as "kind@ticks arguments gGOROUTINE", so that both readers compare against `expected` alike.
    static func line(_ kind: UInt8, _ ticks: UInt64, _ arguments: [UInt64], _ goroutine: UInt64?) -> String {
        "\(kind)@\(ticks) \(arguments) g\(goroutine.map(String.init) ?? "-")"
    }
    static let expectedLines = expected.map { line($0.0.rawValue, $0.1, $0.2, $0.3) }

    @Test(arguments: [UInt16(1), 2])
    func theReaderDecodesHandWrittenPayloads(version: UInt16) {
        let payload = version == 1 ? Self.versionOnePayload : Self.versionTwoPayload
        let events = Self.readerEvents(payload, version: version)
        #expect(events.map { Self.line($0.kind.rawValue, $0.ticks, $0.arguments.compactMap(\.number), $0.goroutine) }
                == Self.expectedLines)
    }

    @Test(arguments: [UInt16(1), 2])
    func theBatchDecoderDecodesHandWrittenPayloads(version: UInt16) {
        let payload = version == 1 ? Self.versionOnePayload : Self.versionTwoPayload
        let events = Self.batchEvents(payload, version: version)
        #expect(events.map { event in
            Self.line(event.kind, event.ticks, (0..<Int(event.argumentCount)).map(event.argument), event.goroutine)
        } == Self.expectedLines)
    }

    @Test func theWriterProducesTheHandWrittenBytes() {
        let fast = TraceBuffer(baseTicks: 0)
        #expect(fast.emit(.unpark, at: 5, 300, 299, 0))
        #expect(fast.emit(.park, at: 7, 299, UInt64(ParkReason.chanReceive.rawValue), 0))
        #expect(fast.emit(.start, at: 9, 301))
        #expect(Array(fast.sealChunk(machine: 1, sequence: 0).dropFirst(ChunkHeader.encodedSize))
                == Self.versionTwoPayload)
        // The generic path (kinds given as values) writes the same bytes.
        let generic = TraceBuffer(baseTicks: 0)
        for (kind, ticks, arguments, _) in Self.expected {
            #expect(generic.emit(kind, at: ticks, arguments: arguments.map { .number($0) }))
        }
        #expect(Array(generic.sealChunk(machine: 1, sequence: 0).dropFirst(ChunkHeader.encodedSize))
                == Self.versionTwoPayload)
    }

    /// `start` of g300 at tick 5 in each of two chunks: both times 11 05 D8 04 (zigzag(300 - 0)), not 11 05 00
    /// the second time, so each chunk decodes without the one before it.
    @Test func theBaseResetsWithEveryChunk() {
        let buffer = TraceBuffer(baseTicks: 0)
        buffer.emit(.start, at: 5, 300)
        let first = buffer.sealChunk(machine: 1, sequence: 0)
        buffer.emit(.start, at: 10, 300)
        let second = buffer.sealChunk(machine: 1, sequence: 1)
        #expect(Array(first.dropFirst(ChunkHeader.encodedSize)) == [0x11, 0x05, 0xD8, 0x04])
        #expect(Array(second.dropFirst(ChunkHeader.encodedSize)) == [0x11, 0x05, 0xD8, 0x04])

        // The second chunk alone, its first lost: the reader still finds g300.
        var alone = TraceBuilder()
        alone.bytes += second
        let (events, _) = readAll(alone.bytes)
        #expect(events.map(\.goroutine) == [300])
        // Both chunks through one batch-decoder state: beginChunk starts the second from 0 again.
        var state = StreamDecodeState(startTicks: 0)
        var goroutines: [UInt64] = []
        for chunk in [first, second] {
            let payload = chunk[ChunkHeader.encodedSize...]
            goroutines += EventBatchDecoderTests.decodeAll(
                EventBatchDecoderTests.padded(payload), size: payload.count, baseTicks: 0, capacity: 4, state: &state
            ).events.map(\.goroutine)
        }
        #expect(goroutines == [300, 300])
    }

    /// A kind this build does not know, with a goroutine argument, from a newer writer's kind table: kind 100
    /// `future` (goroutine, count) after the payload above, g300 (300 - 301 = -1, zigzag 1) with count 7.
    @Test func anUnknownKindsGoroutineArgumentIsADeltaToo() {
        let future = EventKindSpec(EventKind(rawValue: 100), "future", [.init("goroutine", .goroutine),
                                                                       .init("count", .number)])
        let payload = Self.versionTwoPayload + [100, 0x01, 0x01, 0x07, 0x11, 0x01, 0x06]  // then start g303
        var trace = TraceBuilder(kinds: EventKindSpec.builtIn + [future])
        trace.append(payload: payload, eventCount: 5, machine: 1, sequence: 0)
        let (events, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(events.map(\.goroutine) == [300, 299, 301, 300, 303])
        #expect(events[3].arguments == [.number(300), .number(7)])

        var catalogue = KindCatalogue()
        catalogue.adopt([future])
        let decoded = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload[...]), size: payload.count, baseTicks: 0, capacity: 8,
            formatVersion: 2, specs: catalogue.specs
        ).events
        #expect(decoded.map(\.goroutine) == [300, 299, 301, 300, 303])
        #expect(decoded[3].argument(1) == 7)
    }

    @Test func versionThreeIsUnsupportedAndVersionZeroCorrupt() {
        for (version, problem) in [(UInt16(3), TraceDiagnostic.Problem.unsupportedVersion(3)),
                                   (0, .corruptFileHeader("format version 0"))] {
            let (events, reader) = readAll(TraceBuilder(version: version).bytes)
            #expect(events.isEmpty)
            #expect(reader.fatalDiagnostic?.problem == problem)
        }
        let (_, newer) = readAll(TraceBuilder(version: 3).bytes)
        #expect(newer.fatalDiagnostic?.description
                == "test.gtrace: offset 8: unsupported format version 3 (this build reads up to 2)")
    }
}
