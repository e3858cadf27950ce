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

/// An analysis that `gotrace report` streams a trace through.
public protocol Analyzer: AnyObject {
    /// Short unique name, used with `--analyzer`.
    static var name: String { get }
    static var version: String { get }
    /// One line for `gotrace plugins`.
    static var summary: String { get }
    static var options: [AnalyzerOption] { get }

    /// Called once per report, before any event.
    init(host: AnalyzerHost) throws(AnalyzerError)
    /// Called for each batch of events, in time order. The batch's memory is valid during the call only.
    func consume(_ batch: EventBatch) throws(AnalyzerError)
    /// End of trace: write the results through `host`.
    func finish() throws(AnalyzerError)
}

extension Analyzer {
    public static var options: [AnalyzerOption] { [] }
}

/// An option the analyzer reads with `host.option(key)`; listed by `gotrace plugins`.
public struct AnalyzerOption: Sendable {
    public var key: String
    public var help: String
    public var defaultValue: String?

    public init(_ key: String, help: String, default defaultValue: String? = nil) {
        self.key = key
        self.help = help
        self.defaultValue = defaultValue
    }
}

/// A failure with its causes: `messages[0]` is the outermost context, the last one the root cause.
public struct AnalyzerError: Error, CustomStringConvertible {
    public var status: gotrace_status
    public var messages: [String]

    public init(_ message: String, status: gotrace_status = gotrace_status(GOTRACE_ERROR_INTERNAL)) {
        self.status = status
        self.messages = [message]
    }

    /// Wraps `cause` in an outer context.
    public init(_ message: String, causedBy cause: AnalyzerError) {
        status = cause.status
        messages = [message] + cause.messages
    }

    public var description: String { messages.joined(separator: ": ") }

    public static func invalidArgument(_ message: String) -> AnalyzerError {
        AnalyzerError(message, status: gotrace_status(GOTRACE_ERROR_INVALID_ARGUMENT))
    }
}

/// One batch of events and the goroutine transitions derived from them.
public struct EventBatch {
    public let events: UnsafeBufferPointer<gotrace_event>
    public let transitions: UnsafeBufferPointer<gotrace_transition>
}

/// Goroutine states, as in gotrace_plugin.h.
public enum GoroutineState: UInt8, Sendable {
    case unknown = 0, runnable, running, waiting, syscall, dead
}

/// Park reasons (the trace format's wire codes) with their JSON spellings.
public enum ParkReasonName {
    static let names = [
        "chan-receive", "chan-send", "select", "mutex", "rwmutex", "waitgroup", "cond", "sleep", "io", "syscall",
        "yield", "preempted", "other",
    ]

    public static func name(_ code: UInt8) -> String {
        Int(code) < names.count ? names[Int(code)] : "reason-\(code)"
    }

    public static let chanReceive: UInt8 = 0
    public static let mutex: UInt8 = 3
    public static let rwmutex: UInt8 = 4
    public static let sleep: UInt8 = 7
}

/// Event kind wire codes of trace format v1 that analyzers commonly switch on.
public enum KindCode {
    public static let spawn: UInt8 = 16
    public static let start: UInt8 = 17
    public static let park: UInt8 = 18
    public static let unpark: UInt8 = 19
    public static let end: UInt8 = 20
    public static let preempt: UInt8 = 22
    public static let syscallEnter: UInt8 = 27
    public static let syscallExit: UInt8 = 28
}
