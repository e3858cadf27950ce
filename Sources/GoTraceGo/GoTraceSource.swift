import CGoTracePlugin
import GoTrace

/// A Go execution trace as a `TraceSource`, whichever format the file has: Go 1.11–1.21's
/// (`GoTraceReader`) or the generation-based one of Go 1.22+ (`GoTraceReader122`); `TraceFile.open`
/// (GoTraceAnalysis) picks the reader from the header. The string and stack tables and the frames are
/// complete before the first event is asked for, so a batched read hands them all over with its first batch.
public protocol GoTraceSource: TraceSource {
    /// Go version × 1000 + minor of the header (1026 for `go 1.26 trace`); nil if the header was not read.
    var version: Int? { get }
    /// Strings by id, stacks by id (synthetic frame addresses, innermost first).
    var strings: [UInt64: [UInt8]] { get }
    var stacks: [UInt64: [UInt64]] { get }
    /// Events whose timestamps stepped back and were raised to the previous one.
    var outOfOrderTimestamps: UInt64 { get }

    /// The next mapped event, or nil at the end.
    func nextMapped() -> GoMappedEvent?
    /// Fills `buffer` from its start with the next mapped events; returns how many (0 at the end).
    func nextMapped(into buffer: UnsafeMutableBufferPointer<GoMappedEvent>) -> Int
}

extension GoTraceSource {
    public var formatName: String { "Go trace" }

    public func string(_ id: UInt64) -> String? { id == 0 ? "" : strings[id].map { String(decoding: $0, as: UTF8.self) } }

    /// Counts are of the mapped gotrace events (definitions included, as for gotrace's own traces); "Ms" are
    /// the threads named by ProcStart; there are no chunks, and no accounting to reconcile.
    public func summarize(reconciling: Bool) -> (summary: TraceSummary, accounting: EventAccounting.Report?) {
        var summary = TraceSummary(counting: next, timingDefinitions: false)
        summary.fileBytes = fileSize
        summary.rawPayloadBytes = fileSize
        summary.complete = isComplete
        summary.clampedTimestamps = outOfOrderTimestamps
        summary.diagnostics = diagnostics.map(\.description)
        return (summary, nil)
    }
}

/// The `TraceSource` reads of both readers, one per reader. `next`, for dump and stat: the string and stack
/// tables first (at time 0, ids sorted), then each mapped event as a `TraceEvent`. `nextBatch`, for the
/// report: the tables to the sink with the first batch, then the mapped events as ABI events, through a
/// buffer kept from batch to batch rather than allocated per batch (4,096 mapped events are 320 KiB).
final class GoTraceEventView {
    private var definitions: [TraceEvent]?
    private var index = 0
    // Exclusivity: never accessed re-entrantly; see the readers' note (docs/performance.md).
    @exclusivity(unchecked) private var mapped = UnsafeMutableBufferPointer<GoMappedEvent>(start: nil, count: 0)

    deinit { mapped.deallocate() }

    func next(from source: some GoTraceSource) -> TraceEvent? {
        if definitions == nil { definitions = GoTraceEventView.definitions(of: source) }
        if let definitions, index < definitions.count {
            index += 1
            return definitions[index - 1]
        }
        guard let mapped = source.nextMapped(), let spec = mapped.kind.spec else { return nil }
        let values = withUnsafeBytes(of: mapped.arguments) { raw in
            (0..<Swift.min(mapped.argumentCount, 4)).map { TraceValue.number(raw.load(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
        return TraceEvent(spec: spec, ticks: 0, nanoseconds: mapped.nanoseconds, machine: mapped.machine,
                          proc: mapped.proc == UInt64.max ? nil : mapped.proc,
                          goroutine: mapped.goroutine == UInt64.max ? nil : mapped.goroutine, arguments: values)
    }

    func nextBatch(from source: some GoTraceSource, into batch: UnsafeMutableBufferPointer<gotrace_event>,
                   definitions: TraceDefinitionSink) -> Int {
        if source.eventsRead == 0 {
            for (id, text) in source.strings { definitions.defineString(id, text) }
            for (id, pcs) in source.stacks { definitions.defineStack(id, pcs) }
        }
        // Safety: `mapped` holds at least `batch.count` events and is freed in deinit; one thread reads a source.
        if mapped.count < batch.count {
            mapped.deallocate()
            mapped = UnsafeMutableBufferPointer<GoMappedEvent>.allocate(capacity: batch.count)
        }
        let produced = source.nextMapped(into: UnsafeMutableBufferPointer(rebasing: mapped[0..<batch.count]))
        for index in 0..<produced {
            let event = mapped[index]
            var converted = gotrace_event()
            converted.kind = event.kind.rawValue
            converted.time_ns = event.nanoseconds
            converted.machine = event.machine
            converted.proc = event.proc
            converted.goroutine = event.goroutine
            converted.argument_count = UInt8(min(event.argumentCount, 4))
            converted.arguments = (event.arguments.0, event.arguments.1, event.arguments.2, event.arguments.3, 0, 0)
            batch[index] = converted
        }
        return produced
    }

    private static func definitions(of source: some GoTraceSource) -> [TraceEvent] {
        guard source.fatalDiagnostic == nil, let stringSpec = EventKind.string.spec, let stackSpec = EventKind.stack.spec else { return [] }
        func made(_ spec: EventKindSpec, _ arguments: [TraceValue]) -> TraceEvent {
            TraceEvent(spec: spec, ticks: 0, nanoseconds: 0, machine: 0, proc: nil, goroutine: nil,
                       arguments: arguments)
        }
        return source.strings.sorted { $0.key < $1.key }.map { made(stringSpec, [.number($0.key), .bytes($0.value)]) }
            + source.stacks.sorted { $0.key < $1.key }.map { made(stackSpec, [.number($0.key), .numbers($0.value)]) }
    }
}

/// The problems a Go reader found, in order; `fatal` the one that stopped it reading anything.
struct GoTraceProblems {
    let fileName: String
    private(set) var diagnostics: [TraceDiagnostic] = []
    private(set) var fatal: TraceDiagnostic?

    // Cold, and never inlined: building a diagnostic stays out of the readers' per-event loops.
    @inline(never)
    mutating func report(_ offset: Int, _ what: String) {
        diagnostics.append(TraceDiagnostic(fileName: fileName, offset: UInt64(clamping: offset), problem: .damaged(what)))
    }

    @inline(never)
    mutating func fail(_ offset: Int, _ what: String) {
        let diagnostic = TraceDiagnostic(fileName: fileName, offset: UInt64(clamping: offset), problem: .unreadable(what))
        diagnostics.append(diagnostic)
        fatal = diagnostic
    }
}

extension GoTraceHeader {
    enum Check {
        case version(Int)
        /// Where (the header's start, or its version digits) and what.
        case problem(offset: Int, String)
    }

    /// Whether a reader of the generation-based format (`generational`) or of the first one reads `head`.
    static func check(_ head: [UInt8], generational: Bool) -> Check {
        switch classify(head) {
        case .notGo:
            return .problem(offset: 0, "not a Go execution trace (bad header)")
        case .unsupported(let version):
            return .problem(offset: 5, "unsupported Go trace version \(spell(version)): this build reads \(supportedRange)")
        case .supported(let version) where isGenerational(version) != generational:
            return .problem(offset: 5, generational
                ? "Go trace version \(spell(version)) predates Go 1.22's format: GoTraceReader reads it"
                : "Go trace version \(spell(version)) has the Go 1.22 format: GoTraceReader122 reads it (TraceFile.open chooses)")
        case .supported(let version):
            return .version(version)
        }
    }
}

extension GoTraceReader: GoTraceSource, GoPendingSource {
    /// Go 1.11–1.21 traces have no clock snapshot.
    public var startWallNanoseconds: UInt64 { 0 }
}
extension GoTraceReader122: GoTraceSource, GoPendingSource {}
