// The generation chunk (type 4): where a flight recording's stream may be cut.
//
// Design note
// -----------
// A flight recording (`gotrace record --flight-recorder`, `Trace.startFlightRecorder`) keeps only the last
// moments of a trace, so it must be able to drop the oldest part of the stream and still have a trace that
// stands alone. The runtime makes that possible by cutting the stream into *generations* (Tracer.swift,
// `cutGeneration`), each cut made with the world stopped:
//   1. every M's buffer is flushed, so no event chunk straddles the cut;
//   2. a generation chunk, phase `begin`, is written: every chunk before it belongs to the older generations;
//   3. every M forgets its string and stack definitions, so the new generation defines again what it uses;
//      the module map and a `snapshot` of every goroutine (state, reason, stack, how long it has waited)
//      follow, then the buffer that holds them is flushed;
//   4. a generation chunk, phase `snapshot-written`, is written; the world restarts.
// The chunks between the two markers are the *snapshot section*: the start of the new generation, and at the
// same time an exact final snapshot of the old one (nothing ran in between). So a window of generations
// k..n−1 followed by generation n's snapshot section and an end chunk reconciles exactly (`stat --check`),
// and so does k..n followed by the runtime's own final snapshot and end chunk (`FlightWindow`).
// Readers that predate type 4 skip it (docs/trace-format.md, 9); readers of this version skip it too: it
// holds no events.

/// The payload of a generation chunk: varints, in this order. Readers ignore trailing fields they do not know.
public struct GenerationChunk: Equatable, Sendable {
    /// Which marker of a cut (see the design note).
    public struct Phase: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// Step 2: the older generations are complete; the new generation's snapshot section follows.
        public static let begin = Phase(rawValue: 0)
        /// Step 4: the snapshot section is complete; the new generation's events follow.
        public static let snapshotWritten = Phase(rawValue: 1)
    }

    /// The generation that starts here, from 1 (the recording's start is generation 0, with no marker).
    public var generation: UInt64
    public var phase: Phase
    /// Clock value at the cut (the trace's ticks): a window that starts here reports times from it.
    public var ticks: UInt64
    /// Wall time at `ticks`, nanoseconds since the Unix epoch.
    public var wallTimeNanoseconds: Int64

    public init(generation: UInt64, phase: Phase, ticks: UInt64, wallTimeNanoseconds: Int64) {
        self.generation = generation
        self.phase = phase
        self.ticks = ticks
        self.wallTimeNanoseconds = wallTimeNanoseconds
    }

    /// The whole chunk: header and (never compressed) payload.
    public func encoded() -> [UInt8] {
        var payload: [UInt8] = []
        appendVarint(generation, to: &payload)
        appendVarint(phase.rawValue, to: &payload)
        appendVarint(ticks, to: &payload)
        appendVarint(UInt64(bitPattern: wallTimeNanoseconds), to: &payload)
        let header = ChunkHeader(type: .generation, rawPayloadSize: UInt32(payload.count),
                                 storedPayloadSize: UInt32(payload.count), payloadCRC: crc32(of: payload[...]))
        return header.encoded() + payload
    }

    public static func decode(_ payload: ArraySlice<UInt8>) -> GenerationChunk? {
        var cursor = PayloadCursor(Array(payload))
        guard let generation = cursor.readVarint(), let phase = cursor.readVarint(), let ticks = cursor.readVarint(),
              let wall = cursor.readVarint()
        else { return nil }
        return GenerationChunk(generation: generation, phase: Phase(rawValue: phase), ticks: ticks,
                               wallTimeNanoseconds: Int64(bitPattern: wall))
    }
}
