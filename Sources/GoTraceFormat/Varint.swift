// Unsigned LEB128 varints: 7 bits per byte, least significant group first, high bit set on every byte
// but the last. A UInt64 takes 1 to 10 bytes. The writer side is unchecked pointer code for the fast path;
// the reader side (`PayloadCursor`) checks every byte against the end of its buffer and rejects encodings
// longer than 10 bytes or overflowing 64 bits, so it cannot trap on any input.

/// The most bytes one varint can take.
public let maxVarintBytes = 10

/// Writes `value` as a varint at `offset` and returns the offset just past it.
///
/// Precondition: `maxVarintBytes` bytes are writable at `base + offset`.
@inlinable @inline(__always)
public func writeVarint(_ value: UInt64, to base: UnsafeMutableRawPointer, at offset: Int) -> Int {
    var remaining = value
    var position = offset
    while remaining >= 0x80 {
        // Safety: the caller guarantees maxVarintBytes writable bytes; this loop writes at most 9 here.
        base.storeBytes(of: UInt8(truncatingIfNeeded: remaining) | 0x80, toByteOffset: position, as: UInt8.self)
        remaining &>>= 7
        position &+= 1
    }
    // Safety: as above; this is byte number <= 10.
    base.storeBytes(of: UInt8(truncatingIfNeeded: remaining), toByteOffset: position, as: UInt8.self)
    return position &+ 1
}

/// The number of bytes `writeVarint` uses for `value`.
@inlinable
public func varintSize(_ value: UInt64) -> Int {
    // Each byte holds 7 bits; 0 still takes one byte.
    let significantBits = 64 - (value | 1).leadingZeroBitCount
    return (significantBits + 6) / 7
}

/// Appends `value` as a varint.
public func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
    var remaining = value
    while remaining >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
        remaining >>= 7
    }
    bytes.append(UInt8(truncatingIfNeeded: remaining))
}

/// A bounds-checked read position in an untrusted byte buffer.
public struct PayloadCursor {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { bytes.count - offset }

    public mutating func readByte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads one varint, or returns nil (without a defined offset) if it is cut short, longer than 10 bytes
    /// or does not fit in 64 bits.
    public mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<maxVarintBytes {
            guard offset < bytes.count else { return nil }
            let byte = bytes[offset]
            offset += 1
            let group = UInt64(byte & 0x7f)
            // The tenth byte may contribute only the single top bit.
            if index == maxVarintBytes - 1 && group > 1 { return nil }
            result |= group << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    /// Reads `count` raw bytes, or nil if fewer remain.
    public mutating func readBytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
