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
        var mapping: Int?
        if let frame = host.frame(pc) {
            let module = frame.module.map { String(cString: $0) }
            if let module {
                mapping = profile.mapping(ProfileMapping(
                    start: frame.module_start, limit: frame.module_limit, path: module,
                    buildID: frame.build_id.map { String(cString: $0) } ?? ""))
            }
            if let function = frame.function {
                name = FrameNames.simplify(String(cString: function))
            } else if let module {
                name = (module.split(separator: "/").last.map(String.init) ?? module) + "+0x" + String(frame.module_offset, radix: 16)
            } else {
                name = "0x" + String(pc, radix: 16)
            }
        } else {
            // A host older than ABI 1.1: "function + 0xoff (module)".
            name = FrameNames.functionPart(host.symbolize(pc))
        }
        let function = profile.function(ProfileFunction(name: name, shortName: FrameNames.short(name)))
        let made = (location: profile.location(address: pc, function: function, mapping: mapping),
                    runtime: FrameNames.isRuntime(name))
        resolved[pc] = made
        return made
    }
}

enum FrameNames {
    /// Drops Swift's private-declaration discriminators: `(park in _B2644…)` → `park`. They are hashes of the
    /// file name, identical for every frame of a file, and make names twice as long.
    static func simplify(_ name: String) -> String {
        guard name.contains(" in _") else { return name }
        var result = ""
        var rest = Substring(name)
        while let open = rest.firstIndex(of: "(") {
            let tail = rest[open...]
            if let marker = firstRange(of: " in _", in: tail), let close = tail[marker.upperBound...].firstIndex(of: ")"),
               !tail[tail.index(after: open)..<marker.lowerBound].contains("("),
               tail[marker.upperBound..<close].allSatisfy({ $0.isHexDigit || $0.isLetter }) {
                result += rest[..<open]
                result += tail[tail.index(after: open)..<marker.lowerBound]
                rest = tail[tail.index(after: close)...]
            } else {
                result += rest[...open]
                rest = rest[rest.index(after: open)...]
            }
        }
        return result + rest
    }

    /// "function + 0x1c (module)" → "function"; other texts unchanged.
    static func functionPart(_ text: String) -> String {
        guard text.hasSuffix(")"), let plus = lastRange(of: " + 0x", in: Substring(text)) else { return text }
        return simplify(String(text[..<plus.lowerBound]))
    }

    /// Substring search without Foundation (plugins link only the standard library).
    static func firstRange(of needle: String, in text: Substring) -> Range<Substring.Index>? {
        let pattern = Array(needle.utf8)
        let bytes = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where bytes[start..<start + pattern.count].elementsEqual(pattern) {
            let lower = text.utf8.index(text.startIndex, offsetBy: start)
            return lower..<text.utf8.index(lower, offsetBy: pattern.count)
        }
        return nil
    }

    static func lastRange(of needle: String, in text: Substring) -> Range<Substring.Index>? {
        let pattern = Array(needle.utf8)
        let bytes = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        for start in stride(from: bytes.count - pattern.count, through: 0, by: -1)
        where bytes[start..<start + pattern.count].elementsEqual(pattern) {
            let lower = text.utf8.index(text.startIndex, offsetBy: start)
            return lower..<text.utf8.index(lower, offsetBy: pattern.count)
        }
        return nil
    }

    /// Whether a frame is trimmed from the ends of a stack: the goroutine runtime's own frames and the glue
    /// around them (reabstraction thunks, the standard library's `Result(catching:)` that `Runtime.run`
    /// calls through, libc's `_start`). Classified by name — the runtime is linked into the program and
    /// shares its module.
    static func isRuntime(_ name: String) -> Bool {
        if name.hasPrefix("reabstraction thunk") || name.hasPrefix("thunk for") || name.hasPrefix("gort_")
            || name == "_start" || name.hasPrefix("__libc_start") {
            return true
        }
        let owner = self.owner(Substring(name))
        return owner.hasPrefix("GoRuntime.") || owner.hasPrefix("(extension in GoRuntime)") || owner.hasPrefix("gort_")
            || owner.hasPrefix("(extension in Swift)") || owner.hasPrefix("Swift.") || owner.hasPrefix("reabstraction thunk")
    }

    /// The declaration a frame's code belongs to: `closure #1 … in X` → X, without `static`, `@objc`,
    /// `partial apply forwarder for`, `merged` prefixes.
    static func owner(_ name: Substring) -> Substring {
        var rest = name
        var changed = true
        while changed {
            changed = false
            for prefix in ["static ", "@objc ", "partial apply forwarder for ", "merged ", "dispatch thunk of ", "@nonobjc "]
            where rest.hasPrefix(prefix) {
                rest = rest.dropFirst(prefix.count)
                changed = true
            }
            if rest.hasPrefix("closure #") || rest.hasPrefix("implicit closure #"),
               let marker = lastRange(of: " in ", in: rest) {
                rest = rest[marker.upperBound...]
                changed = true
            }
        }
        return rest
    }

    /// `Module.Type.function(label: Type) -> Result` → `Module.Type.function`: pprof's `name` (its tools
    /// print names without argument lists); the whole name stays its `system_name`.
    static func short(_ name: String) -> String {
        guard let first = name.first, first.isLetter || first == "_" else { return name }
        var depth = 0
        for (offset, character) in name.enumerated() {
            switch character {
            case "<": depth += 1
            case ">": depth -= 1
            case "(" where depth == 0: return offset > 0 ? String(name.prefix(offset)) : name
            case " " where depth == 0: return name
            default: break
            }
        }
        return name
    }
}
