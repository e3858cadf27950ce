// Compression and decompression of chunk payloads.
//
// Each chunk is compressed on its own (a complete zlib stream), so a reader can decode any chunk without
// the ones before it: that is what lets it skip a corrupt chunk and read a truncated file up to its last
// whole chunk. The header's CRC always covers the *stored* payload, so corruption is detected before zlib
// sees the bytes; decompression is bounded by the header's raw size, itself capped by `TraceLimits`.

import CZlib

public enum ChunkCodec {
    /// zlib level 1: on trace payloads it gets most of level 6's ratio at a fraction of the CPU, and the
    /// recorder compresses on the traced program's machine while it runs.
    public static let compressionLevel: Int32 = 1

    /// Compresses a raw chunk (header + payload, as made by `TraceBuffer.sealChunk`) and returns the
    /// compressed chunk with an updated header. Chunks that are already compressed, or that zlib would not
    /// shrink, are returned unchanged (their flag says raw, which readers accept). Malformed input is
    /// returned unchanged too: compressing is never the place to lose data.
    public static func compress(_ rawChunk: [UInt8]) -> [UInt8] {
        guard case .success(let decoded) = ChunkHeader.decode(rawChunk[...]) else { return rawChunk }
        let (header, headerSize) = decoded
        guard !header.isCompressed, header.rawPayloadSize > 0,
              rawChunk.count == headerSize + Int(header.storedPayloadSize)
        else { return rawChunk }
        guard let compressed = deflate(rawChunk[headerSize...]), compressed.count < Int(header.rawPayloadSize) else {
            return rawChunk
        }
        var newHeader = header
        newHeader.flags |= ChunkHeader.flagCompressed
        newHeader.storedPayloadSize = UInt32(compressed.count)
        newHeader.payloadCRC = crc32(of: compressed[...])
        return newHeader.encoded() + compressed
    }

    /// zlib-compresses `bytes` into a complete stream, or nil if zlib fails.
    public static func deflate(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let bound = Int(compressBound(uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var outputLength = uLongf(bound)
        let status = bytes.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                // Safety: zlib writes at most `outputLength` (= the buffer's size) bytes and reads exactly
                // `source.count` bytes; both buffers outlive the call.
                compress2(destination.baseAddress, &outputLength, source.baseAddress, uLong(source.count),
                          compressionLevel)
            }
        }
        guard status == Z_OK else { return nil }
        output.removeSubrange(Int(outputLength)...)
        return output
    }

    /// Inflates a zlib stream that must produce exactly `expectedSize` bytes (at most
    /// `TraceLimits.maxRawPayload`); nil if the stream is damaged or its size differs.
    public static func inflate(_ bytes: ArraySlice<UInt8>, expectedSize: Int) -> [UInt8]? {
        guard expectedSize >= 0, expectedSize <= TraceLimits.maxRawPayload else { return nil }
        // One spare byte detects a stream that would decode to more than announced.
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        var outputLength = uLongf(output.count)
        var sourceLength = uLong(bytes.count)
        let status = bytes.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                // Safety: zlib writes at most `outputLength` bytes into `destination` and reads at most
                // `sourceLength` bytes from `source`; both buffers outlive the call.
                uncompress2(destination.baseAddress, &outputLength, source.baseAddress, &sourceLength)
            }
        }
        guard status == Z_OK, Int(outputLength) == expectedSize else { return nil }
        output.removeLast()
        return output
    }

    /// Returns the raw payload of a chunk whose header has been validated, checking the payload CRC and
    /// inflating it if needed.
    public static func payload(of header: ChunkHeader, stored: ArraySlice<UInt8>) -> Result<[UInt8], ChunkPayloadError> {
        let rawSize = Int(header.rawPayloadSize)
        var raw = [UInt8](repeating: 0, count: rawSize + ChunkInflater.outputSlack)
        let failure = stored.withUnsafeBytes { storedBytes in
            raw.withUnsafeMutableBytes { unpack(header, stored: storedBytes, into: $0, inflater: ChunkInflater()) }
        }
        if let failure { return .failure(failure) }
        raw.removeSubrange(rawSize...)
        return .success(raw)
    }

    /// Checks a chunk's stored payload against its (validated) header — size, then CRC — and writes the raw
    /// payload, inflated or copied, to the start of `destination`: every reader's one way from stored bytes
    /// to a payload. Returns nil on success.
    ///
    /// Precondition: `destination.count >= header.rawPayloadSize + ChunkInflater.outputSlack` (the header's
    /// decoder bounds `rawPayloadSize` by `TraceLimits.maxRawPayload`).
    public static func unpack(_ header: ChunkHeader, stored: UnsafeRawBufferPointer,
                              into destination: UnsafeMutableRawBufferPointer, inflater: ChunkInflater) -> ChunkPayloadError? {
        guard stored.count == Int(header.storedPayloadSize) else { return .sizeMismatch }
        guard crc32(of: stored) == header.payloadCRC else { return .checksumMismatch }
        let rawSize = Int(header.rawPayloadSize)
        if header.isCompressed {
            return inflater.inflate(stored, into: destination, expectedSize: rawSize) ? nil : .decompressionFailed
        }
        guard stored.count == rawSize else { return .sizeMismatch }
        destination.copyMemory(from: stored)
        return nil
    }
}

public enum ChunkPayloadError: Error, Equatable, Sendable, CustomStringConvertible {
    case sizeMismatch
    case checksumMismatch
    case decompressionFailed

    public var description: String {
        switch self {
        case .sizeMismatch: "payload size mismatch"
        case .checksumMismatch: "payload checksum mismatch"
        case .decompressionFailed: "payload does not decompress"
        }
    }
}

/// A reusable inflater for readers that load many chunks (the report's fast path).
///
/// `ChunkCodec.inflate` calls `uncompress2`, which initialises a zlib stream per chunk, allocates zlib's
/// 32 KiB window and copies the output into it, and leaves zlib's fast decoding loop (`inflate_fast`, which
/// needs 258 bytes of output room) for the last 258 bytes of every chunk. For chunks of a few hundred
/// bytes that was most of the cost. This keeps one stream (reset per chunk), inflates in one call with
/// `Z_FINISH` into a destination with `outputSlack` spare bytes (no window is ever needed), and so runs the
/// fast loop to the end. The same streams decode to the same bytes, which must be exactly the announced size;
/// the one difference: the Adler-32 trailer is not checked (see `inflate`).
///
/// One instance per thread: it is not safe to share.
public final class ChunkInflater {
    /// Spare output room beyond the announced size: zlib's fast loop runs only while 258 bytes are free.
    public static let outputSlack = 258 + 1

    // Safety: allocated once here and freed in deinit; zlib keeps a pointer back to the stream in its
    // state, so it must not move — hence a pointer, not a stored struct.
    private let stream: UnsafeMutablePointer<z_stream>
    private let initialised: Bool

    public init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Raw deflate (negative window bits): `inflate` below checks the two-byte zlib header itself and
        // skips the Adler-32 trailer (see there).
        initialised = inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if initialised { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates the zlib stream `stored` into `destination`; true if it decodes completely to exactly
    /// `expectedSize` bytes.
    ///
    /// Precondition: `destination.count >= expectedSize + outputSlack`, `expectedSize <= TraceLimits.maxRawPayload`.
    public func inflate(_ stored: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                        expectedSize: Int) -> Bool {
        precondition(expectedSize >= 0 && expectedSize <= TraceLimits.maxRawPayload
                     && destination.count >= expectedSize + ChunkInflater.outputSlack, "ChunkInflater: bad sizes")
        guard initialised, inflateReset(stream) == Z_OK, let output = destination.baseAddress,
              let input = stored.baseAddress, stored.count >= 2 + 4 else { return false }
        // The zlib header (RFC 1950): deflate with a window of at most 32 KiB, no preset dictionary, and a
        // check value that makes the two bytes a multiple of 31. The Adler-32 trailer is not verified: the
        // chunk header's CRC-32 over the stored bytes (checked before this is called) already proves them
        // to be what the writer wrote, and Adler-32 over the output cost ~3% of a report.
        let method = stored[0], flags = stored[1]
        guard method & 0x0f == 8, method >> 4 <= 7, (UInt16(method) << 8 | UInt16(flags)) % 31 == 0, flags & 0x20 == 0
        else { return false }
        // Safety: zlib reads at most `avail_in` bytes from `next_in` (it does not write through it, whatever
        // the C signature says) and writes at most `avail_out` bytes to `next_out`; both buffers outlive the
        // call. `stored.count - 6` ≥ 0 (checked above): the deflate data between header and trailer.
        stream.pointee.next_in = UnsafeMutablePointer(mutating: (input + 2).assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(stored.count - 6)
        stream.pointee.next_out = output.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(destination.count)
        // Bytes after the end of the zlib stream are ignored, as `uncompress2` ignores them.
        let status = CZlib.inflate(stream, Z_FINISH)
        return status == Z_STREAM_END && Int(stream.pointee.total_out) == expectedSize
    }
}
