// Stacks as a user wants to read them: from the user's call into the runtime down to the goroutine's body.
//
// Design note
// -----------
// A blocking stack is captured inside the runtime (`Tracer.captureStack`, `Scheduler.park`,
// `switchToScheduler`, `RuntimeSemaphore.acquire`, …) and ends in the runtime's goroutine entry
// (`runBody`, `goroutineMain`, `gort_context_trampoline`); a creation stack starts in `Scheduler.spawn`.
// None of that says where the *program* is. Trimming, on symbolized frames (`host.symbolize` text):
//   1. Classify each frame: runtime (its owner, after peeling `closure #N … in`, `partial apply forwarder
//      for`, `generic specialization <…> of`, `static`, `@objc` … is `GoRuntime.…`, `(extension in
//      GoRuntime):…`, or a `gort_` C symbol), glue (reabstraction thunks, the standard library, libc and
//      `_start`), unresolved (`module+0xoffset`, `0xaddress`), or user (anything else).
//   2. Top: find the first user frame; keep the runtime frame nearest above it — the user's call into the
//      runtime, e.g. `GoRuntime.Channel.receive()` — and drop everything above that.
//   3. Bottom: drop trailing runtime and glue frames (trampoline, `goroutineMain`, `runBody`, `RunBox`,
//      thunks, `__libc_start_call_main`).
// A stack with no user frame, or unresolved frames only, is returned as it is: with nothing to anchor on,
// trimming would hide the only evidence there is. Classification is by name, not by module, because the
// runtime is linked statically into the program and shares its module.
//
// Rejected: trimming in the runtime at capture time (the trace would lose frames for good, and the
// runtime's own frames matter when debugging the runtime), and trimming in the host (plugins that want
// whole stacks, such as profiles, would lose them).

/// Runtime-frame trimming for stacks shown to users.
public enum StackTrimming {
    /// Whose code a symbolized frame is.
    public enum FrameClass: Equatable, Sendable {
        /// The goroutine runtime (`GoRuntime.…`, `gort_…`).
        case runtime
        /// Neither the runtime's nor the user's: thunks, the standard library, libc, `_start`.
        case glue
        /// No symbol (`module+0xoffset`, `0xaddress`).
        case unresolved
        /// Anything else: the program's own code.
        case user
    }

    /// The frames of a stack (innermost first, as `host.frames(ofStack:)` returns them) with the runtime's
    /// own frames trimmed from both ends (see the design note).
    ///
    /// - Parameters:
    ///   - frames: Symbolized frames, innermost first.
    ///   - keepRuntimeEntry: Keep the runtime frame the user called (`Channel.receive()`); false starts at
    ///     the first user frame (a one-line "created at").
    /// - Returns: The trimmed frames; `frames` unchanged if none of them is the user's.
    public static func userFrames(_ frames: [String], keepRuntimeEntry: Bool = true) -> [String] {
        let classes = frames.map(classify)
        guard let firstUser = classes.firstIndex(of: .user) else { return frames }
        var start = firstUser
        if keepRuntimeEntry, let entry = classes[..<firstUser].lastIndex(of: .runtime) { start = entry }
        var end = classes.count
        while end > firstUser + 1, classes[end - 1] == .runtime || classes[end - 1] == .glue { end -= 1 }
        return Array(frames[start..<end])
    }

    /// Classifies one symbolized frame: `name + 0xoff (module)`, `module+0xoff` or `0xaddress`.
    public static func classify(_ frame: String) -> FrameClass {
        // `name + 0xoff (module)`: the last " + 0x" separates the name (which may contain anything).
        let utf8 = Array(frame.utf8)
        let marker = Array(" + 0x".utf8)
        guard utf8.count > marker.count,
              let split = stride(from: utf8.count - marker.count, through: 0, by: -1).first(where: {
                  utf8[$0..<$0 + marker.count].elementsEqual(marker)
              })
        else { return .unresolved }
        let name = String(decoding: utf8[..<split], as: UTF8.self)
        let tail = utf8[(split + marker.count)...]
        var module = ""
        if tail.last == UInt8(ascii: ")"), let open = tail.firstIndex(of: UInt8(ascii: "(")) {
            module = String(decoding: tail[(open + 1)..<(tail.endIndex - 1)], as: UTF8.self)
        }
        if module.hasPrefix("libc.") || module.hasPrefix("libc-") || module.hasPrefix("ld-linux") || module.hasPrefix("libswift")
            || module.hasPrefix("libdispatch") || module.hasPrefix("libFoundation") || module.hasPrefix("libpthread") {
            return .glue
        }
        if name == "_start" || name.hasPrefix("__libc_start") { return .glue }
        if name.hasPrefix("reabstraction thunk") || name.hasPrefix("thunk for") || name.hasPrefix("partial apply forwarder for reabstraction thunk")
            || name.hasPrefix("partial apply forwarder for thunk") {
            return .glue
        }
        let owner = peel(name)
        if owner.hasPrefix("GoRuntime.") || owner.hasPrefix("(extension in GoRuntime)") || owner.hasPrefix("gort_") {
            return .runtime
        }
        if owner.hasPrefix("Swift.") || owner.hasPrefix("(extension in Swift)") { return .glue }
        return .user
    }

    /// The entity that owns the code of a demangled name: `closure #1 () -> () in GoRuntime.go(…)` →
    /// `GoRuntime.go(…)`; `generic specialization <Swift.Int> of GoRuntime.Channel.receive()` →
    /// `GoRuntime.Channel.receive()`.
    static func peel(_ name: String) -> Substring {
        var text = Substring(name)
        while true {
            let before = text
            for prefix in ["static ", "@objc ", "merged ", "partial apply forwarder for ", "partial apply for ", "outlined copy of ",
                           "dispatch thunk of ", "@nonobjc "] where text.hasPrefix(prefix) {
                text = text.dropFirst(prefix.count)
            }
            for prefix in ["generic specialization ", "function signature specialization "] where text.hasPrefix(prefix) {
                // `<…> of ` with nested angle brackets.
                if let rest = afterBalanced(text.dropFirst(prefix.count), open: "<", close: ">"), rest.hasPrefix(" of ") {
                    text = rest.dropFirst(4)
                }
            }
            if text.hasPrefix("closure #") || text.hasPrefix("implicit closure #") || text.hasPrefix("$defer")
                || text.hasPrefix("protocol witness for ") {
                let separator = text.hasPrefix("protocol witness for ") ? " in conformance " : " in "
                if let range = firstTopLevel(separator, in: text) { text = text[range.upperBound...] }
            }
            if text == before { return text }
        }
    }

    /// The text after a balanced `<…>` group at the start of `text`.
    private static func afterBalanced(_ text: Substring, open: Character, close: Character) -> Substring? {
        guard text.first == open else { return nil }
        var depth = 0
        for index in text.indices {
            if text[index] == open { depth += 1 }
            if text[index] == close {
                depth -= 1
                if depth == 0 { return text[text.index(after: index)...] }
            }
        }
        return nil
    }

    /// The first occurrence of `separator` outside brackets (closure signatures may contain anything).
    private static func firstTopLevel(_ separator: String, in text: Substring) -> Range<Substring.Index>? {
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "(" || character == "<" || character == "[" { depth += 1 }
            if character == ")" || character == ">" || character == "]" { depth = max(0, depth - 1) }
            // `->` is not a closing bracket.
            if character == "-", text.index(after: index) < text.endIndex, text[text.index(after: index)] == ">" {
                index = text.index(index, offsetBy: 2)
                continue
            }
            if depth == 0, text[index...].hasPrefix(separator) {
                return index..<text.index(index, offsetBy: separator.count)
            }
            index = text.index(after: index)
        }
        return nil
    }
}

extension AnalyzerHost {
    /// The frames of stack `id` as a user reads them: the runtime's own frames trimmed (see `StackTrimming`).
    public func userFrames(ofStack id: UInt64, keepRuntimeEntry: Bool = true) -> [String] {
        StackTrimming.userFrames(frames(ofStack: id), keepRuntimeEntry: keepRuntimeEntry)
    }
}
