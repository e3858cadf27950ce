// ChunkLoader.swift — loading one chunk: read, check and inflate. Every reader of .gtrace files loads its
// chunks here (the checked `TraceReader`, the report's fast path and its prefetch thread).
//
// Design note
// -----------
// A chunk is loaded from one contiguous range of the file (header + stored payload, as the chunk walk found
// it, ChunkWalk.swift):
//   1. The range is taken from a read window (1 MiB, one read per window): the Ms' chunks interleave in the
//      file in roughly the order a merge needs them, so consecutive loads mostly hit the window. A range
//      outside it starts a new window at that range (never a read per chunk: the fixture traces of the
//      benchmark have chunks of ~350 bytes, and a `pread` each was ~10% of a report).
//   2. The header is decoded and CRC-checked again (a `ChunkLocation` keeps 24 bytes, not the header), then
//      `ChunkCodec.unpack` checks the payload's size and CRC and inflates it (`ChunkInflater`: one zlib
//      stream per loader, reset per chunk) into the caller's `PayloadBuffer`, followed by zero padding for
//      `EventBatchDecoder`.
// Anything that does not check out is a `ChunkLoadFailure`, whose text is the reader's diagnostic.
// One loader per thread (the inflater and the window are not shared).

/// An inflated payload followed by `EventBatchDecoder.paddingBytes` zero bytes; grows, never shrinks.
public struct PayloadBuffer {
    public private(set) var base: UnsafeMutableRawPointer?
    public private(set) var capacity = 0
    /// Payload bytes (the padding follows).
    public private(set) var count = 0

    public init() {}

    /// Room for a payload of `size` bytes plus the inflater's slack and the decoder's padding.
    public mutating func reserve(payload size: Int) {
        let needed = size + max(ChunkInflater.outputSlack, EventBatchDecoder.paddingBytes)
        guard needed > capacity else { return }
        base?.deallocate()
        let grown = max(needed, capacity * 2, 4096)
        base = .allocate(byteCount: grown, alignment: 16)
        capacity = grown
    }

    /// Zeroes the padding after `count` bytes. Precondition: `reserve(payload: count)` was called.
    public mutating func seal(count: Int) {
        precondition(count + EventBatchDecoder.paddingBytes <= capacity, "PayloadBuffer: padding out of room")
        self.count = count
        // Safety: count + paddingBytes ≤ capacity (checked above).
        base!.advanced(by: count).initializeMemory(as: UInt8.self, repeating: 0, count: EventBatchDecoder.paddingBytes)
    }

    /// The payload (without the padding).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public func deallocate() { base?.deallocate() }
}

/// Where a chunk is: 24 bytes per chunk, not the ~100 of a decoded header, because a 100-million-event trace
/// has over a million chunks and an index must fit the report's memory budget (≤ 200 MB). The header is
/// decoded (and its CRC checked) again when the chunk is loaded, from the same read as its payload.
public struct ChunkLocation: Sendable {
    public var offset: UInt64
    public var sequence: UInt64
    /// Header and stored payload, in bytes.
    public var size: UInt32

    public init(offset: UInt64, sequence: UInt64, size: UInt32) {
        self.offset = offset
        self.sequence = sequence
        self.size = size
    }
}

/// Why a chunk did not load; its description is the diagnostic's reason.
public enum ChunkLoadFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read there (an I/O error, or it is shorter than the index says).
    case readError
    /// The header no longer checks out, or does not span the chunk's range.
    case header(String)
    case payload(ChunkPayloadError)

    public var description: String {
        switch self {
        case .readError: "read error"
        case .header(let reason): reason
        case .payload(let failure): failure.description
        }
    }
}

public final class ChunkLoader {
    static let windowSize = 1 << 20

    private let source: any TraceByteSource
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var window: [UInt8] = []
    @exclusivity(unchecked) private var windowStart: UInt64 = 0
    private let inflater = ChunkInflater()

    /// Reads from `source`, which the loader keeps.
    public init(source: any TraceByteSource) { self.source = source }

    /// Loads the chunk at `location` into `payload` (its raw bytes, then the decoder's padding); returns its
    /// header.
    public func load(_ location: ChunkLocation, into payload: inout PayloadBuffer) -> Result<ChunkHeader, ChunkLoadFailure> {
        let size = Int(location.size)
        guard location.offset <= source.size, UInt64(size) <= source.size - location.offset,
              fill(at: location.offset, count: size)
        else { return .failure(.readError) }
        let start = Int(location.offset - windowStart)
        let bytes = window[start..<start + size]
        let header: ChunkHeader
        let headerSize: Int
        switch ChunkHeader.decode(bytes) {
        case .success(let decoded): (header, headerSize) = decoded
        case .failure(.invalid(let reason)): return .failure(.header(reason))
        case .failure(.truncated): return .failure(.header("chunk header cut short"))
        }
        guard headerSize + Int(header.storedPayloadSize) == size else {
            return .failure(.header("chunk size differs from the index"))
        }
        payload.reserve(payload: Int(header.rawPayloadSize))  // ≤ TraceLimits.maxRawPayload: ChunkHeader.decode
        let failure = bytes[(start + headerSize)...].withUnsafeBytes { stored in
            // Safety: the payload buffer has room for rawPayloadSize + slack bytes (reserve above).
            let destination = UnsafeMutableRawBufferPointer(start: payload.base, count: payload.capacity)
            return ChunkCodec.unpack(header, stored: stored, into: destination, inflater: inflater)
        }
        if let failure { return .failure(.payload(failure)) }
        payload.seal(count: Int(header.rawPayloadSize))
        return .success(header)
    }

    /// Makes the window cover [offset, offset + count); false on a read error or a short read.
    private func fill(at offset: UInt64, count: Int) -> Bool {
        if offset >= windowStart && offset + UInt64(count) <= windowStart + UInt64(window.count) { return true }
        let wanted = Int(min(UInt64(max(ChunkLoader.windowSize, count)), source.size - offset))
        guard wanted >= count else { return false }
        if window.count != wanted { window = [UInt8](repeating: 0, count: wanted) }
        let filled = window.withUnsafeMutableBytes { source.read(at: offset, into: $0) }
        windowStart = offset
        guard filled >= count else {
            window = []
            return false
        }
        if filled < wanted { window.removeSubrange(filled...) }
        return true
    }
}
