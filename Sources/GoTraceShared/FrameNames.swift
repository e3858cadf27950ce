// Function names as reports show them: the readable form of a demangled Swift name, and the pieces of a
// symbolized frame's text.
//
// Design note
// -----------
// The symbolizer demangles with the Swift runtime's `swift_demangle`, which prints every detail: module
// names, argument and result types, specialisation arguments, closure signatures, private-declaration
// discriminators (`(park in _B2644…)`). A release build's frames then read
// `function signature specialization <Arg[1] = Dead> of static GoRuntime.Runtime.sleep(for: Swift.Duration) -> ()`.
// Reports show what `swift demangle --simplified` prints instead (`specialized static Runtime.sleep(for:)`);
// JSON keeps the full name beside it and `--full-names` shows it in text.
//
// `swift_demangle` has no simplified mode (any `flags` but 0 is a fatal error) and the toolchain's
// libswiftDemangle is not on a user's machine, so `readable` rewrites the full text, outermost form first:
//   1. Wrappers: `generic specialization <…> of X`, `function signature specialization <…> of X` (any
//      specialisation) → `specialized X`; `partial apply forwarder for X` → `partial apply for X`;
//      `merged X`, `static X`, `@objc X`, `protocol witness for X in conformance T` kept, X rewritten.
//   2. Closures: `closure #N SIGNATURE in X` → `closure #N in X` (the signature is dropped).
//   3. Thunks: `reabstraction thunk helper from A to B` → `thunk for A`.
//   4. Declarations: `Module.Type.name<A where …>(label: T, U) -> R` → `Type.name<A>(label:_:)`: the first
//      component (the module) dropped, private discriminators and `(extension in M):` dropped, generic
//      requirements, argument types and the result dropped; `: T` after a variable or accessor dropped.
// Text that none of these recognise is returned as it is, so a name is never made worse than the full one.
// Which frames are the runtime's is decided on the full name (`StackTrimming.classify`): the simplified one
// has lost its module. Foundation-free, like all of the kit.

/// The readable forms of demangled names and the parts of symbolized frame text.
public enum FrameNames {
    /// What `swift demangle --simplified` prints for `fullName` (see the design note); `fullName` itself if
    /// it is not a demangled Swift name this understands.
    public static func readable(_ fullName: String) -> String {
        String(rewrite(Substring(fullName)))
    }

    /// The function and module of symbolized frame text `name + 0xoff (module)` (optionally followed by
    /// ` at file:line`); nil for an unresolved frame (`module+0xoffset`, `0xaddress`).
    public static func parts(ofFrame frame: String) -> (function: String, module: String)? {
        // The last " + 0x" ends the name, which may contain anything.
        guard let plus = lastRange(of: " + 0x", in: Substring(frame)) else { return nil }
        let function = String(frame[..<plus.lowerBound])
        let tail = frame[plus.upperBound...]
        guard let open = tail.firstIndex(of: "("), let close = tail[open...].firstIndex(of: ")") else { return (function, "") }
        return (function, String(tail[tail.index(after: open)..<close]))
    }

    /// "function + 0x1c (module)" → "function"; other texts unchanged.
    public static func functionPart(_ text: String) -> String {
        parts(ofFrame: text)?.function ?? text
    }

    /// Frame text with its function name made readable: `readable(function) + 0x1c (module)`; unresolved
    /// frames unchanged.
    public static func readableFrame(_ frame: String) -> String {
        guard let plus = lastRange(of: " + 0x", in: Substring(frame)) else { return frame }
        return readable(String(frame[..<plus.lowerBound])) + frame[plus.lowerBound...]
    }

    /// The readable function name of symbolized frame text (the frame itself if unresolved).
    public static func readableFunction(ofFrame frame: String) -> String {
        parts(ofFrame: frame).map { readable($0.function) } ?? frame
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

    // MARK: Rewriting (the design note's steps)

    /// The ways the demangler prints a specialisation: `<kind> specialization <arguments> of X`.
    static let specializationPrefixes = [
        "generic specialization ", "function signature specialization ", "generic partial specialization ",
        "generic not re-abstracted specialization ", "generic pre-specialization ", "inlined generic function ",
    ]

    /// Wrappers kept in the readable form, the wrapped name rewritten.
    private static let keptPrefixes = ["static ", "@objc ", "@nonobjc ", "dispatch thunk of ", "outlined copy of ",
                                       "outlined consume of ", "outlined destroy of ", "outlined retain of ", "outlined release of "]

    private static func rewrite(_ text: Substring) -> Substring {
        if let suffix = firstRange(of: " with unmangled suffix ", in: text) { return rewrite(text[..<suffix.lowerBound]) }
        // A merged function is one body shared by identical functions; it is shown as the one named.
        if text.hasPrefix("merged ") { return rewrite(text.dropFirst("merged ".count)) }
        for context in ["variable initialization expression of ", "default argument "] where text.hasPrefix(context) {
            guard let of = firstRange(of: " of ", in: text.dropFirst(context.count - 4)) else { return text }
            return text[..<of.upperBound] + rewrite(text[of.upperBound...])
        }
        for prefix in specializationPrefixes where text.hasPrefix(prefix) {
            guard let rest = afterGroup(text.dropFirst(prefix.count), "<", ">"), rest.hasPrefix(" of ") else {
                return text
            }
            // Specialisations of specialisations are one `specialized`.
            let inner = rewrite(rest.dropFirst(4))
            return inner.hasPrefix("specialized ") ? inner : "specialized " + inner
        }
        if text.hasPrefix("partial apply forwarder for ") {
            return "partial apply for " + rewrite(text.dropFirst("partial apply forwarder for ".count))
        }
        for prefix in keptPrefixes where text.hasPrefix(prefix) {
            return text.prefix(prefix.count) + rewrite(text.dropFirst(prefix.count))
        }
        if text.hasPrefix("reabstraction thunk") {
            guard let from = firstRange(of: "from ", in: text) else { return text }
            let body = text[from.upperBound...]
            guard let to = firstTopLevel(" to ", in: body) else { return text }
            return "thunk for " + withoutModules(body[..<to.lowerBound])
        }
        if text.hasPrefix("protocol witness for ") {
            let body = text.dropFirst("protocol witness for ".count)
            guard let conformance = firstTopLevel(" in conformance ", in: body) else { return text }
            var conformer = body[conformance.upperBound...]
            if let colon = firstTopLevel(" : ", in: conformer) { conformer = conformer[..<colon.lowerBound] }
            return "protocol witness for " + rewrite(body[..<conformance.lowerBound]) + " in conformance "
                + dropModule(conformer)
        }
        for closure in ["closure #", "implicit closure #"] where text.hasPrefix(closure) {
            let number = text.dropFirst(closure.count).prefix(while: \.isNumber)
            guard let separator = firstTopLevel(" in ", in: text) else { return text }
            let context = text[separator.upperBound...]
            // A closure in top-level code is in the module itself (`closure #1 () -> () in Program`), whose
            // code runs as `main`; `swift demangle --simplified` prints nothing there.
            let isModule = !context.isEmpty && context.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            return text.prefix(closure.count) + number + " in " + (isModule ? "main" : rewrite(context))
        }
        // A local function: `name #N (T) -> R in X` → `name #N (_:) in X`.
        let local = text.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
        if !local.isEmpty, text.dropFirst(local.count).hasPrefix(" #") {
            let afterName = text.dropFirst(local.count + 2)
            let number = afterName.prefix(while: \.isNumber)
            let signature = afterName.dropFirst(number.count).drop(while: { $0 == " " })
            if let arguments = afterGroup(signature, "(", ")"), let separator = firstTopLevel(" in ", in: arguments) {
                let list = signature[signature.index(after: signature.startIndex)..<signature.index(before: arguments.startIndex)]
                return local + " #" + number + " (" + labels(list) + ") in " + rewrite(arguments[separator.upperBound...])
            }
        }
        return declaration(text)
    }

    /// `Module.Type.name<A where …>(label: T, U) -> R` → `Type.name<A>(label:_:)`; `Module.Type.name.getter : T` →
    /// `Type.name.getter`; other text unchanged but for private discriminators.
    private static func declaration(_ text: Substring) -> Substring {
        var rest = withoutDiscriminators(text)
        if rest.hasPrefix("(extension in "), let close = rest.firstIndex(of: ")"),
           rest[rest.index(after: close)...].hasPrefix("):") || rest[rest.index(after: close)...].hasPrefix(":") {
            rest = rest[rest.index(after: close)...].drop(while: { $0 == ":" })
        }
        // The qualified name runs to the argument list, a type annotation or the end; an operator's name
        // (`Swift.Duration.< infix(…)`) runs to its fixity, and may hold any bracket.
        var index = rest.startIndex
        var depth = 0
        while index < rest.endIndex {
            let character = rest[index]
            if character == "<" { depth += 1 }
            if character == ">" { depth -= 1 }
            if depth == 0, character == "(" || character == " " { break }
            index = rest.index(after: index)
        }
        for fixity in [" infix", " prefix", " postfix"] {
            if let marker = firstRange(of: fixity, in: rest), !rest[..<marker.lowerBound].contains("("),
               marker.upperBound < rest.endIndex, rest[marker.upperBound] == "(" || rest[marker.upperBound] == "<" {
                index = afterGroup(rest[marker.upperBound...], "<", ">")?.startIndex ?? marker.upperBound
            }
        }
        let name = rest[..<index]
        // Empty, or a Go method (`sync.(*Mutex).Lock`): not a Swift declaration.
        guard !name.isEmpty, !name.hasSuffix(".") else { return text }
        let remainder = rest[index...]
        // A Swift declaration has an argument list or a type annotation after its name, but for deinitialisers;
        // a bare dotted name is Go's (`main.pingPong`, `runtime.chansend1`, from Go execution traces), whose
        // package is part of the name as Go's tools print it.
        if remainder.isEmpty && !name.hasSuffix("deinit") { return text }
        var result = dropModule(withoutRequirements(name))
        if remainder.hasPrefix("(") {
            guard let afterArguments = afterGroup(remainder, "(", ")") else { return text }
            let arguments = remainder[remainder.index(after: remainder.startIndex)..<remainder.index(before: afterArguments.startIndex)]
            result += "(" + labels(arguments) + ")"
        }
        return result
    }

    /// `(label: T, _: U, V)`'s arguments → `label:_:_:`.
    private static func labels(_ arguments: Substring) -> Substring {
        guard !arguments.isEmpty else { return "" }
        var result = Substring()
        for argument in splitTopLevel(arguments) {
            let label = argument.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
            let isLabel = !label.isEmpty && argument.dropFirst(label.count).hasPrefix(": ")
            result += (isLabel ? label : "_") + ":"
        }
        return result
    }

    /// `Sequence< where A: P>.starts<A where A1: Q>` → `Sequence<>.starts<A>`: every `where` clause dropped.
    private static func withoutRequirements(_ name: Substring) -> Substring {
        var result = Substring()
        var rest = name
        while let clause = firstRange(of: " where ", in: rest) ?? firstRange(of: "< where ", in: rest).map({ rest.index(after: $0.lowerBound)..<$0.upperBound }) {
            // Up to the `>` that closes the group the clause is in.
            var depth = 0
            var close: Substring.Index?
            var index = clause.upperBound
            while index < rest.endIndex {
                if rest[index] == "-", rest[rest.index(after: index)...].hasPrefix(">") {
                    index = rest.index(index, offsetBy: 2)
                    continue
                }
                if rest[index] == "<" { depth += 1 }
                if rest[index] == ">" {
                    if depth == 0 { close = index; break }
                    depth -= 1
                }
                index = rest.index(after: index)
            }
            guard let close else { return name }
            result += rest[..<clause.lowerBound]
            rest = rest[close...]
        }
        return result + rest
    }

    /// `Module.Type<A>.name` → `Type<A>.name`; a name of one component (`main`) unchanged.
    private static func dropModule(_ name: Substring) -> Substring {
        var depth = 0
        for index in name.indices {
            switch name[index] {
            case "<", "(", "[": depth += 1
            case ">", ")", "]": depth -= 1
            case "." where depth == 0: return name[name.index(after: index)...]
            default: break
            }
        }
        return name
    }

    /// Types with their module names dropped: `(@out A, @error @owned Swift.Error)` → `(@out A, @error @owned Error)`.
    private static func withoutModules(_ text: Substring) -> Substring {
        var result = Substring()
        var index = text.startIndex
        while index < text.endIndex {
            let previous = index == text.startIndex ? " " : text[text.index(before: index)]
            let startsName = text[index].isLetter && !isNamePart(previous) && previous != "."
            if startsName {
                let word = text[index...].prefix(while: isNamePart)
                let after = text.index(index, offsetBy: word.count)
                if after < text.endIndex, text[after] == ".", text.index(after: after) < text.endIndex,
                   text[text.index(after: after)].isLetter {
                    index = text.index(after: after)
                    continue
                }
                result += word
                index = after
                continue
            }
            result.append(text[index])
            index = text.index(after: index)
        }
        return result
    }

    private static func isNamePart(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    /// Drops Swift's private-declaration discriminators: `(park in _B2644…)` → `park`. They are hashes of the
    /// file name, identical for every frame of a file.
    private static func withoutDiscriminators(_ name: Substring) -> Substring {
        guard firstRange(of: " in _", in: name) != nil else { return name }
        var result = Substring()
        var rest = name
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

    // MARK: Scanning without Foundation (plugins link only the standard library)

    /// The text after the balanced group `open`…`close` (`<…>`, `(…)`) at the start of `text`. Only the group's
    /// own brackets count, `->` not among them: a specialisation's arguments may hold an unbalanced `[`
    /// (`<Arg[2] = [Closure Propagated : $s…, Argument Types : []>`).
    static func afterGroup(_ text: Substring, _ open: Character, _ close: Character) -> Substring? {
        guard text.first == open else { return nil }
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "-", text[text.index(after: index)...].hasPrefix(">") {
                index = text.index(index, offsetBy: 2)
                continue
            }
            if character == open { depth += 1 }
            if character == close {
                depth -= 1
                if depth == 0 { return text[text.index(after: index)...] }
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// The first occurrence of `separator` outside brackets (closure signatures may contain anything).
    static func firstTopLevel(_ separator: String, in text: Substring) -> Range<Substring.Index>? {
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            // `->` is not a closing bracket.
            if character == "-", text[text.index(after: index)...].hasPrefix(">") {
                index = text.index(index, offsetBy: 2)
                continue
            }
            if character == "(" || character == "<" || character == "[" { depth += 1 }
            if character == ")" || character == ">" || character == "]" { depth = max(0, depth - 1) }
            if depth == 0, text[index...].hasPrefix(separator) {
                return index..<text.index(index, offsetBy: separator.count)
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// `text` split at `, ` outside brackets.
    private static func splitTopLevel(_ text: Substring) -> [Substring] {
        var parts: [Substring] = []
        var rest = text
        while let comma = firstTopLevel(", ", in: rest) {
            parts.append(rest[..<comma.lowerBound])
            rest = rest[comma.upperBound...]
        }
        parts.append(rest)
        return parts
    }

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
}
