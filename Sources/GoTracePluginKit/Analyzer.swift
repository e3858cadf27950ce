// What a Swift plugin author writes against.
//
// Design note
// -----------
// A Swift analyzer is a class conforming to `Analyzer`, plus one export line:
//
//     @_cdecl("gotrace_plugin_v1")
//     public func gotracePluginEntry() -> UnsafeRawPointer { PluginExport.descriptor(for: MyAnalyzer.self) }
//
// The crossing itself stays C (gotrace_plugin.h): `PluginExport` fills a C descriptor whose function
// pointers are non-generic `@convention(c)` thunks; the concrete type travels in the descriptor's
// `context` as a retained factory box and, per instance, as a retained `AnalyzerBox`.
//
// Rejected: sharing a Swift protocol between host and plugin. Linked statically into both, the protocol
// exists twice and `as?` casts across the boundary fail; a `--static-swift-stdlib` host could not load a
// Swift plugin at all. The host therefore never sees a Swift type of the plugin — this module is linked
// into each plugin only, and two plugins each carrying their own copy never exchange its types.
//
// Errors: `AnalyzerError` carries a status code and a chain of messages (outermost first). The thunks
// catch it and hand the chain to the host with `api.fail`, innermost first, as the ABI asks; nothing
// unwinds across the boundary.

@_exported import CGoTracePlugin
@_exported import GoTraceShared

/// An analysis that `gotrace report` streams a trace through.
public protocol Analyzer: AnyObject {
    /// Short unique name, used with `--analyzer`.
    static var name: String { get }
    /// The analyzer's own version, e.g. `1.0.0`, shown by `gotrace plugins`.
    static var version: String { get }
    /// One line for `gotrace plugins`.
    static var summary: String { get }
    /// The options the analyzer reads with ``AnalyzerHost/option(_:)``, listed by `gotrace plugins`.
    /// Empty unless the conforming type says otherwise.
    static var options: [AnalyzerOption] { get }

    /// Called once per report, before any event.
    ///
    /// - Parameter host: The report's host; keep it to look things up and to write results. It stays
    ///   valid until the analyzer is released.
    /// - Throws: An ``AnalyzerError`` to fail the report (an invalid option value, for instance).
    init(host: AnalyzerHost) throws(AnalyzerError)
    /// Called for each batch of events, in time order. The batch's memory is valid during the call only:
    /// copy what you keep.
    ///
    /// - Parameter batch: The next events and the goroutine transitions the host derived from them.
    /// - Throws: An ``AnalyzerError`` to stop the report; no further batch is delivered.
    func consume(_ batch: EventBatch) throws(AnalyzerError)
    /// End of trace: write the results through the host (``AnalyzerHost/writeText(_:)`` or
    /// ``AnalyzerHost/writeJSON(_:)``, as ``AnalyzerHost/wantsJSON`` says; files with
    /// ``AnalyzerHost/writeFile(_:_:)``).
    ///
    /// - Throws: An ``AnalyzerError`` to fail the report, typically one a host write threw.
    func finish() throws(AnalyzerError)
}

extension Analyzer {
    /// No options.
    public static var options: [AnalyzerOption] { [] }
}

/// An option the analyzer reads with `host.option(key)`; listed by `gotrace plugins`.
public struct AnalyzerOption: Sendable {
    /// The key, e.g. `top`; a user sets it with `--option NAME.KEY=VALUE` (NAME the analyzer's name).
    public var key: String
    /// One line saying what the option does.
    public var help: String
    /// The value the analyzer uses when the option is not given, as shown by `gotrace plugins`; nil if none.
    /// The host does not apply it: ``AnalyzerHost/option(_:)`` returns nil for an option not given.
    public var defaultValue: String?

    /// An option for ``Analyzer/options``.
    ///
    /// - Parameters:
    ///   - key: The key, without the analyzer's name.
    ///   - help: One line saying what the option does.
    ///   - defaultValue: The value used when the option is not given, for `gotrace plugins` to show.
    public init(_ key: String, help: String, default defaultValue: String? = nil) {
        self.key = key
        self.help = help
        self.defaultValue = defaultValue
    }
}

/// A failure with its causes: `messages[0]` is the outermost context, the last one the root cause.
public struct AnalyzerError: Error, CustomStringConvertible {
    /// The ABI status code the failure is reported with (`GOTRACE_ERROR_INTERNAL`, …).
    public var status: gotrace_status
    /// The chain of messages, outermost context first, root cause last. The CLI prints the first as
    /// `error: …` and each of the others as `caused by: …`.
    public var messages: [String]

    /// A failure with one message.
    ///
    /// - Parameters:
    ///   - message: What went wrong.
    ///   - status: The status code to report; an internal error unless given.
    public init(_ message: String, status: gotrace_status = gotrace_status(GOTRACE_ERROR_INTERNAL)) {
        self.status = status
        self.messages = [message]
    }

    /// Wraps `cause` in an outer context, keeping its status.
    ///
    /// - Parameters:
    ///   - message: What was being done, e.g. `cannot write latency.svg`.
    ///   - cause: The failure that made it fail.
    public init(_ message: String, causedBy cause: AnalyzerError) {
        status = cause.status
        messages = [message] + cause.messages
    }

    /// The messages joined with `: `, outermost first.
    public var description: String { messages.joined(separator: ": ") }

    /// A failure with the invalid-argument status, for a bad option value or input.
    ///
    /// - Parameter message: What was wrong with it.
    /// - Returns: The error, ready to throw.
    public static func invalidArgument(_ message: String) -> AnalyzerError {
        AnalyzerError(message, status: gotrace_status(GOTRACE_ERROR_INVALID_ARGUMENT))
    }
}

/// One batch of events and the goroutine transitions derived from them.
public struct EventBatch {
    /// The events, in time order. `kind` is a wire code (see `KindCode`, ``AnalyzerHost/kindCode(named:)``).
    public let events: UnsafeBufferPointer<gotrace_event>
    /// The goroutine state changes the host derived from `events`, each naming its event by `event_index`.
    public let transitions: UnsafeBufferPointer<gotrace_transition>
    /// One per transition: the stack the goroutine entered the state it leaves with — where it parked, when
    /// it leaves `waiting`; its system call's stack, when it leaves `syscall`; 0 otherwise. Empty from a host
    /// older than ABI 1.2.
    public let fromStacks: UnsafeBufferPointer<UInt64>

    /// A batch (the kit makes them from the host's; tests of an analyzer may make their own).
    ///
    /// - Parameters:
    ///   - events: The events, in time order.
    ///   - transitions: The transitions derived from them.
    ///   - fromStacks: One stack per transition (see ``fromStacks``), or empty.
    public init(events: UnsafeBufferPointer<gotrace_event>, transitions: UnsafeBufferPointer<gotrace_transition>,
                fromStacks: UnsafeBufferPointer<UInt64>) {
        self.events = events
        self.transitions = transitions
        self.fromStacks = fromStacks
    }

    /// The stack transition `index` leaves its state with (see ``fromStacks``); 0 from a host older than ABI 1.2.
    @inline(__always)
    public func fromStack(ofTransition index: Int) -> UInt64 { index < fromStacks.count ? fromStacks[index] : 0 }
}

extension gotrace_event {
    /// Argument `index` (as ``AnalyzerHost/argumentIndex(kind:named:)`` numbers them), or 0 if the event has
    /// fewer arguments.
    @inlinable
    public func argument(_ index: Int) -> UInt64 {
        guard index < Int(argument_count) else { return 0 }
        return withUnsafeBytes(of: arguments) { $0.load(fromByteOffset: index * 8, as: UInt64.self) }
    }
}

/// Goroutine states, as in gotrace_plugin.h.
public enum GoroutineState: UInt8, Sendable {
    /// Before the goroutine's first event.
    case unknown = 0
    /// Spawned, woken or preempted, and waiting for a processor.
    case runnable
    /// Running on a processor.
    case running
    /// Parked; the transition's or the goroutine's `reason` says on what.
    case waiting
    /// In a blocking system call.
    case syscall
    /// Ended.
    case dead
}
