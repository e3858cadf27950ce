// Stacks as a user wants to read them: from the user's call into the runtime down to the goroutine's body.
//
// Design note
// -----------
// A blocking stack is captured inside the runtime (`Tracer.captureStack`, `Scheduler.park`,
// `switchToScheduler`, `RuntimeSemaphore.acquire`, …) and ends in the runtime's goroutine entry
// (`runBody`, `goroutineMain`, `gort_context_trampoline`); a creation stack starts in `Scheduler.spawn`.
// None of that says where the *program* is. Trimming, on symbolized frames (`host.symbolize` text):
//   1. Classify each frame: runtime (its owner, after peeling `closure #N … in`, `partial apply forwarder
//      for`, every `… specialization <…> of` a release build makes, `merged`, `static`, `@objc` … is
//      `GoRuntime.…`, `GoTraceFormat.…` (its trace writer), `(extension in GoRuntime):…`, or a `gort_` C
//      symbol), glue (thunks, the standard
//      library, libc and `_start`), unresolved (`module+0xoffset`, `0xaddress`), or user (anything else).
//   2. Top: find the first user frame; keep the runtime frame nearest above it — the user's call into the
//      runtime, e.g. `GoRuntime.Channel.receive()` — and drop everything above that.
//   3. Bottom: drop trailing runtime and glue frames (trampoline, `goroutineMain`, `runBody`, `RunBox`,
//      thunks, `__libc_start_call_main`).
// A stack with no user frame, or unresolved frames only, is returned as it is: with nothing to anchor on,
// trimming would hide the only evidence there is. Classification is by name, not by module, because the
// runtime is linked statically into the program and shares its module.
//
// This is the one classifier: the leak, latency and summary analyzers trim with it, and the flame graphs
// and the HTML report drop the runtime's frames by it. It lives in the kit because everything that names
// frames already links the kit (the plugins, and GoTraceAnalysis for the CLI); GoProfile, the encoders,
// is handed names and never classifies. Two classifiers used to disagree (one did not peel
// specialisations), and a release build's `specialized Scheduler.tracePark` became a "blocking site".
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

    /// `frames` (root first or innermost first) without the runs at either end that `isRuntime` marks: the
    /// flame graphs' and the HTML report's trimming, on frames classified once. All of `frames` if nothing
    /// else is left.
    public static func trimmingEnds<Frame>(_ frames: [Frame], isRuntime: (Frame) -> Bool) -> ArraySlice<Frame> {
        var trimmed = frames[...]
        while let first = trimmed.first, isRuntime(first) { trimmed.removeFirst() }
        while let last = trimmed.last, isRuntime(last) { trimmed.removeLast() }
        return trimmed.isEmpty ? frames[...] : trimmed
    }

    /// Whether a goroutine is the runtime's own — the debug server's listener and handlers, an HTTP server's
    /// connection loop — as Go calls its system goroutines: its stacks (innermost first; the blocking and
    /// the creation stack) have runtime frames and no frame of the program's. A stack that is missing or
    /// unsymbolized says nothing, so a goroutine known only by such stacks counts as the program's.
    public static func isRuntimeOwned(stacks: [[String]]) -> Bool {
        isRuntimeOwned(classes: stacks.joined().lazy.map(classify))
    }

    /// `isRuntimeOwned(stacks:)` on frames already classified.
    public static func isRuntimeOwned<Classes: Sequence<FrameClass>>(classes: Classes) -> Bool {
        var sawRuntime = false
        for frameClass in classes {
            switch frameClass {
            case .user, .unresolved: return false
            case .runtime: sawRuntime = true
            case .glue: break
            }
        }
        return sawRuntime
    }

    /// Classifies one symbolized frame: `name + 0xoff (module)`, `module+0xoff` or `0xaddress`.
    public static func classify(_ frame: String) -> FrameClass {
        guard let parts = FrameNames.parts(ofFrame: frame) else { return .unresolved }
        return classify(function: parts.function, module: parts.module)
    }

    /// Classifies a function by its full demangled name and the file name of its module (empty if unknown).
    public static func classify(function name: String, module: String) -> FrameClass {
        if module.hasPrefix("libc.") || module.hasPrefix("libc-") || module.hasPrefix("ld-linux") || module.hasPrefix("libswift")
            || module.hasPrefix("libdispatch") || module.hasPrefix("libFoundation") || module.hasPrefix("libpthread") {
            return .glue
        }
        if name == "_start" || name.hasPrefix("__libc_start") { return .glue }
        let owner = peel(name)
        // Thunks adapt one calling convention to another; they are nobody's code (and may be merged).
        if owner.hasPrefix("reabstraction thunk") || owner.hasPrefix("thunk for") || owner.hasPrefix("thunk ") { return .glue }
        // GoTraceFormat is the runtime's trace writer, linked into the program with it.
        if owner.hasPrefix("GoRuntime.") || owner.hasPrefix("(extension in GoRuntime)") || owner.hasPrefix("gort_")
            || owner.hasPrefix("GoTraceFormat.") || owner.hasPrefix("(extension in GoTraceFormat)") {
            return .runtime
        }
        // The standard library's modules, statically linked into a release build's program.
        for library in ["Swift", "Synchronization", "_Concurrency", "_StringProcessing"]
        where owner.hasPrefix(library + ".") || owner.hasPrefix("(extension in " + library + ")") {
            return .glue
        }
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
                           "outlined consume of ", "outlined destroy of ", "outlined init with copy of ", "outlined init with take of ",
                           "outlined assign with copy of ", "outlined assign with take of ", "outlined retain of ",
                           "outlined release of ", "dispatch thunk of ", "@nonobjc ", "specialized ", "@Sendable "]
            where text.hasPrefix(prefix) {
                text = text.dropFirst(prefix.count)
            }
            // `initializeBufferWithCopyOfBuffer value witness for T`: the type's code.
            if let witness = FrameNames.firstRange(of: " value witness for ", in: text),
               text[..<witness.lowerBound].allSatisfy({ $0.isLetter }) {
                text = text[witness.upperBound...]
            }
            for prefix in FrameNames.specializationPrefixes where text.hasPrefix(prefix) {
                // `<…> of ` with nested angle brackets.
                if let rest = FrameNames.afterGroup(text.dropFirst(prefix.count), "<", ">"), rest.hasPrefix(" of ") {
                    text = rest.dropFirst(4)
                }
            }
            if text.hasPrefix("closure #") || text.hasPrefix("implicit closure #") || text.hasPrefix("$defer")
                || text.hasPrefix("protocol witness for ") {
                let separator = text.hasPrefix("protocol witness for ") ? " in conformance " : " in "
                if let range = FrameNames.firstTopLevel(separator, in: text) { text = text[range.upperBound...] }
            }
            if text == before { return text }
        }
    }
}
