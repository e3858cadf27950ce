// pprof's profile.proto (github.com/google/pprof/proto/profile.proto), gzipped.
//
// Field numbers (the only contract with readers; see docs/profiles.md):
//   Profile   1 sample_type (ValueType)  2 sample  3 mapping  4 location  5 function  6 string_table
//             9 time_nanos  10 duration_nanos  11 period_type (ValueType)  12 period  14 default_sample_type
//   ValueType 1 type  2 unit                         (string-table indices)
//   Sample    1 location_id (packed, LEAF FIRST)  2 value (packed)  3 label
//   Mapping   1 id  2 memory_start  3 memory_limit  4 file_offset  5 filename  6 build_id  7 has_functions
//   Location  1 id  2 mapping_id  3 address  4 line (Line: 1 function_id, 2 line)
//   Function  1 id  2 name  3 system_name  4 filename  5 start_line
// Rules a reader enforces (go tool pprof exits 1 otherwise): string_table[0] is ""; ids are non-zero and
// unique; every referenced id exists; each sample has exactly one value per sample type. Ids here are
// array index + 1. A mapping is always written — some readers fail on a profile without one — and frames
// without a module (synthetic roots such as `[chan-receive]`) point at a placeholder mapping `[<profile>]`.

public enum PprofEncoder {
    /// The uncompressed protobuf.
    public static func protobuf(_ profile: Profile) -> [UInt8] {
        var strings = StringTable()
        var out = ProtobufWriter()
        for type in profile.sampleTypes {
            let (typeIndex, unitIndex) = (strings.index(type.type), strings.index(type.unit))
            out.field(1) { $0.field(1, typeIndex); $0.field(2, unitIndex) }
        }
        for sample in profile.samples {
            out.field(2) { message in
                message.packed(1, sample.locations.reversed().map { UInt64($0 + 1) })
                message.packed(2, sample.values.map { UInt64(bitPattern: $0) })
            }
        }
        var mappings = profile.mappings
        // Synthetic frames and addresses outside every module belong to a placeholder mapping: readers index
        // mappings by id and some (flameshow) fail on a location with mapping_id 0.
        var placeholder: Int?
        if mappings.isEmpty || profile.locations.contains(where: { $0.mapping == nil }) {
            mappings.append(ProfileMapping(start: 0, limit: 0, path: "[" + profile.name + "]"))
            placeholder = mappings.count - 1
        }
        for (index, mapping) in mappings.enumerated() {
            let (file, build) = (strings.index(mapping.path), strings.index(mapping.buildID))
            out.field(3) { message in
                message.field(1, UInt64(index + 1))
                message.field(2, mapping.start)
                message.field(3, mapping.limit)
                message.field(4, mapping.fileOffset)
                message.field(5, file)
                message.field(6, build)
                message.field(7, UInt64(1))  // has_functions: names are resolved, pprof need not symbolize
            }
        }
        for (index, location) in profile.locations.enumerated() {
            out.field(4) { message in
                message.field(1, UInt64(index + 1))
                if let mapping = location.mapping ?? placeholder { message.field(2, UInt64(mapping + 1)) }
                message.field(3, location.address)
                message.field(4) { line in
                    line.field(1, UInt64(location.function + 1))
                    line.field(2, Int64(location.line))
                }
            }
        }
        for (index, function) in profile.functions.enumerated() {
            let (name, systemName) = (strings.index(function.shortName), strings.index(function.systemName))
            let file = strings.index(function.file)
            out.field(5) { message in
                message.field(1, UInt64(index + 1))
                message.field(2, name)
                message.field(3, systemName)
                message.field(4, file)
                message.field(5, Int64(function.line))
            }
        }
        // Indices of the scalar fields must exist before the table is written.
        let periodType = profile.periodType.map { (strings.index($0.type), strings.index($0.unit)) }
        let defaultType = strings.index(profile.sampleTypes[profile.primaryValue].type)
        for string in strings.strings { out.field(6, string: string) }
        out.field(9, profile.timeNanos)
        out.field(10, profile.durationNanos)
        if let periodType { out.field(11) { $0.field(1, periodType.0); $0.field(2, periodType.1) } }
        out.field(12, profile.period)
        out.field(14, defaultType)
        return out.bytes
    }

    /// The gzipped file `go tool pprof` reads.
    public static func encode(_ profile: Profile) -> [UInt8] { Gzip.compress(protobuf(profile)) ?? [] }

    struct StringTable {
        var strings: [String] = [""]
        var indices: [String: UInt64] = ["": 0]

        mutating func index(_ string: String) -> UInt64 {
            if let known = indices[string] { return known }
            strings.append(string)
            indices[string] = UInt64(strings.count - 1)
            return UInt64(strings.count - 1)
        }
    }
}
