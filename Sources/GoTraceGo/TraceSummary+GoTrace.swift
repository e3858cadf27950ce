import GoTrace

extension TraceSummary {
    /// `gotrace stat` for a Go trace: counts are of the mapped gotrace events (definitions included, as for
    /// our own traces); "Ms" are the threads named by ProcStart; there are no chunks.
    public init(reading reader: any GoTraceSource) {
        self.init()
        var goroutines = Set<UInt64>()
        var machines = Set<UInt64>()
        var first: UInt64?
        var last: UInt64 = 0
        while let event = reader.next() {
            events += 1
            eventsByKind[event.spec.name, default: 0] += 1
            if let goroutine = event.goroutine, goroutine != 0 { goroutines.insert(goroutine) }
            if event.kind != .string && event.kind != .stack {
                machines.insert(event.machine)
                if first == nil { first = event.nanoseconds }
                last = event.nanoseconds
            }
        }
        self.goroutines = goroutines.count
        self.machines = machines.count
        durationNanoseconds = first.map { last >= $0 ? last - $0 : 0 } ?? 0
        fileBytes = reader.fileSize
        rawPayloadBytes = reader.fileSize
        complete = reader.isComplete
        clampedTimestamps = reader.outOfOrderTimestamps
        diagnostics = reader.diagnostics.map(\.description)
    }
}
