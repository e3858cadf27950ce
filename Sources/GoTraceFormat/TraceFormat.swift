// Byte layout of the file header and of chunk headers (format versions 1 and 2: the same layouts).
//
// Design note
// -----------
// A trace file is: one file header, then a sequence of self-describing chunks, the last of which is an
// `end` chunk when the trace is complete. docs/trace-format.md is the normative description; the constants
// and the `encode`/`decode` functions here are its only implementation, and a test checks the sizes.
//
// Invariants the reader relies on:
//   1. Every header carries a CRC32 of its own bytes, so a corrupted size field is detected before it is
//      used to skip or allocate; a chunk header also carries a CRC32 of its stored payload.
//   2. Every length read from a file is checked against `TraceLimits` before anything is allocated.
//   3. All integers in headers are little-endian and at fixed offsets; a header's own size is stored in it,
//      so later versions may append fields that older readers skip.
// Chunk headers start with the 4-byte magic "GTCK" so that a reader that meets a corrupt header can
// resynchronise by scanning for the next magic whose header CRC checks out.

import CZlib

/// Limits a reader enforces on every length field, and a writer never exceeds.
public enum TraceLimits {
    /// Largest raw (uncompressed) chunk payload a reader accepts. Writers default to 64 KiB; the slack lets a
    /// runtime choose bigger buffers without a format change.
    public static let maxRawPayload = 1 << 20
    /// Largest stored payload: zlib's worst-case expansion of `maxRawPayload` is well under 1%.
    public static let maxStoredPayload = maxRawPayload + (maxRawPayload >> 6) + 64
    /// Longest list argument (stack depth). Deeper stacks are truncated by the writer.
    public static let maxListCount = 256
    /// Longest byte-string argument (string table text). Longer strings are truncated by the writer.
    public static let maxByteStringLength = 4096
    /// Largest header size field accepted (headers may grow in later versions, but not without bound).
    public static let maxHeaderSize = 4096
}

/// The format version this build writes and the newest it reads. It reads every version from 1 on: version 2
/// differs from 1 only in how events chunks store goroutine arguments (`GoroutineDelta`), and each reader
/// of event payloads chooses by `FileHeader.version`.
public let traceFormatVersion: UInt16 = 2

/// What a chunk holds.
public struct ChunkType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Events of one M, in timestamp order.
    public static let events = ChunkType(rawValue: 0)
    /// The kind table of the writer (see `KindTableCodec`).
    public static let kindTable = ChunkType(rawValue: 1)
    /// The footer: marks the trace complete and carries totals.
    public static let end = ChunkType(rawValue: 2)
    /// The traced program's arguments (`CommandLineChunk`); only `gotrace record --record-args` writes one.
    public static let commandLine = ChunkType(rawValue: 3)
    /// A generation boundary of a flight recording (`GenerationChunk`).
    public static let generation = ChunkType(rawValue: 4)
}

/// The fixed part at the start of every file.
public struct FileHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("GOTRACE\0".utf8)
    /// Size of the header this build writes. Readers honour the size stored in the file.
    public static let encodedSize = 48

    /// The version the file was written in; how its events chunks store goroutine arguments depends on it
    /// (`GoroutineDelta.applies(toFormatVersion:)`).
    public var version: UInt16 = traceFormatVersion
    /// Clock frequency of every tick value in the file: ticks per second (1_000_000_000 for nanoseconds).
    public var ticksPerSecond: UInt64
    /// The tick value at which tracing started; event times are reported relative to it.
    public var startTicks: UInt64
    /// Wall-clock time at `startTicks`, in nanoseconds since the Unix epoch.
    public var startWallTimeNanoseconds: Int64

    public init(ticksPerSecond: UInt64, startTicks: UInt64, startWallTimeNanoseconds: Int64) {
        self.ticksPerSecond = ticksPerSecond
        self.startTicks = startTicks
        self.startWallTimeNanoseconds = startWallTimeNanoseconds
    }

    /// `ticks` as nanoseconds since the trace start: 0 before it, saturating at `UInt64.max` instead of
    /// overflowing. Every reader converts through this (inlinable: the report's fast path calls it per event).
    @inlinable
    public func nanoseconds(fromTicks ticks: UInt64) -> UInt64 {
        let elapsed = ticks >= startTicks ? ticks &- startTicks : 0
        if ticksPerSecond == 1_000_000_000 { return elapsed }
        let product = elapsed.multipliedFullWidth(by: 1_000_000_000)
        guard product.high < ticksPerSecond else { return UInt64.max }
        return ticksPerSecond.dividingFullWidth(product).quotient
    }

    /// A span of `nanoseconds` as ticks at this rate (`startTicks` not added), saturating at `UInt64.max`.
    public func ticks(fromNanoseconds nanoseconds: UInt64) -> UInt64 {
        let product = nanoseconds.multipliedFullWidth(by: ticksPerSecond)
        return product.high < 1_000_000_000 ? UInt64(1_000_000_000).dividingFullWidth(product).quotient : .max
    }

    public func encoded() -> [UInt8] {
        var bytes = FileHeader.magic
        bytes.reserveCapacity(FileHeader.encodedSize)
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt16(FileHeader.encodedSize))
        bytes.appendLittleEndian(UInt32(0))  // flags, none defined yet
        bytes.appendLittleEndian(ticksPerSecond)
        bytes.appendLittleEndian(startTicks)
        bytes.appendLittleEndian(UInt64(bitPattern: startWallTimeNanoseconds))
        bytes.appendLittleEndian(UInt32(0))  // reserved
        bytes.appendLittleEndian(crc32(of: bytes[...]))
        return bytes
    }

    public enum DecodeFailure: Error, Equatable, Sendable {
        case notATrace
        case unsupportedVersion(UInt16)
        case corrupt(String)
        /// The header is cut short; `needed` bytes are required.
        case truncated(needed: Int)
    }

    /// Decodes a header from the first bytes of a file. `bytes` may be longer than the header.
    public static func decode(_ bytes: ArraySlice<UInt8>) -> Result<(header: FileHeader, size: Int), DecodeFailure> {
        let base = bytes.startIndex
        guard bytes.count >= 12 else {
            let magicPart = Swift.min(bytes.count, magic.count)
            return bytes.prefix(magicPart).elementsEqual(magic.prefix(magicPart))
                ? .failure(.truncated(needed: encodedSize)) : .failure(.notATrace)
        }
        guard bytes[base..<base + 8].elementsEqual(magic) else { return .failure(.notATrace) }
        let version = bytes.readLittleEndian(UInt16.self, at: 8)
        guard version >= 1 else { return .failure(.corrupt("format version 0")) }
        guard version <= traceFormatVersion else { return .failure(.unsupportedVersion(version)) }
        let size = Int(bytes.readLittleEndian(UInt16.self, at: 10))
        guard size >= encodedSize, size <= TraceLimits.maxHeaderSize else {
            return .failure(.corrupt("file header size \(size)"))
        }
        guard bytes.count >= size else { return .failure(.truncated(needed: size)) }
        let storedCRC = bytes.readLittleEndian(UInt32.self, at: size - 4)
        guard crc32(of: bytes[base..<base + size - 4]) == storedCRC else {
            return .failure(.corrupt("file header checksum mismatch"))
        }
        var header = FileHeader(
            ticksPerSecond: bytes.readLittleEndian(UInt64.self, at: 16),
            startTicks: bytes.readLittleEndian(UInt64.self, at: 24),
            startWallTimeNanoseconds: Int64(bitPattern: bytes.readLittleEndian(UInt64.self, at: 32)))
        header.version = version
        guard header.ticksPerSecond > 0 else { return .failure(.corrupt("clock frequency 0")) }
        return .success((header, size))
    }
}

/// The fixed part at the start of every chunk.
public struct ChunkHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("GTCK".utf8)
    public static let encodedSize = 72

    /// Flag bit: the payload is zlib-compressed (a zlib stream, RFC 1950).
    public static let flagCompressed: UInt8 = 0x01

    public var type: ChunkType
    public var flags: UInt8
    /// The M (OS thread) whose buffer produced this chunk; 0 for kind-table and end chunks.
    public var machine: UInt64
    /// Per-M sequence number, from 0, incremented by one for each sealed chunk of that M.
    public var sequence: UInt64
    /// The tick value the first event's timestamp delta is relative to.
    public var baseTicks: UInt64
    /// Timestamp of the first and of the last event (equal to `baseTicks` when the chunk has no events).
    public var startTicks: UInt64
    public var endTicks: UInt64
    public var eventCount: UInt32
    public var rawPayloadSize: UInt32
    public var storedPayloadSize: UInt32
    /// Events the writer lost (buffer full and no flush possible) since the previous chunk of this M.
    public var droppedEvents: UInt32
    /// CRC32 (zlib's) of the stored payload bytes.
    public var payloadCRC: UInt32

    public init(
        type: ChunkType, flags: UInt8 = 0, machine: UInt64 = 0, sequence: UInt64 = 0, baseTicks: UInt64 = 0,
        startTicks: UInt64 = 0, endTicks: UInt64 = 0, eventCount: UInt32 = 0, rawPayloadSize: UInt32 = 0,
        storedPayloadSize: UInt32 = 0, droppedEvents: UInt32 = 0, payloadCRC: UInt32 = 0
    ) {
        self.type = type
        self.flags = flags
        self.machine = machine
        self.sequence = sequence
        self.baseTicks = baseTicks
        self.startTicks = startTicks
        self.endTicks = endTicks
        self.eventCount = eventCount
        self.rawPayloadSize = rawPayloadSize
        self.storedPayloadSize = storedPayloadSize
        self.droppedEvents = droppedEvents
        self.payloadCRC = payloadCRC
    }

    public var isCompressed: Bool { flags & ChunkHeader.flagCompressed != 0 }

    /// Writes the header into `destination`, which must have room for `encodedSize` bytes.
    public func encode(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= ChunkHeader.encodedSize)
        var bytes = ChunkHeader.magic
        bytes.reserveCapacity(ChunkHeader.encodedSize)
        bytes.append(type.rawValue)
        bytes.append(flags)
        bytes.appendLittleEndian(UInt16(ChunkHeader.encodedSize))
        bytes.appendLittleEndian(machine)
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(baseTicks)
        bytes.appendLittleEndian(startTicks)
        bytes.appendLittleEndian(endTicks)
        bytes.appendLittleEndian(eventCount)
        bytes.appendLittleEndian(rawPayloadSize)
        bytes.appendLittleEndian(storedPayloadSize)
        bytes.appendLittleEndian(droppedEvents)
        bytes.appendLittleEndian(payloadCRC)
        bytes.appendLittleEndian(crc32(of: bytes[...]))
        destination.copyBytes(from: bytes)
    }

    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: ChunkHeader.encodedSize) { buffer, count in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            count = ChunkHeader.encodedSize
        }
    }

    /// Why a sequence of bytes is not a valid chunk header.
    public enum DecodeFailure: Error, Equatable, Sendable {
        case truncated(needed: Int)
        case invalid(String)
    }

    /// Decodes and validates a chunk header at the start of `bytes`. On success, returns the header and
    /// its size (the payload starts that many bytes in).
    public static func decode(_ bytes: ArraySlice<UInt8>) -> Result<(header: ChunkHeader, size: Int), DecodeFailure> {
        let base = bytes.startIndex
        guard bytes.count >= 8 else { return .failure(.truncated(needed: encodedSize)) }
        guard bytes[base..<base + 4].elementsEqual(magic) else { return .failure(.invalid("bad chunk magic")) }
        let size = Int(bytes.readLittleEndian(UInt16.self, at: 6))
        guard size >= encodedSize, size <= TraceLimits.maxHeaderSize else {
            return .failure(.invalid("chunk header size \(size)"))
        }
        guard bytes.count >= size else { return .failure(.truncated(needed: size)) }
        guard crc32(of: bytes[base..<base + size - 4]) == bytes.readLittleEndian(UInt32.self, at: size - 4) else {
            return .failure(.invalid("chunk header checksum mismatch"))
        }
        let header = ChunkHeader(
            type: ChunkType(rawValue: bytes[base + 4]),
            flags: bytes[base + 5],
            machine: bytes.readLittleEndian(UInt64.self, at: 8),
            sequence: bytes.readLittleEndian(UInt64.self, at: 16),
            baseTicks: bytes.readLittleEndian(UInt64.self, at: 24),
            startTicks: bytes.readLittleEndian(UInt64.self, at: 32),
            endTicks: bytes.readLittleEndian(UInt64.self, at: 40),
            eventCount: bytes.readLittleEndian(UInt32.self, at: 48),
            rawPayloadSize: bytes.readLittleEndian(UInt32.self, at: 52),
            storedPayloadSize: bytes.readLittleEndian(UInt32.self, at: 56),
            droppedEvents: bytes.readLittleEndian(UInt32.self, at: 60),
            payloadCRC: bytes.readLittleEndian(UInt32.self, at: 64))
        guard Int(header.rawPayloadSize) <= TraceLimits.maxRawPayload else {
            return .failure(.invalid("raw payload size \(header.rawPayloadSize) over limit"))
        }
        guard Int(header.storedPayloadSize) <= TraceLimits.maxStoredPayload else {
            return .failure(.invalid("stored payload size \(header.storedPayloadSize) over limit"))
        }
        guard header.isCompressed || header.storedPayloadSize == header.rawPayloadSize else {
            return .failure(.invalid("uncompressed chunk with differing raw and stored sizes"))
        }
        return .success((header, size))
    }
}

/// zlib's CRC32 of `bytes`.
public func crc32(of bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.withUnsafeBytes { crc32(of: $0) }
}

/// zlib's CRC32 of `bytes`.
public func crc32(of bytes: UnsafeRawBufferPointer) -> UInt32 {
    // zlib takes a 32-bit length; feed it in slices so any size works.
    var crc = CZlib.crc32(0, nil, 0)
    var offset = 0
    while offset < bytes.count {
        let length = min(bytes.count - offset, 1 << 30)
        // Safety: offset + length <= bytes.count, so the slice stays inside the buffer.
        let start = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
        crc = CZlib.crc32(crc, start, uInt(length))
        offset += length
    }
    return UInt32(truncatingIfNeeded: crc)
}

extension Array where Element == UInt8 {
    @usableFromInline
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}

extension ArraySlice where Element == UInt8 {
    /// Reads a little-endian integer at `offset` bytes from the start of the slice. The caller has checked
    /// that the bytes are there.
    func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "readLittleEndian: out of bounds")
        // Safety: the bytes [offset, offset + size) are inside the slice (checked above). One unaligned load
        // instead of a loop of checked byte reads: chunk headers are decoded once per chunk, ~10% of an
        // index pass over small chunks.
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
