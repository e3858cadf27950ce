// Stacks of the trace → locations, functions and mappings of a `Profile`, resolved once per address.

import GoProfile
import GoTracePluginKit

struct ProfileBuilder {
    let host: AnalyzerHost
    let keepRuntimeFrames: Bool
    var profile: Profile
    /// Resolved frames by address: (location index, is a runtime frame).
    private var resolved: [UInt64: (location: Int, runtime: Bool)] = [:]
    /// Locations per stack id, root first, trimmed.
    private var stacks: [UInt64: [Int]] = [:]

    init(host: AnalyzerHost, keepRuntimeFrames: Bool, profile: Profile) {
        self.host = host
        self.keepRuntimeFrames = keepRuntimeFrames
        self.profile = profile
    }

    /// Adds one sample: the stack's frames under an optional synthetic root frame.
    mutating func add(stack: UInt64, root: String?, values: [Int64]) {
        var locations = self.locations(stack: stack)
        if let root { locations.insert(profile.syntheticLocation(named: root), at: 0) }
        if locations.isEmpty { locations = [profile.syntheticLocation(named: stack == 0 ? "[no stack]" : "[stack \(stack)]")] }
        profile.samples.append(ProfileSample(locations: locations, values: values))
    }

    /// The function indices of a stack, root first (for time-ordered tracks).
    mutating func functions(stack: UInt64, root: String?) -> [Int] {
        var functions = locations(stack: stack).map { profile.locations[$0].function }
        if let root { functions.insert(profile.function(ProfileFunction(name: root)), at: 0) }
        return functions
    }

    mutating func locations(stack: UInt64) -> [Int] {
        if let known = stacks[stack] { return known }
        let pcs = host.stack(stack)
        // Root first: the stack is innermost first.
        let frames = pcs.reversed().map { resolve($0) }
        let kept = keepRuntimeFrames ? frames[...] : StackTrimming.trimmingEnds(frames, isRuntime: \.runtime)
        let made = kept.map(\.location)
        stacks[stack] = made
        return made
    }

    private mutating func resolve(_ pc: UInt64) -> (location: Int, runtime: Bool) {
        if let known = resolved[pc] { return known }
        let (fullName, name, runtime) = host.frameName(pc)
        var mapping: Int?
        // Source file and line where the trace or DWARF knows them (pprof `-lines`, speedscope `file`/`line`).
        var file = ""
        var line = 0
        if let frame = host.frame(pc) {
            file = frame.file.map { String(cString: $0) } ?? ""
            line = Int(frame.line)
            if let module = frame.module.map({ String(cString: $0) }) {
                mapping = profile.mapping(ProfileMapping(
                    start: frame.module_start, limit: frame.module_limit, path: module,
                    buildID: frame.build_id.map { String(cString: $0) } ?? ""))
            }
        }
        // pprof's tools print `name` (short, no argument list) and keep `system_name` (the full name).
        let function = profile.function(ProfileFunction(name: name, shortName: FrameNames.short(name), systemName: fullName, file: file))
        let made = (location: profile.location(address: pc, function: function, mapping: mapping, line: line),
                    runtime: runtime)
        resolved[pc] = made
        return made
    }
}
