// Go execution traces as an event source for `gotrace report`: GoTraceGo's readers (either format), batched
// into ABI events.
//
// The reader's string and stack tables are complete before the first event (Go writes the stack table at
// the end of the trace; the reader scans the whole file first), so they are handed to the definition sink
// with the first batch. Frames are already named by the trace: the session gives them to the definition
// table (`DefinitionTable.adoptKnownFrames`), so look-ups answer from Go's own function, file and line and
// never go through ELF.

import CGoTracePlugin
import GoTrace
import GoTraceGo

final class GoTraceEventSource: EventSource {
    let reader: any GoTraceSource
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var definedTables = false

    @exclusivity(unchecked) private var mapped = UnsafeMutableBufferPointer<GoMappedEvent>(start: nil, count: 0)

    init(reader: any GoTraceSource) { self.reader = reader }

    deinit { mapped.deallocate() }

    var eventsRead: UInt64 { reader.eventsRead }
    var expectedEvents: UInt64? { nil }

    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int {
        if !definedTables {
            definedTables = true
            for (id, text) in reader.strings { definitions.defineString(id, text) }
            for (id, pcs) in reader.stacks { definitions.defineStack(id, pcs) }
        }
        // Safety: `mapped` is allocated for `batch.count` events and freed in deinit; one thread (the producer).
        if mapped.count < batch.count {
            mapped.deallocate()
            mapped = UnsafeMutableBufferPointer<GoMappedEvent>.allocate(capacity: batch.count)
        }
        let produced = reader.nextMapped(into: UnsafeMutableBufferPointer(rebasing: mapped[0..<batch.count]))
        var count = 0
        while count < produced {
            let event = mapped[count]
            var converted = gotrace_event()
            converted.kind = event.kind.rawValue
            converted.time_ns = event.nanoseconds
            converted.machine = event.machine
            converted.proc = event.proc
            converted.goroutine = event.goroutine
            converted.argument_count = UInt8(min(event.argumentCount, 4))
            withUnsafeMutableBytes(of: &converted.arguments) { raw in
                raw.storeBytes(of: event.arguments.0, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: event.arguments.1, toByteOffset: 8, as: UInt64.self)
                raw.storeBytes(of: event.arguments.2, toByteOffset: 16, as: UInt64.self)
                raw.storeBytes(of: event.arguments.3, toByteOffset: 24, as: UInt64.self)
            }
            batch[count] = converted
            count += 1
        }
        return count
    }
}
