// Checksum repair for fuzz inputs.
//
// Every header and payload of a .gtrace file is covered by a CRC32, so almost every mutation libFuzzer
// makes is rejected at the first checksum and the decoding behind it is never reached. The targets
// therefore read each input twice: as it is (the checksum paths) and after `repairingChecksums` (the
// paths behind them). The repair walks the file the way a writer lays it out — file header, then chunks —
// and, wherever a header's magic and size field look plausible, recomputes the payload CRC over the bytes
// that are there, makes an uncompressed chunk's raw size equal its stored size, and recomputes the header
// CRC. Anything else is left as it is: the reader must still cope with the rest.

import GoTrace

public func repairingChecksums(_ input: [UInt8]) -> [UInt8] {
    var bytes = input
    let count = bytes.count
    func readUInt16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func readUInt32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    func writeUInt32(_ value: UInt32, _ at: Int) {
        for index in 0..<4 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    guard count >= 12, bytes[0..<8].elementsEqual(FileHeader.magic) else { return bytes }
    let headerSize = readUInt16(10)
    guard headerSize >= FileHeader.encodedSize, headerSize <= TraceLimits.maxHeaderSize, headerSize <= count else {
        return bytes
    }
    writeUInt32(crc32(of: bytes[0..<headerSize - 4]), headerSize - 4)

    var offset = headerSize
    while offset + 8 <= count {
        guard bytes[offset..<offset + 4].elementsEqual(ChunkHeader.magic) else {
            offset += 1  // damage between chunks: look for the next magic, as the reader does
            continue
        }
        let size = readUInt16(offset + 6)
        guard size >= ChunkHeader.encodedSize, size <= TraceLimits.maxHeaderSize, offset + size <= count else {
            offset += 1
            continue
        }
        let stored = readUInt32(offset + 56)
        if bytes[offset + 5] & ChunkHeader.flagCompressed == 0 {
            writeUInt32(UInt32(stored), offset + 52)
        }
        let payloadStart = offset + size
        let payloadEnd = min(count, payloadStart + stored)
        writeUInt32(crc32(of: bytes[payloadStart..<payloadEnd]), offset + 64)
        writeUInt32(crc32(of: bytes[offset..<offset + size - 4]), offset + size - 4)
        offset = payloadEnd
    }
    return bytes
}

/// The bytes libFuzzer hands a target, as an array.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    // Safety: libFuzzer passes `size` readable bytes at `data` (data may be nil when size is 0).
    data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
}
