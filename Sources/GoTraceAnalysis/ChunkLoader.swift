// Reading, checking and inflating the event chunks of the report's fast path.
//
// Design note
// -----------
// A chunk is loaded from one contiguous range of the file (header + stored payload, as the index found it):
//   1. The range is taken from a read window (1 MiB, one `pread` per window): the Ms' chunks interleave in
//      the file in roughly the order the merge needs them, so consecutive loads mostly hit the window. A
//      range outside it starts a new window at that range (never a read per chunk: the fixture traces of
//      the benchmark have chunks of ~350 bytes, and a `pread` each was ~10% of a report).
//   2. The header is decoded and CRC-checked again (the index kept 24 bytes, not the header), then the
//      payload's CRC, then it is inflated (`ChunkInflater`: one zlib stream per loader, reset per chunk)
//      into the caller's `PayloadBuffer`, followed by zero padding for `EventBatchDecoder`.
// Anything that does not check out makes `load` return nil; the caller reports the chunk as skipped.
// One loader per thread (the inflater and the window are not shared).

#if canImport(Glibc)
import Glibc
#endif
import GoTrace

/// An inflated payload followed by `EventBatchDecoder.paddingBytes` zero bytes; grows, never shrinks.
struct PayloadBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    /// Payload bytes (the padding follows).
    var count = 0

    /// Room for a payload of `size` bytes plus the inflater's slack and the decoder's padding.
    mutating func reserve(payload size: Int) {
        let needed = size + max(ChunkInflater.outputSlack, EventBatchDecoder.paddingBytes)
        guard needed > capacity else { return }
        base?.deallocate()
        let grown = max(needed, capacity * 2, 4096)
        base = .allocate(byteCount: grown, alignment: 16)
        capacity = grown
    }

    /// Zeroes the padding after `count` bytes. Precondition: `reserve(payload: count)` was called.
    mutating func seal(count: Int) {
        precondition(count + EventBatchDecoder.paddingBytes <= capacity, "PayloadBuffer: padding out of room")
        self.count = count
        // Safety: count + paddingBytes ≤ capacity (checked above).
        base!.advanced(by: count).initializeMemory(as: UInt8.self, repeating: 0, count: EventBatchDecoder.paddingBytes)
    }

    /// The payload (without the padding).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    func deallocate() { base?.deallocate() }
}

/// Where an event chunk is (FastEventSource's index): 24 bytes per chunk, not the ~100 of a decoded header,
/// because a 100-million-event trace has over a million chunks and the index must fit the report's memory
/// budget (≤ 200 MB). The header is decoded (and its CRC checked) again when the chunk is loaded, from the
/// same read as its payload.
struct ChunkEntry {
    var offset: UInt64
    var sequence: UInt64
    /// Header and stored payload, in bytes.
    var size: UInt32
}

final class ChunkLoader {
    static let windowSize = 1 << 20

    private let fileDescriptor: Int32
    private let fileSize: UInt64
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var window: [UInt8] = []
    @exclusivity(unchecked) private var windowStart: UInt64 = 0
    private let inflater = ChunkInflater()

    /// Reads from `source`'s descriptor, which must stay open while the loader is used.
    init(source: FileByteSource) {
        fileDescriptor = source.fileDescriptor
        fileSize = source.size
    }

    /// Loads the chunk at `entry` into `payload`; returns its header's base ticks, or nil if the chunk is
    /// unreadable or damaged (header, CRC, inflation, size).
    func load(_ entry: ChunkEntry, into payload: inout PayloadBuffer) -> UInt64? {
        let size = Int(entry.size)
        guard entry.offset <= fileSize, UInt64(size) <= fileSize - entry.offset, fill(at: entry.offset, count: size)
        else { return nil }
        let start = Int(entry.offset - windowStart)
        let bytes = window[start..<start + size]
        guard case .success(let (header, headerSize)) = ChunkHeader.decode(bytes),
              headerSize + Int(header.storedPayloadSize) == size
        else { return nil }
        let stored = bytes[(start + headerSize)...]
        guard crc32(of: stored) == header.payloadCRC else { return nil }
        let rawSize = Int(header.rawPayloadSize)  // ≤ TraceLimits.maxRawPayload: checked by ChunkHeader.decode
        payload.reserve(payload: rawSize)
        let ok = stored.withUnsafeBytes { storedBytes -> Bool in
            // Safety: the payload buffer has room for rawSize + slack bytes (reserve above).
            let destination = UnsafeMutableRawBufferPointer(start: payload.base, count: payload.capacity)
            if header.isCompressed {
                return inflater.inflate(storedBytes, into: destination, expectedSize: rawSize)
            }
            guard storedBytes.count == rawSize else { return false }
            destination.copyMemory(from: storedBytes)
            return true
        }
        guard ok else { return nil }
        payload.seal(count: rawSize)
        return header.baseTicks
    }

    /// Makes the window cover [offset, offset + count); false on a read error or a short read.
    private func fill(at offset: UInt64, count: Int) -> Bool {
        if offset >= windowStart && offset + UInt64(count) <= windowStart + UInt64(window.count) { return true }
        let wanted = Int(min(UInt64(max(ChunkLoader.windowSize, count)), fileSize - offset))
        guard wanted >= count else { return false }
        if window.count != wanted { window = [UInt8](repeating: 0, count: wanted) }
        let filled = window.withUnsafeMutableBytes { FileByteSource.readFully(fileDescriptor, at: offset, into: $0) }
        windowStart = offset
        guard filled >= count else {
            window = []
            return false
        }
        if filled < wanted { window.removeSubrange(filled...) }
        return true
    }
}
