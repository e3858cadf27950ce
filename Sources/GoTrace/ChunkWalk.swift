// ChunkWalk.swift — the one walk over a .gtrace file's chunk headers, in file order.
//
// Design note
// -----------
// Every reader of the format indexes a file the same way (docs/trace-format.md, sections 3 and 6): from the
// end of the file header, decode the chunk header at the offset (its magic and CRC checked), step over its
// stored payload to the next one. What can go wrong is a *step* of its own, so that each reader decides what
// it means:
//   - `.truncated`: the file ends inside a chunk header or payload; the walk ends there.
//   - `.corruptHeader`: a header that fails its checks; the walk searches on for the next valid header
//     (the magic, then a whole header that checks out, one byte at a time) and resumes there, or ends.
// The checked `TraceReader` reports each as a diagnostic and reads on; the report's fast path
// (FastEventSource) treats any of them as "not clean" and leaves the file to the checked reader.
// Headers are read through a window (1 MiB, one read per few thousand chunks instead of one each); a header
// longer than this build's (a later format version may append fields) is read whole and decoded again.
// Rejected: returning a finished index (per-M chunk lists) — the two readers keep different things per chunk
// (24 bytes for the fast path, the decoded header for the checked one), and the checked reader must report
// special chunks' damage in file order, interleaved with the walk's own.

/// One step of a walk over a trace's chunks.
public enum ChunkWalkStep {
    /// A chunk whose header checks out and whose stored payload lies inside the file.
    case chunk(ChunkHeader, headerSize: Int, location: ChunkLocation)
    /// The file ends inside the chunk at `offset`; nothing follows.
    case truncated(offset: UInt64)
    /// The chunk header at `offset` fails its checks; the walk resumes at `resumesAt`, the next valid header,
    /// or ends (nil).
    case corruptHeader(offset: UInt64, reason: String, resumesAt: UInt64?)
}

/// Walks a trace's chunk headers from `start` (the end of the file header) to the end of the file.
public struct ChunkWalker: Sequence, IteratorProtocol {
    static let windowSize = 1 << 20

    private let source: any TraceByteSource
    private var offset: UInt64
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0

    public init(source: any TraceByteSource, from start: UInt64) {
        self.source = source
        offset = start
    }

    public mutating func next() -> ChunkWalkStep? {
        guard offset < source.size else { return nil }
        let at = offset
        switch header(at: at) {
        case .success(let (header, headerSize)):
            let end = at + UInt64(headerSize) + UInt64(header.storedPayloadSize)
            guard end <= source.size else {
                offset = source.size
                return .truncated(offset: at)
            }
            offset = end
            // A chunk's stored payload is at most TraceLimits.maxRawPayload plus zlib's bound: far below 4 GiB.
            let location = ChunkLocation(offset: at, sequence: header.sequence, size: UInt32(end - at))
            return .chunk(header, headerSize: headerSize, location: location)
        case .failure(.truncated):
            offset = source.size
            return .truncated(offset: at)
        case .failure(.invalid(let reason)):
            let next = resynchronise(after: at)
            offset = next ?? source.size
            return .corruptHeader(offset: at, reason: reason, resumesAt: next)
        }
    }

    /// The chunk header at `offset`, read through the window.
    private mutating func header(at offset: UInt64) -> Result<(header: ChunkHeader, size: Int), ChunkHeader.DecodeFailure> {
        let first = ChunkHeader.decode(bytes(at: offset, count: ChunkHeader.encodedSize))
        // A later format version may have a longer header: read it whole and decode again.
        if case .failure(.truncated(let needed)) = first, needed > ChunkHeader.encodedSize,
           UInt64(needed) <= source.size - offset
        {
            return ChunkHeader.decode(bytes(at: offset, count: needed))
        }
        return first
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the file or on a read error), from the window.
    private mutating func bytes(at offset: UInt64, count: Int) -> ArraySlice<UInt8> {
        let end = offset + UInt64(count)
        if offset < windowStart || end > windowStart + UInt64(window.count) {
            let wanted = Int(Swift.min(UInt64(Swift.max(ChunkWalker.windowSize, count)), source.size - offset))
            if window.count != wanted { window = [UInt8](repeating: 0, count: wanted) }
            let source = self.source
            let filled = window.withUnsafeMutableBytes { source.read(at: offset, into: $0) }
            if filled < wanted { window.removeSubrange(filled...) }
            windowStart = offset
        }
        let start = Int(offset - windowStart)
        return window[start..<Swift.min(window.count, start + count)]
    }

    /// The offset of the next valid chunk header after `offset`, or nil.
    private mutating func resynchronise(after offset: UInt64) -> UInt64? {
        let magic = ChunkHeader.magic
        var candidate = offset + 1
        while candidate + UInt64(magic.count) <= source.size {
            let block = bytes(at: candidate, count: 64 * 1024)
            guard block.count >= magic.count else { return nil }
            var index = block.startIndex
            while index + magic.count <= block.endIndex {
                if block[index] == magic[0] && block[index + 1] == magic[1] && block[index + 2] == magic[2]
                    && block[index + 3] == magic[3]
                {
                    // `block` keeps its own copy of the bytes if this look-up moves the window.
                    let found = candidate + UInt64(index - block.startIndex)
                    if case .success = header(at: found) { return found }
                }
                index += 1
            }
            // Overlap by the magic's length minus one so a magic split across blocks is still found.
            candidate += UInt64(block.count - (magic.count - 1))
        }
        return nil
    }
}
