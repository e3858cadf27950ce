// gzip (RFC 1952) through the system zlib: pprof files are gzipped protobufs.

import CZlib

public enum Gzip {
    /// `bytes` as a gzip member. windowBits 15 + 16 asks zlib for the gzip wrapper (header and CRC32 trailer)
    /// instead of the zlib one; memLevel 8 is zlib's default.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        let initialised = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                                        Int32(MemoryLayout<z_stream>.size))
        guard initialised == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        var input = bytes
        let status: Int32 = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                // Safety: zlib reads `avail_in` bytes from `next_in` and writes at most `avail_out` bytes to
                // `next_out`; both buffers outlive the call.
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        return Array(output[0..<Int(stream.total_out)])
    }
}
