// The optional command-line chunk: the traced program's arguments.
//
// Design note
// -----------
// A trace holds what the program did, not what it was told: arguments (and the environment, which no
// chunk holds at all) often carry tokens, passwords and customer paths, and traces get attached to bug
// reports. So the arguments are recorded only when asked (`gotrace record --record-args`), in a chunk of
// their own that a reader older than this chunk type skips (unknown chunk types are skipped silently).
// Payload: a varint count, then per argument a varint byte length and its UTF-8 bytes; uncompressed. The
// whole payload stays within `TraceLimits.maxRawPayload`: the writer drops trailing arguments that would
// not fit and says how many in a final argument of the form "…(N more arguments not recorded)".

public enum CommandLineChunk {
    /// The chunk (header and payload) holding `arguments`, program name first.
    public static func encoded(_ arguments: [String]) -> [UInt8] {
        var kept: [[UInt8]] = []
        var size = 10  // the count varint, at most 10 bytes
        // Room for the "not recorded" note, so adding it never exceeds the limit.
        let budget = TraceLimits.maxRawPayload - 64
        for argument in arguments {
            let bytes = Array(argument.utf8)
            guard size + bytes.count + 10 <= budget else { break }
            kept.append(bytes)
            size += bytes.count + 10
        }
        if kept.count < arguments.count {
            kept.append(Array("…(\(arguments.count - kept.count) more arguments not recorded)".utf8))
        }
        var payload: [UInt8] = []
        appendVarint(UInt64(kept.count), to: &payload)
        for bytes in kept {
            appendVarint(UInt64(bytes.count), to: &payload)
            payload += bytes
        }
        let header = ChunkHeader(type: .commandLine, rawPayloadSize: UInt32(payload.count),
                                 storedPayloadSize: UInt32(payload.count), payloadCRC: crc32(of: payload[...]))
        return header.encoded() + payload
    }

    /// The arguments in a command-line chunk's payload, or nil if it is malformed (every length is checked
    /// against the bytes that remain before anything is allocated).
    public static func decode(_ payload: [UInt8]) -> [String]? {
        var cursor = PayloadCursor(payload)
        guard let count = cursor.readVarint(), count <= UInt64(cursor.remaining) else { return nil }
        var arguments: [String] = []
        for _ in 0..<Int(count) {
            guard let length = cursor.readVarint(), length <= UInt64(cursor.remaining),
                  let bytes = cursor.readBytes(Int(length))
            else { return nil }
            arguments.append(String(decoding: bytes, as: UTF8.self))
        }
        return cursor.isAtEnd ? arguments : nil
    }
}
