/// Totals over a whole trace, as `gotrace stat` reports them. Reads the trace to the end.
public struct TraceSummary: Sendable, Equatable {
    /// Event counts keyed by kind name (`"park"`, `"stack-grow"`, …); kinds that did not occur are absent.
    public var eventsByKind: [String: UInt64] = [:]
    public var events: UInt64 = 0
    /// Distinct goroutines that events concern.
    public var goroutines: Int = 0
    /// Distinct Ms with at least one event chunk.
    public var machines: Int = 0
    /// Nanoseconds from the first to the last event.
    public var durationNanoseconds: UInt64 = 0
    public var fileBytes: UInt64 = 0
    /// Raw (uncompressed) payload bytes of the event chunks.
    public var rawPayloadBytes: UInt64 = 0
    public var eventChunks: Int = 0
    public var complete = false
    public var corruptChunksSkipped = 0
    public var droppedEvents: UInt64 = 0
    public var clampedTimestamps: UInt64 = 0
    public var diagnostics: [String] = []
    /// The program's arguments, when the trace was recorded with `--record-args`.
    public var commandLine: [String]?
    /// The signal that ended the program, when the runtime flushed the trace on it (end chunk); nil otherwise.
    public var endSignal: UInt64?

    /// File bytes per event (what a trace costs on disk); 0 without events.
    public var fileBytesPerEvent: Double { events == 0 ? 0 : Double(fileBytes) / Double(events) }
    /// Raw payload bytes per event (what it costs the traced program's buffers and pipe).
    public var rawBytesPerEvent: Double { events == 0 ? 0 : Double(rawPayloadBytes) / Double(events) }

    public init() {}

    /// Counts the events `next` yields, to its end, calling `eachEvent` for each. String and stack definitions
    /// count towards the Ms and the duration only with `timingDefinitions` (a Go trace's carry no M or time).
    public init(counting next: () -> TraceEvent?, timingDefinitions: Bool, eachEvent: (TraceEvent) -> Void = { _ in }) {
        var goroutines = Set<UInt64>()
        var machines = Set<UInt64>()
        var first: UInt64?
        var last: UInt64 = 0
        while let event = next() {
            eachEvent(event)
            events += 1
            eventsByKind[event.spec.name, default: 0] += 1
            if let goroutine = event.goroutine, goroutine != 0 { goroutines.insert(goroutine) }
            guard timingDefinitions || (event.kind != .string && event.kind != .stack) else { continue }
            machines.insert(event.machine)
            if first == nil { first = event.nanoseconds }
            last = event.nanoseconds
        }
        self.goroutines = goroutines.count
        self.machines = machines.count
        durationNanoseconds = first.map { last >= $0 ? last - $0 : 0 } ?? 0
    }

    /// Reads `reader` to its end, calling `eachEvent` for every event, and summarises it.
    public init(reading reader: TraceReader, eachEvent: (TraceEvent) -> Void = { _ in }) {
        self.init(counting: reader.next, timingDefinitions: true, eachEvent: eachEvent)
        fileBytes = reader.fileSize
        rawPayloadBytes = reader.rawPayloadBytes
        eventChunks = reader.eventChunkCount
        complete = reader.isComplete
        corruptChunksSkipped = reader.corruptChunkCount
        droppedEvents = reader.droppedEvents
        clampedTimestamps = reader.clampedTimestamps
        diagnostics = reader.diagnostics.map(\.description)
        commandLine = reader.commandLine
        endSignal = reader.endChunk.flatMap { $0.endSignal == 0 ? nil : $0.endSignal }
    }
}
