// The kind-table chunk: the writer's copy of `EventKindSpec.builtIn`, written once at the front of every
// file. It is what lets a reader older than the writer skip — and even print by name — event kinds it
// does not know: every argument's wire type is listed, and wire types are all a reader needs to find the
// end of an event. Payload layout (all integers varints, strings as varint length + UTF-8):
//     count, then per kind: code, name, context effect, argument count, then per argument: name, wire
//     type, role.

public enum KindTableCodec {
    static let maxKinds = 256
    static let maxArgumentsPerKind = 64
    static let maxNameLength = 256

    public static func encode(_ specs: [EventKindSpec]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendVarint(UInt64(specs.count), to: &bytes)
        for spec in specs {
            appendVarint(UInt64(spec.kind.rawValue), to: &bytes)
            appendName(spec.name, to: &bytes)
            appendVarint(UInt64(spec.contextEffect.rawValue), to: &bytes)
            appendVarint(UInt64(spec.arguments.count), to: &bytes)
            for argument in spec.arguments {
                appendName(argument.name, to: &bytes)
                appendVarint(UInt64(argument.wireType.rawValue), to: &bytes)
                appendVarint(UInt64(argument.role.rawValue), to: &bytes)
            }
        }
        return bytes
    }

    /// Decodes a kind table; nil if it is malformed. Unknown roles decode as `.number` and unknown context
    /// effects as `.none` (both only affect presentation); an unknown wire type makes the table unusable,
    /// since the kind could then not be skipped.
    public static func decode(_ payload: [UInt8]) -> [EventKindSpec]? {
        var cursor = PayloadCursor(payload)
        guard let count = cursor.readVarint(), count <= UInt64(maxKinds) else { return nil }
        var specs: [EventKindSpec] = []
        for _ in 0..<Int(count) {
            guard let code = cursor.readVarint(), code <= UInt64(EventKind.maxCode),
                  let name = readName(&cursor),
                  let effect = cursor.readVarint(),
                  let argumentCount = cursor.readVarint(), argumentCount <= UInt64(maxArgumentsPerKind)
            else { return nil }
            var arguments: [ArgumentSpec] = []
            for _ in 0..<Int(argumentCount) {
                guard let argumentName = readName(&cursor),
                      let wire = cursor.readVarint(), let wireType = WireType(rawValue: UInt8(clamping: wire)),
                      let role = cursor.readVarint()
                else { return nil }
                arguments.append(ArgumentSpec(argumentName, ArgumentRole(rawValue: UInt8(clamping: role)) ?? .number,
                                              wire: wireType))
            }
            specs.append(EventKindSpec(EventKind(rawValue: UInt8(code)), name, arguments,
                                       effect: ContextEffect(rawValue: UInt8(clamping: effect)) ?? .none))
        }
        return specs
    }

    /// A raw kind-table chunk (header + payload) describing `specs`.
    public static func chunk(for specs: [EventKindSpec] = EventKindSpec.builtIn) -> [UInt8] {
        let payload = encode(specs)
        let header = ChunkHeader(type: .kindTable, rawPayloadSize: UInt32(payload.count),
                                 storedPayloadSize: UInt32(payload.count), payloadCRC: crc32(of: payload[...]))
        return header.encoded() + payload
    }

    private static func appendName(_ name: String, to bytes: inout [UInt8]) {
        let utf8 = Array(name.utf8.prefix(maxNameLength))
        appendVarint(UInt64(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }

    private static func readName(_ cursor: inout PayloadCursor) -> String? {
        guard let length = cursor.readVarint(), length <= UInt64(maxNameLength),
              let bytes = cursor.readBytes(Int(length))
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
