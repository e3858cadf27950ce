// The analyzer host's view of stacks through the one frame classifier (`StackTrimming`, `FrameNames`, in
// GoTraceShared, which the kit re-exports): what every built-in analyzer shows as a frame.

extension AnalyzerHost {
    /// The frames of stack `id` as a user reads them: the runtime's own frames trimmed (see `StackTrimming`).
    public func userFrames(ofStack id: UInt64, keepRuntimeEntry: Bool = true) -> [String] {
        StackTrimming.userFrames(frames(ofStack: id), keepRuntimeEntry: keepRuntimeEntry)
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
}
