// Function names as flame graphs show them: Swift discriminators dropped, the runtime's own frames
// recognised. Shared by the flamegraph analyzer and the HTML report (Foundation-free: plugins link only
// the standard library).

public enum FrameNames {
    /// Drops Swift's private-declaration discriminators: `(park in _B2644…)` → `park`. They are hashes of the
    /// file name, identical for every frame of a file, and make names twice as long.
    public static func simplify(_ name: String) -> String {
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
    public static func functionPart(_ text: String) -> String {
        guard text.hasSuffix(")"), let plus = lastRange(of: " + 0x", in: Substring(text)) else { return text }
        return simplify(String(text[..<plus.lowerBound]))
    }

    /// Substring search without Foundation (plugins link only the standard library).
    public static func firstRange(of needle: String, in text: Substring) -> Range<Substring.Index>? {
        let pattern = Array(needle.utf8)
        let bytes = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where bytes[start..<start + pattern.count].elementsEqual(pattern) {
            let lower = text.utf8.index(text.startIndex, offsetBy: start)
            return lower..<text.utf8.index(lower, offsetBy: pattern.count)
        }
        return nil
    }

    public static func lastRange(of needle: String, in text: Substring) -> Range<Substring.Index>? {
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
    public static func isRuntime(_ name: String) -> Bool {
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
    public static func owner(_ name: Substring) -> Substring {
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
    public static func short(_ name: String) -> String {
        guard let first = name.first, first.isLetter || first == "_" else { return name }
        var depth = 0
        var previous: Character = " "
        for (offset, character) in name.enumerated() {
            defer { previous = character }
            switch character {
            case "<": depth += 1
            case ">": depth -= 1
            // Go's method names (`sync.(*Mutex).Lock`, from Go execution traces) open a bracket right after a
            // dot: part of the name, not an argument list.
            case "(" where depth == 0 && offset > 0 && previous == ".": break
            case "(" where depth == 0: return offset > 0 ? String(name.prefix(offset)) : name
            case " " where depth == 0: return name
            default: break
            }
        }
        return name
    }
}
