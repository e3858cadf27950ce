// Goroutine arguments as deltas: the one rule format version 2 adds (docs/trace-format.md §5.1).
//
// Design note
// -----------
// Vocabulary: a *goroutine argument* is an argument whose role is `goroutine` and whose wire type is
// `uvarint` in the kind table in effect (the built-in specs merged with the file's kind table); *previous*
// is the value of the chunk's previous goroutine argument, in event order and argument order within an
// event, and 0 at the start of every events chunk.
//
// The rule, for events chunks of files whose header says version 2 or later:
//   1. A writer stores a goroutine argument `value` as the varint of `zigzag(value &- previous)`, where
//      zigzag takes the difference as an Int64 `d` to `(d << 1) ^ (d >> 63)`; then `previous = value`.
//   2. A reader inverts it: `value = previous &+ unzigzag(wire)`; then `previous = value`.
//   3. Both reset `previous` to 0 where a chunk begins, so every chunk still decodes on its own.
// Version-1 files store every argument as its plain value; readers choose by the file header's version.
//
// Why: the goroutine ids of one M's consecutive events are close to each other (a ring hands off to the next
// id, a worker pool cycles through a few), but with thousands of goroutines each id is two or three varint
// bytes that look random to zlib. The difference is usually one byte, and repeats.
//
// Rejected:
//   * the kind byte's reserved bit as "this goroutine argument is the M's running goroutine, omitted": it saves
//     nothing on `unpark` (the woken goroutine is not the running one) or `start`, and it would make decoding
//     depend on the M's context, which after a damaged chunk is unknown until the next `start`;
//   * carrying `previous` from one chunk of an M to the next: a damaged or missing chunk would then shift every
//     goroutine id of the M's later chunks;
//   * a delta per kind or per argument position: more state in the writer's fast path and in every reader.

/// Zigzag encoding of a difference (its two's-complement bit pattern): 0, -1, 1, -2, 2, … become 0, 1, 2, 3,
/// 4, …, so a small step either way is a small varint.
@inlinable @inline(__always)
public func zigzagEncode(_ difference: UInt64) -> UInt64 {
    let signed = Int64(bitPattern: difference)
    return UInt64(bitPattern: (signed << 1) ^ (signed >> 63))
}

/// The inverse of `zigzagEncode`: the difference as a two's-complement bit pattern.
@inlinable @inline(__always)
public func zigzagDecode(_ value: UInt64) -> UInt64 {
    (value >> 1) ^ (0 &- (value & 1))
}

/// The goroutine-argument rule (see the design note): the writer's and every reader's only implementation.
public enum GoroutineDelta {
    /// The first format version whose events chunks store goroutine arguments as deltas.
    public static let firstFormatVersion: UInt16 = 2

    /// Whether the events chunks of a file whose header says `formatVersion` store goroutine arguments as
    /// deltas.
    public static func applies(toFormatVersion formatVersion: UInt16) -> Bool {
        formatVersion >= firstFormatVersion
    }

    /// The wire value of goroutine argument `value` (rule 1); sets `previous` to `value`.
    @inlinable @inline(__always)
    public static func encode(_ value: UInt64, previous: inout UInt64) -> UInt64 {
        defer { previous = value }
        return zigzagEncode(value &- previous)
    }

    /// The goroutine argument a wire value stands for (rule 2); sets `previous` to it.
    @inlinable @inline(__always)
    public static func decode(_ wire: UInt64, previous: inout UInt64) -> UInt64 {
        previous = previous &+ zigzagDecode(wire)
        return previous
    }
}

extension ArgumentSpec {
    /// Whether the rule applies to this argument in a version-2 file: role `goroutine`, wire type `uvarint`.
    @inlinable
    public var isGoroutineDelta: Bool { role == .goroutine && wireType == .uvarint }
}

extension EventKindSpec {
    /// Bit `i` set: argument `i` is a goroutine argument (`ArgumentSpec.isGoroutineDelta`). Arguments from
    /// index 64 on have no bit; the kind table allows at most 64 per kind, and readers that may meet more ask
    /// each `ArgumentSpec`.
    public var goroutineDeltaMask: UInt64 {
        var mask: UInt64 = 0
        for (index, argument) in arguments.prefix(64).enumerated() where argument.isGoroutineDelta {
            mask |= 1 << UInt64(index)
        }
        return mask
    }
}
