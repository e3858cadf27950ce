// The profile every export format is written from.
//
// Design note
// -----------
// Vocabulary (pprof's, because it is the richest of the formats we write):
//   - a *function* is a name (plus the module it lives in); frames of flame graphs are functions;
//   - a *location* is one address in one function — what a stack is made of;
//   - a *sample* is a stack of locations, ROOT FIRST here (pprof wants leaf first; its encoder reverses),
//     with one value per sample type (block: nanoseconds blocked and the number of blockings);
//   - a *mapping* is a module's address range, for pprof.
// Flame graph formats (folded, SVG, speedscope) fold locations into functions and use one value per sample,
// `primaryValue`. Synthetic frames (a park reason as the root, `[chan-receive]`) are functions with no
// module and locations with address 0.
//
// Invariants (checked by `checkInvariants` in tests): every index a sample, location or function holds is in
// range; every sample has exactly `sampleTypes.count` values.

/// A sample dimension: what is counted and in which unit ("delay"/"nanoseconds").
public struct ValueType: Sendable, Equatable {
    public var type: String
    public var unit: String
    public init(_ type: String, _ unit: String) {
        self.type = type
        self.unit = unit
    }
}

public struct ProfileFunction: Sendable, Hashable {
    /// The name flame graphs show.
    public var name: String
    /// The name without argument list (pprof's `name`: its tools print names that way).
    public var shortName: String
    /// The symbol's whole demangled name (pprof's `system_name`).
    public var systemName: String
    public var file: String
    public var line: Int
    public init(name: String, shortName: String? = nil, systemName: String? = nil, file: String = "", line: Int = 0) {
        self.name = name
        self.shortName = shortName ?? name
        self.systemName = systemName ?? name
        self.file = file
        self.line = line
    }
}

public struct ProfileMapping: Sendable, Equatable {
    public var start: UInt64
    public var limit: UInt64
    public var fileOffset: UInt64
    public var path: String
    public var buildID: String
    public init(start: UInt64, limit: UInt64, fileOffset: UInt64 = 0, path: String, buildID: String = "") {
        self.start = start
        self.limit = limit
        self.fileOffset = fileOffset
        self.path = path
        self.buildID = buildID
    }
}

public struct ProfileLocation: Sendable, Equatable {
    public var address: UInt64
    /// Index into `mappings`, nil for synthetic frames and addresses outside every module.
    public var mapping: Int?
    /// Index into `functions`.
    public var function: Int
    public var line: Int
}

public struct ProfileSample: Sendable, Equatable {
    /// Indices into `locations`, root first.
    public var locations: [Int]
    public var values: [Int64]
    public init(locations: [Int], values: [Int64]) {
        self.locations = locations
        self.values = values
    }
}

/// A time-ordered span of one track (speedscope's evented profiles): `frames` (function indices, root first)
/// were on the stack from `start` to `end` nanoseconds.
public struct ProfileSpan: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var frames: [Int]
    public init(start: UInt64, end: UInt64, frames: [Int]) {
        self.start = start
        self.end = end
        self.frames = frames
    }
}

public struct Profile: Sendable {
    public var name: String
    public var sampleTypes: [ValueType]
    /// Which value flame graphs draw (index into `sampleTypes`).
    public var primaryValue = 0
    public var periodType: ValueType?
    public var period: Int64 = 0
    public var timeNanos: Int64 = 0
    public var durationNanos: Int64 = 0
    public private(set) var functions: [ProfileFunction] = []
    public private(set) var mappings: [ProfileMapping] = []
    public private(set) var locations: [ProfileLocation] = []
    public var samples: [ProfileSample] = []
    /// Optional time-ordered tracks, by name (speedscope writes each as an evented profile).
    public var tracks: [(name: String, spans: [ProfileSpan])] = []
    private var functionIndex: [ProfileFunction: Int] = [:]
    private var mappingIndex: [String: Int] = [:]
    private var locationIndex: [LocationKey: Int] = [:]

    private struct LocationKey: Hashable {
        var address: UInt64
        var function: Int
    }

    public init(name: String, sampleTypes: [ValueType], primaryValue: Int = 0) {
        self.name = name
        self.sampleTypes = sampleTypes
        self.primaryValue = primaryValue
    }

    public mutating func function(_ function: ProfileFunction) -> Int {
        if let known = functionIndex[function] { return known }
        functions.append(function)
        functionIndex[function] = functions.count - 1
        return functions.count - 1
    }

    /// The mapping of module `path` (one per path; later calls widen its range).
    public mutating func mapping(_ mapping: ProfileMapping) -> Int {
        if let known = mappingIndex[mapping.path] {
            if mapping.start < mappings[known].start { mappings[known].start = mapping.start }
            if mapping.limit > mappings[known].limit { mappings[known].limit = mapping.limit }
            return known
        }
        mappings.append(mapping)
        mappingIndex[mapping.path] = mappings.count - 1
        return mappings.count - 1
    }

    /// The location of `address` in `function` (synthetic frames: address 0, one location per function).
    public mutating func location(address: UInt64, function: Int, mapping: Int?, line: Int = 0) -> Int {
        let key = LocationKey(address: address, function: function)
        if let known = locationIndex[key] { return known }
        locations.append(ProfileLocation(address: address, mapping: mapping, function: function, line: line))
        locationIndex[key] = locations.count - 1
        return locations.count - 1
    }

    /// A location for a frame that has no address (a park reason, a goroutine label).
    public mutating func syntheticLocation(named name: String) -> Int {
        location(address: 0, function: function(ProfileFunction(name: name)), mapping: nil)
    }

    /// The function names of a sample's stack, root first.
    public func names(of sample: ProfileSample) -> [String] { sample.locations.map { functions[locations[$0].function].name } }

    /// Sum of the primary value over all samples.
    public var total: Int64 { samples.reduce(0) { $0 + $1.values[primaryValue] } }

    /// Problems with the indices (empty when the profile is well-formed).
    public func checkInvariants() -> [String] {
        var problems: [String] = []
        for (index, location) in locations.enumerated() {
            if location.function >= functions.count { problems.append("location \(index): function out of range") }
            if let mapping = location.mapping, mapping >= mappings.count { problems.append("location \(index): mapping out of range") }
        }
        for (index, sample) in samples.enumerated() {
            if sample.values.count != sampleTypes.count { problems.append("sample \(index): \(sample.values.count) values") }
            if sample.locations.contains(where: { $0 >= locations.count }) { problems.append("sample \(index): location out of range") }
        }
        return problems
    }
}
