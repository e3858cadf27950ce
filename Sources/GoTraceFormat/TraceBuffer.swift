// The per-M event buffer: the writer's fast path.
//
// Design note
// -----------
// Vocabulary: an M is an OS thread of the runtime; each M owns exactly one `TraceBuffer` and is the only
// thread that touches it, so the fast path has no locks and no atomics. The buffer is one fixed allocation:
// room for a chunk header followed by `capacity` bytes of payload. Events are appended to the payload as
//     kind byte | varint (ticks - previous ticks) | one varint per argument
// where a goroutine argument's varint holds its zigzagged difference from the chunk's previous goroutine
// argument (format version 2: GoroutineDelta.swift; docs/trace-format.md). When the buffer is full the runtime
// seals it into a chunk, hands the bytes to a `TraceFileWriter` (or its own background thread), and keeps
// emitting into the now empty buffer.
//
// Protocol for the runtime, per M:
//   1. `let buffer = TraceBuffer(baseTicks: startTicks)` when the M starts tracing.
//   2. On each event: `if !buffer.emit(.park, at: now, g, reason, stack) { flush(); buffer.emit(...) }`.
//      `emit` returns false *without recording* when the event might not fit; after `sealChunk` the retry
//      always succeeds (every event, even a maximal string or stack definition, fits an empty buffer).
//   3. `flush()` = `writer.write(rawChunk: buffer.sealChunk(machine: mID, sequence: n)); n += 1`.
//      Sealing resets the buffer; the next chunk's deltas continue from the last timestamp.
//   4. If an event cannot be recorded at all (e.g. inside a signal handler with a full buffer), call
//      `noteDropped()`; the count travels in the next chunk's header.
//
// Invariants: `cursor + (bytes of the event being written) <= capacity` is checked before any store, with
// a conservative bound of 10 bytes per varint (a zigzagged delta too); timestamps within a chunk never
// decrease (a tick value smaller than the previous one is recorded as a zero delta), so a chunk is sorted by
// construction; `previousGoroutine` is 0 whenever a chunk begins (init, and every seal) and changes only with
// a recorded event, so the chunk decodes on its own.
//
// Which arguments are goroutines: a 256-byte table of per-kind bit masks, built from `EventKindSpec.builtIn`
// when the buffer is made and read through an instance `let` — one byte load per event. Rejected: looking
// the spec up per event (an array of arrays, reference counting) and a `static let` table (a `swift_once`
// check on every use, which EventBatchDecoder measured at ~1% of a report for its `argumentsOffset`).
//
// Why a final class holding pointers: the hot state lives in raw memory behind `let` pointers so that no
// Swift exclusivity check (a runtime call for class `var`s) sits on the fast path, and the runtime can
// store the buffer in its M object without `~Copyable` plumbing. Sharing one buffer between threads is a
// bug the type cannot prevent; hence `@unchecked Sendable` with that rule as its condition.

public final class TraceBuffer: @unchecked Sendable {
    /// The mutable part of the buffer, kept out of Swift-managed storage (see the design note).
    @usableFromInline
    struct State {
        /// Bytes of payload written so far.
        @usableFromInline var cursor: Int
        /// Timestamp of the last recorded event (or the base of this chunk if none yet).
        @usableFromInline var lastTicks: UInt64
        /// The tick value the first delta of this chunk is relative to.
        @usableFromInline var baseTicks: UInt64
        @usableFromInline var eventCount: Int
        @usableFromInline var droppedEvents: Int
        /// The value of this chunk's last goroutine argument, 0 before the first (see GoroutineDelta.swift).
        @usableFromInline var previousGoroutine: UInt64
    }

    /// Payload bytes this buffer holds at most; also the upper bound of a sealed chunk's raw payload.
    public let capacity: Int
    @usableFromInline let state: UnsafeMutablePointer<State>
    /// Start of the whole allocation: `ChunkHeader.encodedSize` bytes of header room, then the payload.
    @usableFromInline let storage: UnsafeMutableRawPointer
    @usableFromInline let payload: UnsafeMutableRawPointer
    /// Indexed by kind code: bit `i` set when argument `i` of that kind is a goroutine argument. 256 entries, so
    /// any `EventKind`'s raw value indexes it without a check; the fixed-arity `emit`s take at most 5 arguments.
    @usableFromInline let goroutineArguments: UnsafeMutablePointer<UInt8>

    /// The smallest capacity accepted: it must hold the largest single event (a maximal string definition).
    public static let minimumCapacity = 8 * 1024
    /// 64 KiB: big enough that the 72-byte chunk header is ~0.1% overhead and zlib finds repetitions, small
    /// enough that a reader holding one decoded chunk per M stays within a few MiB.
    public static let defaultCapacity = 64 * 1024

    /// Creates an empty buffer.
    ///
    /// - Parameters:
    ///   - capacity: payload bytes; between `minimumCapacity` and `TraceLimits.maxRawPayload`.
    ///   - baseTicks: the timestamp the first event's delta is taken from; pass the trace's start ticks so
    ///     the first delta is small.
    public init(capacity: Int = TraceBuffer.defaultCapacity, baseTicks: UInt64 = 0) {
        precondition(capacity >= TraceBuffer.minimumCapacity && capacity <= TraceLimits.maxRawPayload,
                     "TraceBuffer capacity out of range")
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: ChunkHeader.encodedSize + capacity, alignment: 16)
        // Safety: the payload starts inside the allocation just made, which is encodedSize + capacity long.
        payload = storage.advanced(by: ChunkHeader.encodedSize)
        state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        state.initialize(to: State(cursor: 0, lastTicks: baseTicks, baseTicks: baseTicks, eventCount: 0,
                                   droppedEvents: 0, previousGoroutine: 0))
        goroutineArguments = .allocate(capacity: 256)
        goroutineArguments.initialize(repeating: 0, count: 256)
        for spec in EventKindSpec.builtIn where spec.isFixedArity {
            // Safety: the table was just allocated with 256 entries, one per value of a kind's UInt8 code.
            goroutineArguments[Int(spec.kind.rawValue)] = UInt8(truncatingIfNeeded: spec.goroutineDeltaMask)
        }
    }

    deinit {
        // Safety: the allocations are owned by this object and nothing else frees them.
        state.deinitialize(count: 1)
        state.deallocate()
        storage.deallocate()
        goroutineArguments.deallocate()
    }

    /// Events recorded since the last seal.
    public var eventCount: Int { state.pointee.eventCount }
    /// Payload bytes recorded since the last seal.
    public var byteCount: Int { state.pointee.cursor }
    public var isEmpty: Bool { state.pointee.eventCount == 0 }

    // MARK: Fast path

    /// Writes the kind byte and the timestamp delta at `offset` and returns the offset after them.
    /// Precondition: 1 + `maxVarintBytes` bytes are free at `offset`.
    @inlinable @inline(__always)
    func writeEventHead(_ kind: EventKind, _ ticks: UInt64, at offset: Int) -> Int {
        let last = state.pointee.lastTicks
        // A clock that went backwards (another core's TSC) becomes a zero delta: chunks stay sorted.
        let delta = ticks >= last ? ticks &- last : 0
        if ticks > last { state.pointee.lastTicks = ticks }
        // Safety: the caller checked that the head fits in the payload area.
        payload.storeBytes(of: kind.rawValue, toByteOffset: offset, as: UInt8.self)
        return writeVarint(delta, to: payload, at: offset &+ 1)
    }

    @inlinable @inline(__always)
    func commitEvent(endingAt offset: Int) {
        state.pointee.cursor = offset
        state.pointee.eventCount &+= 1
    }

    /// Bit `i` set: argument `i` of `kind` is a goroutine argument (written as a delta).
    @inlinable @inline(__always)
    func goroutineMask(of kind: EventKind) -> UInt8 {
        // Safety: `goroutineArguments` has 256 entries, so any UInt8 code is inside it.
        goroutineArguments[Int(kind.rawValue)]
    }

    /// Writes argument `index` at `offset` and returns the offset after it: as a zigzagged delta from `previous`
    /// (which then becomes `value`) when bit `index` of `goroutines` says it is a goroutine, else as it is.
    /// Precondition: `maxVarintBytes` bytes are free at `offset`.
    @inlinable @inline(__always)
    func writeArgument(_ value: UInt64, _ index: Int, _ goroutines: UInt8, _ previous: inout UInt64,
                       at offset: Int) -> Int {
        let wire = goroutines & (1 &<< index) != 0 ? GoroutineDelta.encode(value, previous: &previous) : value
        return writeVarint(wire, to: payload, at: offset)
    }

    /// Whether an event of `argumentCount` varint arguments surely fits.
    @inlinable @inline(__always)
    func hasRoom(forArguments argumentCount: Int) -> Bool {
        state.pointee.cursor &+ 1 &+ (argumentCount &+ 1) &* maxVarintBytes <= capacity
    }

    @inlinable @inline(__always)
    static func checkArity(_ kind: EventKind, _ count: Int) {
        assert(kind.spec.map { $0.isFixedArity && $0.arguments.count == count } ?? true,
               "emit called with the wrong number of arguments for \(kind)")
    }

    /// Records an event without arguments. Returns false, recording nothing, if the buffer must be sealed
    /// first (see the design note).
    @inlinable @inline(__always) @discardableResult
    public func emit(_ kind: EventKind, at ticks: UInt64) -> Bool {
        TraceBuffer.checkArity(kind, 0)
        guard hasRoom(forArguments: 0) else { return false }
        commitEvent(endingAt: writeEventHead(kind, ticks, at: state.pointee.cursor))
        return true
    }

    /// Records an event with one argument. Returns false, recording nothing, if the buffer must be sealed.
    @inlinable @inline(__always) @discardableResult
    public func emit(_ kind: EventKind, at ticks: UInt64, _ a: UInt64) -> Bool {
        TraceBuffer.checkArity(kind, 1)
        guard hasRoom(forArguments: 1) else { return false }
        let goroutines = goroutineMask(of: kind)
        var previous = state.pointee.previousGoroutine
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        offset = writeArgument(a, 0, goroutines, &previous, at: offset)
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    /// Records an event with two arguments. Returns false, recording nothing, if the buffer must be sealed.
    @inlinable @inline(__always) @discardableResult
    public func emit(_ kind: EventKind, at ticks: UInt64, _ a: UInt64, _ b: UInt64) -> Bool {
        TraceBuffer.checkArity(kind, 2)
        guard hasRoom(forArguments: 2) else { return false }
        let goroutines = goroutineMask(of: kind)
        var previous = state.pointee.previousGoroutine
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        offset = writeArgument(a, 0, goroutines, &previous, at: offset)
        offset = writeArgument(b, 1, goroutines, &previous, at: offset)
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    /// Records an event with three arguments. Returns false, recording nothing, if the buffer must be sealed.
    @inlinable @inline(__always) @discardableResult
    public func emit(_ kind: EventKind, at ticks: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64) -> Bool {
        TraceBuffer.checkArity(kind, 3)
        guard hasRoom(forArguments: 3) else { return false }
        let goroutines = goroutineMask(of: kind)
        var previous = state.pointee.previousGoroutine
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        offset = writeArgument(a, 0, goroutines, &previous, at: offset)
        offset = writeArgument(b, 1, goroutines, &previous, at: offset)
        offset = writeArgument(c, 2, goroutines, &previous, at: offset)
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    /// Records an event with four arguments. Returns false, recording nothing, if the buffer must be sealed.
    @inlinable @inline(__always) @discardableResult
    public func emit(
        _ kind: EventKind, at ticks: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64
    ) -> Bool {
        TraceBuffer.checkArity(kind, 4)
        guard hasRoom(forArguments: 4) else { return false }
        let goroutines = goroutineMask(of: kind)
        var previous = state.pointee.previousGoroutine
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        offset = writeArgument(a, 0, goroutines, &previous, at: offset)
        offset = writeArgument(b, 1, goroutines, &previous, at: offset)
        offset = writeArgument(c, 2, goroutines, &previous, at: offset)
        offset = writeArgument(d, 3, goroutines, &previous, at: offset)
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    /// Records an event with five arguments (`snapshot`). Returns false, recording nothing, if the buffer must be
    /// sealed.
    @inlinable @inline(__always) @discardableResult
    public func emit(
        _ kind: EventKind, at ticks: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64
    ) -> Bool {
        TraceBuffer.checkArity(kind, 5)
        guard hasRoom(forArguments: 5) else { return false }
        let goroutines = goroutineMask(of: kind)
        var previous = state.pointee.previousGoroutine
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        offset = writeArgument(a, 0, goroutines, &previous, at: offset)
        offset = writeArgument(b, 1, goroutines, &previous, at: offset)
        offset = writeArgument(c, 2, goroutines, &previous, at: offset)
        offset = writeArgument(d, 3, goroutines, &previous, at: offset)
        offset = writeArgument(e, 4, goroutines, &previous, at: offset)
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    /// Counts events the caller had to drop; reported in the next sealed chunk's header.
    @inlinable @inline(__always)
    public func noteDropped(_ count: Int = 1) {
        state.pointee.droppedEvents &+= count
    }

    // MARK: Variable-length and generic events (not on the hot path)

    /// Records `string id = text`. Text longer than `TraceLimits.maxByteStringLength` bytes is truncated.
    /// Returns false, recording nothing, if the buffer must be sealed first.
    @discardableResult
    public func emitString(id: UInt64, _ text: String, at ticks: UInt64) -> Bool {
        emit(.string, at: ticks, arguments: [.number(id), .bytes(Array(text.utf8))])
    }

    /// Records `stack id = pcs` (innermost frame first). Stacks deeper than `TraceLimits.maxListCount`
    /// frames are truncated. Returns false, recording nothing, if the buffer must be sealed first.
    @discardableResult
    public func emitStack(id: UInt64, _ programCounters: UnsafeBufferPointer<UInt64>, at ticks: UInt64) -> Bool {
        emit(.stack, at: ticks, arguments: [.number(id), .numbers(Array(programCounters))])
    }

    @discardableResult
    public func emitStack(id: UInt64, _ programCounters: [UInt64], at ticks: UInt64) -> Bool {
        emit(.stack, at: ticks, arguments: [.number(id), .numbers(programCounters)])
    }

    /// Records any event from its argument values; the values' shapes must match the wire types the kind
    /// table gives `kind` (for kinds unknown to this build, any shapes are accepted — they become the
    /// writer's kind-table entry only if registered there). Lists and byte strings over the limits are
    /// truncated. Returns false, recording nothing, if the buffer must be sealed first.
    ///
    /// - Parameter spec: `kind`'s entry in the kind table the file carries, when that is not the built-in one
    ///   (a kind this build does not know): its goroutine arguments are then written as deltas too. Without
    ///   it, a kind this build does not know is written as if it had no goroutine arguments.
    @discardableResult
    public func emit(_ kind: EventKind, at ticks: UInt64, arguments: [TraceValue], spec: EventKindSpec? = nil) -> Bool {
        let spec = spec ?? kind.spec
        if let spec {
            precondition(spec.arguments.count == arguments.count, "wrong argument count for \(kind)")
        }
        var previous = state.pointee.previousGoroutine
        var encoded: [UInt8] = []
        for (index, argument) in arguments.enumerated() {
            switch argument {
            case .number(let value):
                let isGoroutine = spec?.arguments[index].isGoroutineDelta ?? false
                appendVarint(isGoroutine ? GoroutineDelta.encode(value, previous: &previous) : value, to: &encoded)
            case .numbers(let values):
                let kept = values.prefix(TraceLimits.maxListCount)
                appendVarint(UInt64(kept.count), to: &encoded)
                for value in kept { appendVarint(value, to: &encoded) }
            case .bytes(let bytes):
                let kept = bytes.prefix(TraceLimits.maxByteStringLength)
                appendVarint(UInt64(kept.count), to: &encoded)
                encoded.append(contentsOf: kept)
            }
        }
        guard state.pointee.cursor + 1 + maxVarintBytes + encoded.count <= capacity else { return false }
        var offset = writeEventHead(kind, ticks, at: state.pointee.cursor)
        encoded.withUnsafeBytes { source in
            // Safety: the guard above proved `encoded.count` bytes are free at `offset`.
            payload.advanced(by: offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        offset += encoded.count
        state.pointee.previousGoroutine = previous
        commitEvent(endingAt: offset)
        return true
    }

    // MARK: Sealing

    /// Seals the recorded events into a raw (uncompressed) chunk, calls `body` with its bytes (header and
    /// payload, valid only during the call), then empties the buffer. No allocation.
    public func withSealedChunk<R>(
        machine: UInt64, sequence: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        let current = state.pointee
        // Safety: `cursor` bytes of the payload were written by `emit`.
        let payloadBytes = UnsafeRawBufferPointer(start: payload, count: current.cursor)
        var header = ChunkHeader(type: .events, machine: machine, sequence: sequence, baseTicks: current.baseTicks,
                                 startTicks: current.baseTicks, endTicks: current.lastTicks,
                                 eventCount: UInt32(current.eventCount), rawPayloadSize: UInt32(current.cursor),
                                 storedPayloadSize: UInt32(current.cursor),
                                 droppedEvents: UInt32(clamping: current.droppedEvents),
                                 payloadCRC: crc32(of: payloadBytes))
        header.startTicks = current.baseTicks &+ firstDelta(in: payloadBytes)
        // Safety: `storage` has `encodedSize` bytes of header room before the payload.
        header.encode(into: UnsafeMutableRawBufferPointer(start: storage, count: ChunkHeader.encodedSize))
        defer {
            // A new chunk: deltas restart from the tick value, goroutine deltas from 0 (see the design note).
            state.pointee = State(cursor: 0, lastTicks: current.lastTicks, baseTicks: current.lastTicks,
                                  eventCount: 0, droppedEvents: 0, previousGoroutine: 0)
        }
        return try body(UnsafeRawBufferPointer(start: storage, count: ChunkHeader.encodedSize + current.cursor))
    }

    /// Seals the recorded events into a raw chunk (header and payload) and empties the buffer.
    public func sealChunk(machine: UInt64, sequence: UInt64) -> [UInt8] {
        withSealedChunk(machine: machine, sequence: sequence) { Array($0) }
    }

    /// The timestamp delta of the first event: the varint after the first kind byte (0 if there is none).
    private func firstDelta(in payloadBytes: UnsafeRawBufferPointer) -> UInt64 {
        guard payloadBytes.count > 1 else { return 0 }
        var cursor = PayloadCursor(Array(payloadBytes.prefix(1 + maxVarintBytes)), offset: 1)
        return cursor.readVarint() ?? 0
    }
}
