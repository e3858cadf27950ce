import GotraceTestSupport
import Testing
@testable import GoTrace

/// The batch API (`EventBatchDecoder`, `ChunkInflater`) agrees with `TraceReader` and never reads past its
/// padding, whatever the payload says.
@Suite struct EventBatchDecoderTests {
    /// One M's chunk with every shape of event: definitions, events with and without goroutine or P
    /// arguments, context changes, multi-byte varints.
    static func sampleChunk() -> [UInt8] {
        let buffer = TraceBuffer(baseTicks: 1_000)
        var ticks: UInt64 = 1_000
        func next(_ step: UInt64 = 37) -> UInt64 {
            ticks += step
            return ticks
        }
        _ = buffer.emitString(id: 1, "main", at: next())
        _ = buffer.emitStack(id: 2, [0x1000, 0x2_0000_0000, 0x3], at: next())
        _ = buffer.emit(.procStart, at: next(), 4)
        for round in 0..<40 {
            let child = UInt64(100 + round * 1_000)
            _ = buffer.emit(.spawn, at: next(), 1, child, 2)
            _ = buffer.emit(.start, at: next(300), child)
            _ = buffer.emit(.regionBegin, at: next(), child, 1)
            _ = buffer.emit(.syscallEnter, at: next(), child, 2)
            _ = buffer.emit(.syscallExit, at: next(70_000), child)
            _ = buffer.emit(.park, at: next(), child, 3, 2)
            _ = buffer.emit(.unpark, at: next(), child, 1, 2)
            _ = buffer.emit(.end, at: next(), child)
        }
        _ = buffer.emit(.procStop, at: next(), 4)
        return buffer.sealChunk(machine: 7, sequence: 0)
    }

    /// The payload of an uncompressed sealed chunk, zero-padded for the decoder.
    static func padded(_ payload: ArraySlice<UInt8>) -> [UInt8] {
        Array(payload) + Array(repeating: 0, count: EventBatchDecoder.paddingBytes)
    }

    /// Decodes `payload` (unpadded length `size` inside `bytes`) in runs of `capacity`, as a chunk of a file of
    /// `formatVersion` whose kinds are `specs`; `state` carries over from a previous chunk if given.
    static func decodeAll(
        _ bytes: [UInt8], size: Int, baseTicks: UInt64, capacity: Int, formatVersion: UInt16 = traceFormatVersion,
        specs: [EventKindSpec?] = EventKindSpec.builtInByCode, state: inout StreamDecodeState
    ) -> (events: [DecodedEvent], ends: [DecodeRunEnd], position: Int) {
        let decoder = EventBatchDecoder(specs: specs, formatVersion: formatVersion)
        state.beginChunk(baseTicks: baseTicks)
        var position = 0
        var events: [DecodedEvent] = []
        var ends: [DecodeRunEnd] = []
        let output = UnsafeMutablePointer<DecodedEvent>.allocate(capacity: capacity)
        output.initialize(repeating: DecodedEvent(), count: capacity)
        defer { output.deallocate() }
        bytes.withUnsafeBytes { raw in
            let payload = UnsafeRawBufferPointer(rebasing: raw[0..<size])
            while true {
                let (count, end) = decoder.decodeRun(payload, position: &position, state: &state, into: output,
                                                     capacity: capacity)
                events += (0..<count).map { output[$0] }
                ends.append(end)
                if case .malformed = end { return }
                if end == .endOfPayload { return }
            }
        }
        return (events, ends, position)
    }

    static func decodeAll(
        _ bytes: [UInt8], size: Int, baseTicks: UInt64, capacity: Int, formatVersion: UInt16 = traceFormatVersion,
        specs: [EventKindSpec?] = EventKindSpec.builtInByCode
    ) -> (events: [DecodedEvent], ends: [DecodeRunEnd], position: Int) {
        var state = StreamDecodeState(startTicks: 0)
        return decodeAll(bytes, size: size, baseTicks: baseTicks, capacity: capacity, formatVersion: formatVersion,
                         specs: specs, state: &state)
    }

    @Test(arguments: [1, 3, 256])
    func decodesWhatTheReaderReads(capacity: Int) {
        let raw = EventBatchDecoderTests.sampleChunk()
        var trace = TraceBuilder()
        trace.bytes += raw
        trace.finish()
        let (expected, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty)
        guard case .success(let (header, headerSize)) = ChunkHeader.decode(raw[...]) else {
            Issue.record("sealed chunk does not decode")
            return
        }
        let payload = raw[headerSize...]
        let (decoded, ends, position) = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload), size: payload.count, baseTicks: header.baseTicks, capacity: capacity)
        #expect(position == payload.count)
        #expect(decoded.count == expected.count)
        for (event, reference) in zip(decoded, expected) {
            #expect(event.kind == reference.kind.rawValue)
            #expect(event.ticks == reference.ticks)
            #expect(event.goroutine == (reference.goroutine ?? DecodedEvent.none))
            #expect(event.proc == (reference.proc ?? DecodedEvent.none))
            #expect(Int(event.argumentCount) == min(reference.arguments.count, DecodedEvent.maxArguments))
            for (index, value) in reference.arguments.prefix(DecodedEvent.maxArguments).enumerated() {
                #expect(event.argument(index) == (value.number ?? 0))
            }
        }
        // The two definitions end their runs and carry their contents.
        let definitions = ends.compactMap { end -> DecodedDefinition? in
            if case .definition(let definition) = end { return definition }
            return nil
        }
        #expect(definitions == [
            .string(id: 1, bytes: Array("main".utf8)), .stack(id: 2, programCounters: [0x1000, 0x2_0000_0000, 0x3]),
        ])
    }

    @Test func anEventCutShortIsMalformedAndTheEventsBeforeItAreKept() {
        let raw = EventBatchDecoderTests.sampleChunk()
        guard case .success(let (header, headerSize)) = ChunkHeader.decode(raw[...]) else { return }
        let payload = raw[headerSize...]
        let whole = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload), size: payload.count, baseTicks: header.baseTicks, capacity: 64)
        // Cut inside the last event (procStop: kind byte, delta, P) — one byte short.
        let cut = payload.count - 1
        let (decoded, ends, position) = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload.prefix(cut)), size: cut, baseTicks: header.baseTicks, capacity: 64)
        #expect(decoded.count == whole.events.count - 1)
        #expect(ends.last == .malformed(offset: cut - 2, reason: "malformed proc-stop event"))
        #expect(position == cut - 2)
    }

    @Test func unknownKindsAndOverlongVarintsAreMalformed() {
        // kind 0x7e is in no table; 0x90 has the reserved high bit.
        for kind: UInt8 in [0x7e, 0x90] {
            let bytes = EventBatchDecoderTests.padded([kind, 0x01, 0x01][...])
            let (decoded, ends, _) = EventBatchDecoderTests.decodeAll(bytes, size: 3, baseTicks: 0, capacity: 4)
            #expect(decoded.isEmpty)
            #expect(ends == [.malformed(offset: 0, reason: "event kind \(kind) not in any kind table")])
        }
        // start(g) with an 11-byte delta, and with a 10-byte one whose last byte carries more than bit 63.
        let start = EventKind.start.rawValue
        for delta in [Array(repeating: UInt8(0xff), count: 10) + [0x01], Array(repeating: UInt8(0xff), count: 9) + [0x02]] {
            let payload = [start, 0x05, 0x01] + [start] + delta + [0x01]
            let (decoded, ends, _) = EventBatchDecoderTests.decodeAll(
                EventBatchDecoderTests.padded(payload[...]), size: payload.count, baseTicks: 0, capacity: 4)
            #expect(decoded.count == 1)
            #expect(ends == [.malformed(offset: 3, reason: "malformed start event")])
        }
        // The largest valid delta saturates the running ticks instead of wrapping.
        let payload = [start, 0x05, 0x01, start] + Array(repeating: UInt8(0xff), count: 9) + [0x01, 0x01]
        let (decoded, ends, _) = EventBatchDecoderTests.decodeAll(
            EventBatchDecoderTests.padded(payload[...]), size: payload.count, baseTicks: 10, capacity: 4)
        #expect(ends == [.endOfPayload])
        #expect(decoded.map(\.ticks) == [15, UInt64.max])
    }

    /// Random payloads, padded as required: the decoder decodes or reports, never traps, never leaves the
    /// position past the payload, and places any damage inside it.
    @Test(arguments: 0..<4)
    func randomPayloadsNeverTrap(seed: Int) {
        var generator = SeededGenerator(state: UInt64(seed) &* 104_729 &+ 1)
        let valid = EventBatchDecoderTests.sampleChunk()
        for _ in 0..<300 {
            let size = Int.random(in: 0..<200, using: &generator)
            var payload: [UInt8]
            if Bool.random(using: &generator) {
                payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                // A valid prefix with some bytes flipped: deeper into the decoder than pure noise.
                payload = Array(valid[ChunkHeader.encodedSize...].prefix(size))
                for _ in 0..<3 where !payload.isEmpty {
                    payload[Int.random(in: 0..<payload.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let (_, ends, position) = EventBatchDecoderTests.decodeAll(
                EventBatchDecoderTests.padded(payload[...]), size: payload.count, baseTicks: 0, capacity: 8)
            #expect(position <= payload.count)
            if case .malformed(let offset, _) = ends.last {
                #expect(offset < payload.count)
                #expect(offset == position)
            }
        }
    }

    @Test func inflaterMatchesTheCodecAndRejectsDamage() {
        let raw = EventBatchDecoderTests.sampleChunk()
        let payload = raw[ChunkHeader.encodedSize...]
        guard let stored = ChunkCodec.deflate(payload) else {
            Issue.record("deflate failed")
            return
        }
        let inflater = ChunkInflater()
        var output = [UInt8](repeating: 0xaa, count: payload.count + ChunkInflater.outputSlack)
        let inflated = { (input: [UInt8], expected: Int) -> Bool in
            input.withUnsafeBytes { source in
                output.withUnsafeMutableBytes { inflater.inflate(source, into: $0, expectedSize: expected) }
            }
        }
        for _ in 0..<2 {  // the stream is reset between chunks
            #expect(inflated(stored, payload.count))
            #expect(Array(output.prefix(payload.count)) == Array(payload))
        }
        #expect(!inflated(stored, payload.count - 1))  // more output than announced
        #expect(!inflated(Array(stored.prefix(stored.count / 2)), payload.count))  // cut short
        var badHeader = stored
        badHeader[1] ^= 0x01  // the header check (a multiple of 31) fails
        #expect(!inflated(badHeader, payload.count))
        var badData = stored
        badData[4] ^= 0xff
        #expect(!inflated(badData, payload.count) || Array(output.prefix(payload.count)) != Array(payload))
        #expect(inflated(stored, payload.count))  // and it still works after failures
    }
}
