// An append-only byte buffer with the few formatting operations the encoders need, without going through
// `String` interpolation per number (the Chrome trace of a ten-million-event trace is millions of numbers).
// Its `appendJSONString` is gotrace's one JSON string escaper: JSONWriter.swift (plugins, the report page,
// the command line) and the exporters all escape through it. Here, in GoTraceShared, because the plugins, the
// exporters (GoProfile) and the command line all need it, and this is the module they all depend on.

/// An append-only byte buffer for encoders: text, decimal numbers and escaped strings without a `String` per
/// value.
public struct ByteWriter: Sendable {
    /// Everything appended so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer with room for `capacity` bytes before it grows.
    ///
    /// - Parameter capacity: The bytes to reserve.
    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    /// The bytes so far; the writer continues empty, with the same capacity.
    public mutating func take() -> [UInt8] {
        let taken = bytes
        bytes = []
        bytes.reserveCapacity(taken.capacity)
        return taken
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    /// Appends a literal's UTF-8 bytes.
    @inline(__always)
    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends `text`'s UTF-8 bytes as they are (no escaping).
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends bytes as they are.
    public mutating func append<S: Sequence>(contentsOf sequence: S) where S.Element == UInt8 { bytes.append(contentsOf: sequence) }

    /// A decimal integer.
    public mutating func append(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            append(UInt64(0 &- UInt64(bitPattern: value)))
        } else {
            append(UInt64(value))
        }
    }

    /// A decimal integer.
    public mutating func append(_ value: Int) { append(Int64(value)) }

    /// A decimal integer.
    public mutating func append(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            // Safety: at most 20 decimal digits in a UInt64; the tuple holds 20 UInt64 slots.
            let slots = raw.bindMemory(to: UInt64.self)
            while rest > 0 {
                slots[count] = rest % 10
                rest /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                bytes.append(UInt8(ascii: "0") + UInt8(slots[count]))
            }
        }
    }

    /// Nanoseconds as microseconds with three decimals ("12.345"): Chrome trace timestamps.
    public mutating func appendMicroseconds(_ nanoseconds: UInt64) {
        append(nanoseconds / 1000)
        let fraction = nanoseconds % 1000
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// A double with up to `decimals` decimals, no exponent (SVG coordinates).
    public mutating func append(_ value: Double, decimals: Int) {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled.isFinite, scaled < 9e18 else {
            append("0")
            return
        }
        if value < 0 && scaled > 0 { bytes.append(UInt8(ascii: "-")) }
        let integer = UInt64(scaled)
        let factor = UInt64(scale)
        append(integer / factor)
        var fraction = integer % factor
        guard fraction > 0 else { return }
        var width = decimals
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        bytes.append(UInt8(ascii: "."))
        var digits: [UInt8] = []
        for _ in 0..<width {
            digits.append(UInt8(ascii: "0") + UInt8(fraction % 10))
            fraction /= 10
        }
        bytes.append(contentsOf: digits.reversed())
    }

    /// `text` as a JSON string literal, quotes included.
    public mutating func appendJSONString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\r"): append("\\r")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20:
                append("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xf)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `text` escaped for XML character data and attribute values.
    public mutating func appendXML(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): append("&amp;")
            case UInt8(ascii: "<"): append("&lt;")
            case UInt8(ascii: ">"): append("&gt;")
            case UInt8(ascii: "\""): append("&quot;")
            case UInt8(ascii: "'"): append("&#39;")
            case 0..<0x20 where byte != 0x09 && byte != 0x0a && byte != 0x0d: append("?")
            default: bytes.append(byte)
            }
        }
    }
}
