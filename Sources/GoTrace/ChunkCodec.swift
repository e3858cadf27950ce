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
        guard stored.count == Int(header.storedPayloadSize) else { return .failure(.sizeMismatch) }
        guard crc32(of: stored) == header.payloadCRC else { return .failure(.checksumMismatch) }
        guard header.isCompressed else { return .success(Array(stored)) }
        guard let raw = inflate(stored, expectedSize: Int(header.rawPayloadSize)) else {
            return .failure(.decompressionFailed)
        }
        return .success(raw)
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
