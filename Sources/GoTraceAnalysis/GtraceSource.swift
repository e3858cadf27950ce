// A `.gtrace` file as a `TraceSource`: the report's batch decoder and the checked reader behind one type.
//
// Design note
// -----------
// Two readers know the format. `TraceReader` (GoTrace) yields `TraceEvent`s, resynchronises over damage and
// reports it; `FastEventSource` (this module) decodes a clean file's chunks in runs straight into ABI
// events, its chunks loaded on a thread of its own (`ChunkPrefetcher`), at ten times the rate. This type
// picks between them once, by the first call that needs a reader:
//   1. `next`, `summarize`, `string`, and anything asked before a reader is chosen: the checked reader.
//   2. `nextBatch`, `kinds`, `expectedEvents` (what a batched read asks first): the fast decoder if the
//      index is clean (it declines anything irregular), else the checked reader, its events converted.
// Counters and diagnostics come from the chosen reader. Both read the one byte source the opener opened
// (`TraceFile.open`), so a file is opened once. The second decoding thread of a report
// (`PipelinedEventSource`) wraps any source and is the session's, not this type's.

import CGoTracePlugin
import GoTrace

public final class GtraceSource: TraceSource {
    public let fileName: String
    public var formatName: String { "gotrace trace" }
    /// nil when the file could not be opened; `checked` then holds the reason.
    private let bytes: (any TraceByteSource)?
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    /// Internal for tests: whether batches come from the fast decoder.
    @exclusivity(unchecked) private(set) var fast: FastEventSource?
    @exclusivity(unchecked) private var checkedReader: TraceReader?

    /// Reads the trace in `bytes` (opened by `TraceFile.open`); `fileName` names it in diagnostics.
    public init(bytes: any TraceByteSource, fileName: String) {
        self.fileName = fileName
        self.bytes = bytes
    }

    /// A file that could not be opened: `problem` is what the source reports.
    public init(fileName: String, openProblem problem: TraceDiagnostic.Problem) {
        self.fileName = fileName
        bytes = nil
        checkedReader = TraceReader(failed: TraceDiagnostic(fileName: fileName, offset: 0, problem: problem))
    }

    /// The checked reader, chosen now if no reader was (step 1 of the design note).
    private var checked: TraceReader {
        if let checkedReader { return checkedReader }
        // Safety of the unwrap: `bytes` is nil only when init set `checkedReader`.
        let made = TraceReader(source: bytes!, fileName: fileName)
        checkedReader = made
        return made
    }

    /// Chooses the batch reader if no reader was chosen yet (step 2 of the design note).
    private func chooseBatchReader() {
        guard fast == nil, checkedReader == nil, let bytes else { return }
        fast = FastEventSource(source: bytes, fileName: fileName)
    }

    public var fileSize: UInt64 { bytes?.size ?? 0 }
    public var diagnostics: [TraceDiagnostic] { fast?.diagnostics ?? checked.diagnostics }
    public var isComplete: Bool { fast?.isComplete ?? checked.isComplete }
    public var eventsRead: UInt64 { fast?.eventsRead ?? checked.eventsRead }

    public var startWallNanoseconds: UInt64 {
        UInt64(clamping: fast?.startWallNanoseconds ?? checked.header?.startWallTimeNanoseconds ?? 0)
    }

    /// Every event chunk damaged counts as nothing read.
    public var isUnreadable: Bool {
        fatalDiagnostic != nil || (checkedReader.map { $0.eventsRead == 0 && $0.corruptChunkCount > 0 } ?? false)
    }

    public var incompleteWarning: String? {
        fatalDiagnostic == nil && !isComplete ? "\(fileName): trace incomplete (no end chunk): the recording stopped early" : nil
    }

    public var kinds: KindCatalogue {
        chooseBatchReader()
        return fast?.kinds ?? checked.kinds
    }

    public var expectedEvents: UInt64? {
        chooseBatchReader()
        return fast?.expectedEvents ?? checked.endChunk?.events
    }

    public func string(_ id: UInt64) -> String? { checked.string(id) }

    public func next() -> TraceEvent? {
        assert(fast == nil, "a source is read one way (TraceSource): this one already gave batches")
        return checked.next()
    }

    public func summarize(reconciling: Bool) -> (summary: TraceSummary, accounting: EventAccounting.Report?) {
        let reader = checked
        guard reconciling else { return (TraceSummary(reading: reader), nil) }
        var checker = EventAccounting()
        let summary = TraceSummary(reading: reader) { checker.observe($0) }
        let accounting = checker.finish(
            complete: reader.isComplete, endChunk: reader.endChunk, eventsRead: reader.eventsRead,
            eventChunks: reader.eventChunkCount, droppedEvents: reader.droppedEvents,
            corruptChunks: reader.corruptChunkCount)
        return (summary, accounting)
    }

    public func nextBatch(into batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: TraceDefinitionSink) -> Int {
        chooseBatchReader()
        if let fast { return fast.fill(batch, definitions: definitions) }
        let reader = checked
        var count = 0
        while count < batch.count, let event = reader.next() {
            var converted = gotrace_event()
            converted.kind = event.kind.rawValue
            converted.time_ns = event.nanoseconds
            converted.machine = event.machine
            converted.proc = event.proc ?? DecodedEvent.none
            converted.goroutine = event.goroutine ?? DecodedEvent.none
            let arguments = event.arguments
            converted.argument_count = UInt8(min(arguments.count, Int(GOTRACE_MAX_EVENT_ARGUMENTS)))
            withUnsafeMutableBytes(of: &converted.arguments) { raw in
                let slots = raw.bindMemory(to: UInt64.self)
                for index in 0..<Int(converted.argument_count) { slots[index] = arguments[index].number ?? 0 }
            }
            if event.kind == .string || event.kind == .stack, arguments.count >= 2, case .number(let id) = arguments[0] {
                switch arguments[1] {
                case .bytes(let bytes): definitions.defineString(id, bytes)
                case .numbers(let pcs): definitions.defineStack(id, pcs)
                case .number: break
                }
            }
            batch[count] = converted
            count += 1
        }
        return count
    }
}
