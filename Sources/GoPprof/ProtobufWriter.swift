// The protobuf wire format, the small part pprof's profile.proto needs (written by hand: no protoc, no
// generated code, no runtime library).
//
// Wire types used: 0 varint (int64, uint64, bool), 2 length-delimited (strings, nested messages, packed
// repeated scalars). A key is `field << 3 | wireType`, itself a varint. Negative int64 values are
// ten-byte varints of their two's complement (proto3 int64, not zigzag). Zero scalars are omitted, as a
// proto3 encoder does; a reader treats an absent field as zero.

public struct ProtobufWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    @inline(__always)
    public mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// A uint64/int64 field (omitted when zero).
    public mutating func field(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, 0)
        varint(value)
    }

    public mutating func field(_ field: Int, _ value: Int64) { self.field(field, UInt64(bitPattern: value)) }

    /// A length-delimited field holding raw bytes.
    public mutating func field(_ field: Int, bytes payload: [UInt8]) {
        key(field, 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    public mutating func field(_ field: Int, string: String) { self.field(field, bytes: Array(string.utf8)) }

    /// A nested message (written even when empty: its presence can matter, e.g. `Line`).
    public mutating func field(_ field: Int, message: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        message(&nested)
        self.field(field, bytes: nested.bytes)
    }

    /// A packed repeated uint64/int64 field (omitted when empty).
    public mutating func packed(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        var nested = ProtobufWriter()
        for value in values { nested.varint(value) }
        self.field(field, bytes: nested.bytes)
    }
}
