// Where `gotrace report` gets its events from: a trace file, decoded into ABI-shaped batches.
//
// Design note
// -----------
// The analysis pass wants `gotrace_event` structs (plain values, no allocation per event) in batches,
// plus the definitions (strings, stacks, modules) recorded as they stream past so that look-ups later
// answer from host-owned memory. `TraceReaderEventSource` adapts `GoTrace.TraceReader` — the one reader
// that knows how to recover from damage — so every diagnostic the reader produces is kept.
//
// The file's kind table is read up front (it is the first chunk a writer emits; `KindCatalogue` in GoTrace)
// so that plugins can resolve kinds and arguments by name in `create`, before the first event.

import CGoTracePlugin
import GoTrace


/// Receives definitions as they stream past.
protocol DefinitionSink: AnyObject {
    func defineString(_ id: UInt64, _ bytes: [UInt8])
    func defineStack(_ id: UInt64, _ programCounters: [UInt64])
}

/// A source of events in time order.
protocol EventSource: AnyObject {
    /// Fills `batch` from the start; returns how many events were written (0 at the end).
    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int
    var eventsRead: UInt64 { get }
    /// Total events if the trace says (its end chunk), for progress.
    var expectedEvents: UInt64? { get }
}

final class TraceReaderEventSource: EventSource {
    let reader: TraceReader

    init(reader: TraceReader) { self.reader = reader }

    var eventsRead: UInt64 { reader.eventsRead }
    var expectedEvents: UInt64? { reader.endChunk?.events }

    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int {
        var count = 0
        while count < batch.count, let event = reader.next() {
            var converted = gotrace_event()
            converted.kind = event.kind.rawValue
            converted.time_ns = event.nanoseconds
            converted.machine = event.machine
            converted.proc = event.proc ?? noID
            converted.goroutine = event.goroutine ?? noID
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
