// Writes a trace to a file descriptor: file header, kind-table chunk, event chunks, end chunk.
//
// Design note
// -----------
// Two ways the runtime uses it (both produce the same framing, docs/trace-format.md):
//   * `GOTRACE_OUT=path`: the runtime opens the file and makes a writer with `compressing: true`; an M whose
//     buffer is full hands its chunk to the runtime's compressing thread, which calls `write(rawChunk:)`
//     (GoRuntime's ChunkCompressor.swift), or writes it itself when that thread is behind.
//   * `GOTRACE_FD=n`: the runtime makes a writer on the inherited pipe descriptor with
//     `compressing: false`; `gotrace record` on the other end compresses each chunk as it arrives, so the
//     traced program spends no CPU on zlib and a crash loses only what was never written to the pipe.
// `write(rawChunk:)` may be called from any thread: a mutex keeps each chunk's bytes contiguous in the
// stream (pipe writes larger than PIPE_BUF are not atomic). It is off the per-event fast path; an M calls it
// once per sealed chunk (~every 20k events).
// A third way, for the in-process flight recorder (`Trace.startFlightRecorder`): a *sink* closure receives the
// same units — file header, then one whole chunk per call — instead of a descriptor, and keeps them in memory
// (FlightWindow.swift).
// `finish` writes the end chunk; a file without it is "incomplete" to readers, which is exactly what a
// crashed program leaves behind.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public final class TraceFileWriter: Sendable {
    public enum WriteError: Error, Equatable, CustomStringConvertible {
        /// `write(2)` failed with this errno.
        case system(Int32)
        case alreadyFinished

        public var description: String {
            switch self {
            case .system(let code): "write failed: \(String(cString: strerror(code)))"
            case .alreadyFinished: "trace already finished"
            }
        }
    }

    struct Totals {
        var events: UInt64 = 0
        var chunks: UInt64 = 0
        var dropped: UInt64 = 0
        var finished = false
    }

    /// Receives the stream one unit at a time instead of a descriptor (see the design note).
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let fileDescriptor: Int32
    public let isCompressing: Bool
    private let sink: Sink?
    private let totals = Mutex(Totals())

    /// Writes the file header and the kind-table chunk to `fileDescriptor` (not closed by the writer).
    ///
    /// - Parameters:
    ///   - ticksPerSecond: frequency of the clock every `emit` timestamp comes from (1e9 for nanoseconds).
    ///   - startTicks: clock value at trace start; event times are reported relative to it.
    ///   - startWallTimeNanoseconds: wall time at `startTicks`, ns since the Unix epoch.
    ///   - compressing: whether `write(rawChunk:)` compresses (files) or passes chunks through (pipes).
    public init(
        fileDescriptor: Int32, ticksPerSecond: UInt64, startTicks: UInt64, startWallTimeNanoseconds: Int64,
        compressing: Bool
    ) throws(WriteError) {
        self.fileDescriptor = fileDescriptor
        self.isCompressing = compressing
        sink = nil
        let header = FileHeader(ticksPerSecond: ticksPerSecond, startTicks: startTicks,
                                startWallTimeNanoseconds: startWallTimeNanoseconds)
        try writeAll(header.encoded() + KindTableCodec.chunk())
    }

    /// Hands the file header and then each chunk to `sink`, one unit per call, instead of writing them.
    public init(sink: @escaping Sink, ticksPerSecond: UInt64, startTicks: UInt64, startWallTimeNanoseconds: Int64,
                compressing: Bool) {
        fileDescriptor = -1
        isCompressing = compressing
        self.sink = sink
        sink(FileHeader(ticksPerSecond: ticksPerSecond, startTicks: startTicks,
                        startWallTimeNanoseconds: startWallTimeNanoseconds).encoded())
        sink(KindTableCodec.chunk())
    }

    /// Writes a generation marker (never compressed, not counted: it holds no events).
    public func write(generationChunk: GenerationChunk) throws(WriteError) {
        try totals.withLock { (totals: inout Totals) throws(WriteError) in
            guard !totals.finished else { throw .alreadyFinished }
            try writeAll(generationChunk.encoded())
        }
    }

    /// Writes one chunk made by `TraceBuffer.sealChunk`, compressing it first if this writer compresses.
    public func write(rawChunk: [UInt8]) throws(WriteError) {
        let chunk = isCompressing ? ChunkCodec.compress(rawChunk) : rawChunk
        try totals.withLock { (totals: inout Totals) throws(WriteError) in
            guard !totals.finished else { throw .alreadyFinished }
            if case .success(let (header, _)) = ChunkHeader.decode(rawChunk[...]), header.type == .events {
                totals.events += UInt64(header.eventCount)
                totals.dropped += UInt64(header.droppedEvents)
                totals.chunks += 1
            }
            try writeAll(chunk)
        }
    }

    /// Writes the end chunk (totals: events, event chunks, dropped events, end wall time, and the signal
    /// that ended the program if one did). After this the writer refuses further chunks.
    public func finish(endWallTimeNanoseconds: Int64, endSignal: UInt64 = 0) throws(WriteError) {
        try totals.withLock { (totals: inout Totals) throws(WriteError) in
            guard !totals.finished else { throw .alreadyFinished }
            totals.finished = true
            try writeAll(EndChunk(events: totals.events, chunks: totals.chunks, droppedEvents: totals.dropped,
                                  endWallTimeNanoseconds: endWallTimeNanoseconds, endSignal: endSignal).encoded())
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws(WriteError) {
        if let sink { return sink(bytes) }
        try TraceFileWriter.writeAll(bytes, to: fileDescriptor)
    }

    /// Writes every byte of `bytes` to `fileDescriptor`, retrying short writes and EINTR.
    public static func writeAll(_ bytes: [UInt8], to fileDescriptor: Int32) throws(WriteError) {
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(WriteError) in try TraceFileWriter.writeAll(buffer, to: fileDescriptor) }
        }
        try outcome.get()
    }

    /// Writes every byte of `buffer` to `fileDescriptor`, retrying short writes and EINTR.
    public static func writeAll(_ buffer: UnsafeRawBufferPointer, to fileDescriptor: Int32) throws(WriteError) {
        var offset = 0
        while offset < buffer.count {
            // Safety: offset < buffer.count, so the pointer and length stay inside the buffer.
            let written = Glibc.write(fileDescriptor, buffer.baseAddress!.advanced(by: offset), buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .system(errno)
            }
            offset += written
        }
    }
}

/// The payload of the end chunk: totals as varints, in this order. Readers ignore trailing fields they do
/// not know, so more may be appended.
public struct EndChunk: Equatable, Sendable {
    public var events: UInt64
    public var chunks: UInt64
    public var droppedEvents: UInt64
    public var endWallTimeNanoseconds: Int64
    /// The signal that ended the program (its number: 2 SIGINT, 15 SIGTERM, 1 SIGHUP), the runtime having
    /// flushed every M on it; 0 when the recording ended normally. Written only when not 0.
    public var endSignal: UInt64

    public init(events: UInt64, chunks: UInt64, droppedEvents: UInt64, endWallTimeNanoseconds: Int64,
                endSignal: UInt64 = 0) {
        self.events = events
        self.chunks = chunks
        self.droppedEvents = droppedEvents
        self.endWallTimeNanoseconds = endWallTimeNanoseconds
        self.endSignal = endSignal
    }

    public func encoded() -> [UInt8] {
        var payload: [UInt8] = []
        appendVarint(events, to: &payload)
        appendVarint(chunks, to: &payload)
        appendVarint(droppedEvents, to: &payload)
        appendVarint(UInt64(bitPattern: endWallTimeNanoseconds), to: &payload)
        if endSignal != 0 { appendVarint(endSignal, to: &payload) }
        let header = ChunkHeader(type: .end, rawPayloadSize: UInt32(payload.count),
                                 storedPayloadSize: UInt32(payload.count), payloadCRC: crc32(of: payload[...]))
        return header.encoded() + payload
    }

    public static func decode(_ payload: [UInt8]) -> EndChunk? {
        var cursor = PayloadCursor(payload)
        guard let events = cursor.readVarint(), let chunks = cursor.readVarint(),
              let dropped = cursor.readVarint(), let wall = cursor.readVarint()
        else { return nil }
        // Optional fifth field (older writers stop after the wall time).
        let endSignal = cursor.readVarint() ?? 0
        return EndChunk(events: events, chunks: chunks, droppedEvents: dropped,
                        endWallTimeNanoseconds: Int64(bitPattern: wall), endSignal: endSignal)
    }
}
