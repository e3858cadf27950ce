// TraceSource.swift — what every reader of a trace format gives the commands and the report: one protocol,
// so `stat`, `dump`, `report`, `export`, `view` and `diff` never ask which format they read.
//
// Design note
// -----------
// Conformers: `.gtrace` files (`GtraceSource` in GoTraceAnalysis: the report's batch decoder and the checked
// `TraceReader` behind one type), Go 1.11–1.21 traces (`GoTraceReader`) and Go 1.22+ traces
// (`GoTraceReader122`, both through `GoTraceSource` in GoTraceGo). Format detection happens once, in the one
// opener (`TraceFile.open` in GoTraceAnalysis, the first module that sees every format: GoTrace cannot depend
// on GoTraceGo, which reads Go traces as GoTrace events). Rejected: a registry of formats filled at start-up —
// a global that every entry point would have to remember to fill, for three formats known at build time.
//
// A source is read one way, to its end:
//   1. event by event (`next`, `TraceEvent`s with string and stack definitions among them) — dump and stat; or
//   2. in batches (`nextBatch`) of the plugin ABI's `gotrace_event`, written in place by the decoder, so
//      that the report's hot loop copies no event twice; definitions go to a `TraceDefinitionSink` no later
//      than the batch whose events use them.
// Mixing the two on one source is a programming error. `kinds`, `expectedEvents` and `startWallNanoseconds`
// are known before the first event; `diagnostics`, `isComplete` and `eventsRead` describe what was read so far.

import CGoTracePlugin

/// Receives string and stack definitions as a batched source meets them.
public protocol TraceDefinitionSink: AnyObject {
    func defineString(_ id: UInt64, _ bytes: [UInt8])
    func defineStack(_ id: UInt64, _ programCounters: [UInt64])
}

/// A frame the trace names itself (Go's stack table), under the address its stacks use.
public struct TraceFrame: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var pc: UInt64
    public var function: String
    public var file: String
    public var line: Int

    public init(pc: UInt64, function: String, file: String, line: Int) {
        self.pc = pc
        self.function = function
        self.file = file
        self.line = line
    }

    /// "function (file:line)", as the dump and the analyzers show it.
    public var description: String { "\(function) (\(file):\(line))" }
}

/// One trace file, whatever its format (see the design note).
public protocol TraceSource: AnyObject {
    var fileName: String { get }
    var fileSize: UInt64 { get }
    /// What kind of trace this is, for messages ("Go trace").
    var formatName: String { get }
    /// Problems found so far, in the order found; a fatal one means nothing can be read.
    var diagnostics: [TraceDiagnostic] { get }
    /// Whether nothing worth a zero exit status was read (`gotrace`'s exit code 1). Read after the end.
    var isUnreadable: Bool { get }
    /// False when the trace was cut short or damaged.
    var isComplete: Bool { get }
    /// One line for a reader of a trace that ended early, when no diagnostic says so already; nil otherwise.
    var incompleteWarning: String? { get }
    /// Events produced so far.
    var eventsRead: UInt64 { get }
    /// Total events if the trace says (for progress); nil if it does not.
    var expectedEvents: UInt64? { get }
    /// Wall-clock time of the trace's time 0, nanoseconds since 1970; 0 when the trace does not say.
    var startWallNanoseconds: UInt64 { get }
    /// The kinds the trace may hold, by wire code (plugins resolve kinds by name before the first event).
    var kinds: KindCatalogue { get }
    /// Frames the trace names itself, by the addresses its stacks use; empty when stacks hold return addresses
    /// to be symbolized.
    var frames: [UInt64: TraceFrame] { get }

    /// A defined string (the empty string for id 0).
    func string(_ id: UInt64) -> String?
    /// The next event, definitions included; nil at the end.
    func next() -> TraceEvent?
    /// Fills `batch` from its start; returns how many events were written (0 at the end).
    func nextBatch(into batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: TraceDefinitionSink) -> Int
    /// Reads the source to its end with `next` and totals it for `gotrace stat`; with `reconciling`, also
    /// reconciles its event accounting (docs/reliability.md) — nil when the format keeps none to reconcile.
    func summarize(reconciling: Bool) -> (summary: TraceSummary, accounting: EventAccounting.Report?)
}

extension TraceSource {
    public var fatalDiagnostic: TraceDiagnostic? { diagnostics.first { $0.isFatal } }
    public var isUnreadable: Bool { fatalDiagnostic != nil }
    public var incompleteWarning: String? { nil }
    public var expectedEvents: UInt64? { nil }
    public var kinds: KindCatalogue { KindCatalogue() }
    public var frames: [UInt64: TraceFrame] { [:] }
}
