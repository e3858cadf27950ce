// Stacks of the trace → locations, functions and mappings of a `Profile`, resolved once per address.

import GoProfile
import GoTracePluginKit

struct ProfileBuilder {
    let host: AnalyzerHost
    let keepRuntimeFrames: Bool
    /// Functions named in full rather than readably (`--full-names`).
    let fullNames: Bool
    var profile: Profile
    /// Resolved frames by address: (location index, is a runtime frame).
    private var resolved: [UInt64: (location: Int, runtime: Bool)] = [:]
    /// Locations per stack id, root first, trimmed.
    private var stacks: [UInt64: [Int]] = [:]

    init(host: AnalyzerHost, keepRuntimeFrames: Bool, profile: Profile) {
        self.host = host
        self.keepRuntimeFrames = keepRuntimeFrames
        self.fullNames = host.wantsFullNames
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
        var frames = pcs.reversed().map { resolve($0) }
        if !keepRuntimeFrames {
            var trimmed = frames[...]
            while let first = trimmed.first, first.runtime { trimmed.removeFirst() }
            while let last = trimmed.last, last.runtime { trimmed.removeLast() }
            if !trimmed.isEmpty { frames = Array(trimmed) }
        }
        let made = frames.map(\.location)
        stacks[stack] = made
        return made
    }

    private mutating func resolve(_ pc: UInt64) -> (location: Int, runtime: Bool) {
        if let known = resolved[pc] { return known }
        var name: String
        var fullName: String
        var owner = StackTrimming.FrameClass.unresolved
        var mapping: Int?
        // Source file and line where the trace or DWARF knows them (pprof `-lines`, speedscope `file`/`line`).
        var file = ""
        var line = 0
        if let frame = host.frame(pc) {
            file = frame.file.map { String(cString: $0) } ?? ""
            line = Int(frame.line)
            let module = frame.module.map { String(cString: $0) }
            if let module {
                mapping = profile.mapping(ProfileMapping(
                    start: frame.module_start, limit: frame.module_limit, path: module,
                    buildID: frame.build_id.map { String(cString: $0) } ?? ""))
            }
            if let function = frame.function {
                fullName = String(cString: function)
                owner = StackTrimming.classify(function: fullName, module: (module?.split(separator: "/").last).map(String.init) ?? "")
                name = fullNames ? fullName : FrameNames.readable(fullName)
            } else if let module {
                fullName = (module.split(separator: "/").last.map(String.init) ?? module) + "+0x" + String(frame.module_offset, radix: 16)
                name = (module.split(separator: "/").last.map(String.init) ?? module) + "+0x" + String(frame.module_offset, radix: 16)
            } else {
                name = "0x" + String(pc, radix: 16)
                fullName = name
            }
        } else {
            // A host older than ABI 1.1: "function + 0xoff (module)".
            let text = host.symbolize(pc)
            owner = StackTrimming.classify(text)
            fullName = FrameNames.functionPart(text)
            name = fullNames ? fullName : FrameNames.readable(fullName)
        }
        // pprof's tools print `name` (short, no argument list) and keep `system_name` (the full name).
        let function = profile.function(ProfileFunction(name: name, shortName: FrameNames.short(name), systemName: fullName, file: file))
        let made = (location: profile.location(address: pc, function: function, mapping: mapping, line: line),
                    runtime: owner == .runtime || owner == .glue)
        resolved[pc] = made
        return made
    }
}
