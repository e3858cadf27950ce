// The analyzer host's view of stacks through the one frame classifier (`StackTrimming`, `FrameNames`, in
// GoTraceShared, which the kit re-exports): what every built-in analyzer shows as a frame.

extension AnalyzerHost {
    /// The frames of stack `id` as a user reads them: the runtime's own frames trimmed (see `StackTrimming`).
    public func userFrames(ofStack id: UInt64, keepRuntimeEntry: Bool = true) -> [String] {
        StackTrimming.userFrames(frames(ofStack: id), keepRuntimeEntry: keepRuntimeEntry)
    }

    /// Whether goroutine `info` is the runtime's own rather than the program's (`StackTrimming.isRuntimeOwned`
    /// on its blocking and creation stacks): the leak report leaves such goroutines out, as Go's tools leave
    /// out its system goroutines.
    public func isRuntimeGoroutine(_ info: gotrace_goroutine_info) -> Bool {
        StackTrimming.isRuntimeOwned(stacks: [info.state_stack, info.creation_stack].filter { $0 != 0 }.map(frames(ofStack:)))
    }

    /// Whether stack `id` is a wait of the runtime's own goroutines (`StackTrimming.isRuntimeOwned`): the
    /// summary and the HTML report list no such stack as a blocking site.
    public func isRuntimeStack(_ id: UInt64) -> Bool {
        id != 0 && StackTrimming.isRuntimeOwned(stacks: [frames(ofStack: id)])
    }

    /// The option `gotrace report --full-names` sets for every analyzer (`--option NAME.full-names=true` sets
    /// it for one).
    public static let fullNamesOption = "full-names"

    /// Whether text output should show demangled names whole rather than `FrameNames.readable(_:)`'s form.
    public var wantsFullNames: Bool { option(AnalyzerHost.fullNamesOption) == "true" }

    /// A full demangled function name as this report's text shows it: readable unless ``wantsFullNames``.
    public func displayName(_ fullName: String) -> String {
        wantsFullNames ? fullName : FrameNames.readable(fullName)
    }

    /// The frame at `pc` as the flame graphs and the HTML report name it: its full name, the name shown
    /// (``displayName(_:)``), and whether it is the runtime's or glue (`StackTrimming.classify`), which they
    /// drop from both ends of a stack (`StackTrimming.trimmingEnds`). A frame with no function is named by
    /// its module's file and offset (`module+0x…`), else by its address (`0x…`); neither is the runtime's.
    public func frameName(_ pc: UInt64) -> (full: String, shown: String, isRuntime: Bool) {
        let owner: StackTrimming.FrameClass
        let full: String
        if let frame = frame(pc) {
            let module = frame.module.map { String(cString: $0) }
            let file = module.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
            guard let function = frame.function else {
                let name = module != nil
                    ? file + "+0x" + String(frame.module_offset, radix: 16) : "0x" + String(pc, radix: 16)
                return (name, name, false)
            }
            full = String(cString: function)
            owner = StackTrimming.classify(function: full, module: file)
        } else {
            // A host older than ABI 1.1: "function + 0xoff (module)".
            let text = symbolize(pc)
            owner = StackTrimming.classify(text)
            full = FrameNames.functionPart(text)
        }
        return (full, displayName(full), owner == .runtime || owner == .glue)
    }
}
