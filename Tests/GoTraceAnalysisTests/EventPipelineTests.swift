import CGoTracePlugin
import Foundation
import GoTrace
import GotraceTestSupport
import Testing
@testable import GoTraceAnalysis

/// A trace spread over several Ms, built here so that every event's place in the merged order and every
/// chunk's offset, base ticks and payload are known without reading the file back: M `m`'s event `k` happens
/// at `k × machines × 10 + m` ns (distinct over all Ms, so the merged order is the order of times), and the
/// chunks of the Ms interleave in the file (chunk 0 of every M, then chunk 1, …) and overlap in time.
struct MultiMachineTrace {
    struct Event: Equatable, CustomStringConvertible {
        var time: UInt64
        var machine: UInt64
        var kind: UInt8
        var arguments: [UInt64]
        var description: String { "\(time)@M\(machine) kind \(kind) \(arguments)" }
    }

    struct Chunk {
        var machine: UInt64
        var sequence: UInt64
        var offset: Int
        var size: Int
        var baseTicks: UInt64
        var payload: [UInt8]
        var events: [Event]
    }

    var bytes: [UInt8] = []
    /// Every event, in merged (time) order.
    var events: [Event] = []
    /// In file order.
    var chunks: [Chunk] = []
    /// The text of each string definition, by id.
    var strings: [UInt64: [UInt8]] = [:]

    /// Every fourth event of an M defines a string; the others start, park and wake goroutine 100m + k % 3.
    init(machines: Int, eventsPerMachine: Int, eventsPerChunk: Int) {
        var perMachine: [[Chunk]] = []
        for m in 1...UInt64(machines) {
            var machineChunks: [Chunk] = []
            var last: UInt64 = 0
            for first in stride(from: 0, to: eventsPerMachine, by: eventsPerChunk) {
                var chunk = Chunk(machine: m, sequence: UInt64(machineChunks.count), offset: 0, size: 0, baseTicks: last,
                                  payload: [], events: [])
                // Goroutine arguments are deltas from the chunk's previous one, from 0 (docs/trace-format.md §5.1).
                var previousGoroutine: UInt64 = 0
                for k in first..<min(first + eventsPerChunk, eventsPerMachine) {
                    let time = UInt64(k) * UInt64(machines) * 10 + m
                    let goroutine = 100 * m + UInt64(k % 3)
                    chunk.payload.append(0)  // the kind, set below
                    let kindIndex = chunk.payload.count - 1
                    appendVarint(time - last, to: &chunk.payload)
                    last = time
                    let event: Event
                    switch k % 4 {
                    case 0: event = Event(time: time, machine: m, kind: EventKind.start.rawValue, arguments: [goroutine])
                    case 1: event = Event(time: time, machine: m, kind: EventKind.park.rawValue, arguments: [goroutine, 0, 0])
                    case 2: event = Event(time: time, machine: m, kind: EventKind.unpark.rawValue, arguments: [goroutine, 0, 0])
                    default:
                        let id = m * 1_000_000 + UInt64(k)
                        let text = Array("M\(m) event \(k)".utf8)
                        strings[id] = text
                        // Byte-string arguments are carried as 0 (gotrace_plugin.h).
                        event = Event(time: time, machine: m, kind: EventKind.string.rawValue, arguments: [id, 0])
                        chunk.payload[kindIndex] = event.kind
                        appendVarint(id, to: &chunk.payload)
                        appendVarint(UInt64(text.count), to: &chunk.payload)
                        chunk.payload += text
                        chunk.events.append(event)
                        continue
                    }
                    chunk.payload[kindIndex] = event.kind
                    // start, park and unpark: their goroutine, and unpark's waker (argument 1).
                    let goroutines = event.kind == EventKind.unpark.rawValue ? 2 : 1
                    for (index, argument) in event.arguments.enumerated() {
                        let isGoroutine = index < goroutines
                        let wire = isGoroutine ? GoroutineDelta.encode(argument, previous: &previousGoroutine) : argument
                        appendVarint(wire, to: &chunk.payload)
                    }
                    chunk.events.append(event)
                }
                machineChunks.append(chunk)
            }
            perMachine.append(machineChunks)
        }
        bytes = FileHeader(ticksPerSecond: 1_000_000_000, startTicks: 0, startWallTimeNanoseconds: 0).encoded()
            + KindTableCodec.chunk(for: EventKindSpec.builtIn)
        for round in 0..<(perMachine.map(\.count).max() ?? 0) {
            for machineChunks in perMachine where round < machineChunks.count {
                var chunk = machineChunks[round]
                let header = ChunkHeader(
                    type: .events, machine: chunk.machine, sequence: chunk.sequence, baseTicks: chunk.baseTicks,
                    startTicks: chunk.events.first!.time, endTicks: chunk.events.last!.time,
                    eventCount: UInt32(chunk.events.count), rawPayloadSize: UInt32(chunk.payload.count),
                    storedPayloadSize: UInt32(chunk.payload.count), payloadCRC: crc32(of: chunk.payload[...]))
                chunk.offset = bytes.count
                bytes += header.encoded() + chunk.payload
                chunk.size = bytes.count - chunk.offset
                chunks.append(chunk)
            }
        }
        events = chunks.flatMap(\.events).sorted { $0.time < $1.time }
        bytes += EndChunk(events: UInt64(events.count), chunks: UInt64(chunks.count), droppedEvents: 0,
                          endWallTimeNanoseconds: 0).encoded()
    }

    /// Flips one payload byte of chunk `index` (file order), so that its CRC fails; its header stays intact.
    mutating func damagePayload(ofChunk index: Int) {
        let chunk = chunks[index]
        bytes[chunk.offset + chunk.size - 1] ^= 0xFF
    }

    func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("multi-m-\(UUID().uuidString).gtrace").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Records definitions as a session's table would, in order.
final class RecordingDefinitions: TraceDefinitionSink {
    var strings: [(UInt64, [UInt8])] = []
    var stacks: [(UInt64, [UInt64])] = []
    func defineString(_ id: UInt64, _ bytes: [UInt8]) { strings.append((id, bytes)) }
    func defineStack(_ id: UInt64, _ programCounters: [UInt64]) { stacks.append((id, programCounters)) }
}

private func argumentValues(of event: gotrace_event) -> [UInt64] {
    withUnsafeBytes(of: event.arguments) { Array($0.bindMemory(to: UInt64.self).prefix(Int(event.argument_count))) }
}

private func known(_ event: gotrace_event) -> MultiMachineTrace.Event {
    MultiMachineTrace.Event(time: event.time_ns, machine: event.machine, kind: event.kind, arguments: argumentValues(of: event))
}

/// Every field a plugin sees, for comparing two sources event by event.
private struct EventFields: Equatable {
    var kind: UInt8
    var time: UInt64
    var machine: UInt64
    var proc: UInt64
    var goroutine: UInt64
    var arguments: [UInt64]
    init(_ event: gotrace_event) {
        kind = event.kind
        time = event.time_ns
        machine = event.machine
        proc = event.proc
        goroutine = event.goroutine
        arguments = argumentValues(of: event)
    }
}

/// The `.gtrace` source of `path`, its batches from the fast decoder (required) or, with `checked`, from the
/// checked reader (asking for diagnostics before anything else chooses it, GtraceSource's rule 1).
func gtraceSource(_ path: String, checked: Bool = false) throws -> GtraceSource {
    let source = try #require(TraceFile.open(path: path) as? GtraceSource)
    if checked {
        _ = source.diagnostics
    } else {
        _ = source.kinds
        try #require(source.fast != nil, "the fast decoder declined \(path)")
    }
    return source
}

/// Drains `source` serially in batches of `batchSize`.
private func drain(_ source: any TraceSource, batchSize: Int, definitions: TraceDefinitionSink = RecordingDefinitions())
    -> [gotrace_event] {
    let batch = UnsafeMutableBufferPointer<gotrace_event>.allocate(capacity: batchSize)
    defer { batch.deallocate() }
    var events: [gotrace_event] = []
    while true {
        let count = source.nextBatch(into: batch, definitions: definitions)
        if count == 0 { return events }
        events += batch.prefix(count)
    }
}

/// Drains `pipeline` (started here, stopped at the end), checking after each batch that exactly the string
/// definitions of the events delivered so far have been applied. Returns the events and how many batches
/// broke that rule.
private func drain(_ pipeline: PipelinedEventSource) -> (events: [gotrace_event], definitionsOutOfStep: Int) {
    let definitions = RecordingDefinitions()
    var events: [gotrace_event] = []
    var outOfStep = 0
    var definedSoFar: [UInt64] = []
    #expect(pipeline.start())
    var previous = false
    while true {
        let batch = pipeline.next(definitions: definitions, returning: previous)
        previous = true
        if batch.isEmpty { break }
        events += batch
        definedSoFar += batch.filter { $0.kind == EventKind.string.rawValue }.map { $0.arguments.0 }
        if definitions.strings.map(\.0) != definedSoFar { outOfStep += 1 }
    }
    pipeline.stop()
    return (events, outOfStep)
}

@Suite struct PipelinedEventSourceTests {
    @Test("every event exactly once, in merged order, with definitions applied with their batch", arguments: [1, 3, 64, 4096])
    func deliversTheMergedTrace(batchSize: Int) throws {
        let trace = MultiMachineTrace(machines: 5, eventsPerMachine: 1_500, eventsPerChunk: 37)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fast = try gtraceSource(path)
        let (events, outOfStep) = drain(PipelinedEventSource(source: fast, batchSize: batchSize))
        #expect(events.count == trace.events.count)
        #expect(events.map(known) == trace.events)
        #expect(outOfStep == 0, "batches whose definitions were not exactly those of the events so far")
        #expect(fast.eventsRead == UInt64(trace.events.count))
        #expect(fast.diagnostics.isEmpty)

        // The same events, field for field, as TraceReader (the reference reader) gives them.
        let serial = drain(try gtraceSource(path, checked: true), batchSize: 100)
        #expect(events.map(EventFields.init) == serial.map(EventFields.init))
    }

    @Test("a damaged chunk: the pipeline delivers what the serial source does, and its diagnostic")
    func damageIsReportedAsSerially() throws {
        var trace = MultiMachineTrace(machines: 3, eventsPerMachine: 400, eventsPerChunk: 50)
        let damaged = 7
        trace.damagePayload(ofChunk: damaged)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }

        let piped = try gtraceSource(path)
        let (events, _) = drain(PipelinedEventSource(source: piped, batchSize: 16))
        let serialSource = try gtraceSource(path)
        let serial = drain(serialSource, batchSize: 16)

        let lost = trace.chunks[damaged].events
        #expect(events.map(known) == trace.events.filter { !lost.contains($0) })
        #expect(events.map(EventFields.init) == serial.map(EventFields.init))
        #expect(piped.diagnostics == serialSource.diagnostics)
        // A flipped payload byte fails the payload's CRC; the checked reader says the same, word for word.
        #expect(piped.diagnostics.map(\.description)
                == ["\(path): offset \(trace.chunks[damaged].offset): corrupt chunk skipped (payload checksum mismatch)"])
        let checked = TraceReader(path: path)
        while checked.next() != nil {}
        #expect(checked.diagnostics == piped.diagnostics)
    }

    /// Events 0, 1, 2, … (time = index), without end unless `count` is given; a string definition with
    /// every tenth. Counts its `nextBatch` calls (read after the producer is joined).
    final class CountingSource: TraceSource {
        let count: Int?
        var nextIndex = 0
        var fills = 0
        init(count: Int?) { self.count = count }
        let fileName = "counting"
        let fileSize: UInt64 = 0
        let formatName = "counting"
        let diagnostics: [TraceDiagnostic] = []
        let isComplete = true
        let startWallNanoseconds: UInt64 = 0
        var eventsRead: UInt64 { UInt64(nextIndex) }
        var expectedEvents: UInt64? { count.map(UInt64.init) }
        func string(_ id: UInt64) -> String? { nil }
        func next() -> TraceEvent? { nil }
        func summarize(reconciling: Bool) -> (summary: TraceSummary, accounting: EventAccounting.Report?) { (TraceSummary(), nil) }
        func nextBatch(into batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: TraceDefinitionSink) -> Int {
            fills += 1
            var written = 0
            while written < batch.count, nextIndex < count ?? Int.max {
                var event = gotrace_event()
                event.kind = nextIndex % 10 == 0 ? EventKind.string.rawValue : EventKind.start.rawValue
                event.time_ns = UInt64(nextIndex)
                event.arguments.0 = UInt64(nextIndex)
                event.argument_count = 1
                if nextIndex % 10 == 0 { definitions.defineString(UInt64(nextIndex), Array("s\(nextIndex)".utf8)) }
                batch[written] = event
                written += 1
                nextIndex += 1
            }
            return written
        }
    }

    @Test("stopped in the middle: the producer ends, having read no more than the free slots allow")
    func stopInTheMiddle() {
        let source = CountingSource(count: nil)  // never ends
        let pipeline = PipelinedEventSource(source: source, batchSize: 5)
        let definitions = RecordingDefinitions()
        #expect(pipeline.start())
        var times: [UInt64] = []
        for index in 0..<3 {
            times += pipeline.next(definitions: definitions, returning: index > 0).map(\.time_ns)
        }
        pipeline.stop()  // returns only once the producer thread is joined
        pipeline.stop()  // idempotent
        #expect(times == (0..<15).map(UInt64.init))
        #expect(definitions.strings.map(\.0) == [0, 10])
        // Three batches taken (the third still held), so at most two returned: the producer can have filled
        // those, the four slots, and at most one more attempt that saw the stop.
        #expect(source.fills <= 2 + PipelinedEventSource.slotCount + 1, "fills: \(source.fills)")
        #expect(source.fills >= 3)
    }

    @Test("an empty source ends the stream at once; one that ends on a batch boundary ends cleanly", arguments: [0, 20])
    func endsCleanly(count: Int) {
        let source = CountingSource(count: count)
        let (events, outOfStep) = drain(PipelinedEventSource(source: source, batchSize: 5))
        #expect(events.map(\.time_ns) == (0..<UInt64(count)).map { $0 })
        #expect(outOfStep == 0)
    }

    @Test("a pipeline dropped in the middle without stop: its deinit stops and joins the producer")
    func droppedInTheMiddle() {
        let source = CountingSource(count: nil)  // never ends: the producer fills every slot, then waits
        weak var dropped: PipelinedEventSource?
        do {
            let pipeline = PipelinedEventSource(source: source, batchSize: 5)
            dropped = pipeline
            #expect(pipeline.start())
            #expect(pipeline.next(definitions: RecordingDefinitions(), returning: false).count == 5)
        }
        // Gone at once: nothing but the caller may keep the pipeline alive, and its deinit joined the
        // producer (so `source` is no longer touched by another thread and may be read here).
        #expect(dropped == nil, "the producer thread kept the dropped pipeline (and itself) alive")
        #expect(source.fills <= 1 + PipelinedEventSource.slotCount + 1, "fills: \(source.fills)")
    }

    @Test("stop without start, and a pipeline dropped after stop, do nothing harmful")
    func stopWithoutStart() {
        let pipeline = PipelinedEventSource(source: CountingSource(count: 3), batchSize: 2)
        pipeline.stop()
    }
}

/// The report's batch decoder (FastEventSource) and the checked reader (TraceReader) read the same files the
/// same way: on valid traces and on traces damaged by a seeded generator — payload bytes flipped, headers
/// hit, the file cut — the fast path either declines (its index is not clean: the report then uses the
/// checked reader) or yields exactly the checked reader's events, field for field, and its diagnostics, word
/// for word.
@Suite struct BatchDecoderAgreementTests {
    @Test("valid and damaged traces: the batch decoder agrees with the checked reader or declines", arguments: 0..<40)
    func agreesWithTheCheckedReader(seed: UInt64) throws {
        var generator = SeededGenerator(state: 0xA11CE + seed)
        var trace = MultiMachineTrace(machines: Int.random(in: 1...4, using: &generator),
                                      eventsPerMachine: Int.random(in: 50...400, using: &generator),
                                      eventsPerChunk: Int.random(in: 7...60, using: &generator))
        let headerEnd = trace.chunks.map(\.offset).min() ?? trace.bytes.count
        let damage = seed == 0 ? 0 : Int.random(in: 0..<4, using: &generator)
        var damaged = "none"
        switch damage {
        case 1:  // payload bytes: the chunk's CRC catches it
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let chunk = trace.chunks.randomElement(using: &generator)!
                let at = chunk.offset + chunk.size - 1 - Int.random(in: 0..<chunk.payload.count / 2 + 1, using: &generator)
                trace.bytes[at] ^= UInt8.random(in: 1...255, using: &generator)
                damaged += ", payload byte \(at)"
            }
        case 2:  // any byte after the file header: chunk headers too
            let at = Int.random(in: headerEnd..<trace.bytes.count, using: &generator)
            trace.bytes[at] ^= UInt8.random(in: 1...255, using: &generator)
            damaged = "byte \(at)"
        case 3:  // cut short
            let length = Int.random(in: headerEnd..<trace.bytes.count, using: &generator)
            trace.bytes.removeSubrange(length...)
            damaged = "cut at \(length)"
        default:
            break
        }
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }

        let checked = try gtraceSource(path, checked: true)
        let reference = drain(checked, batchSize: 64)
        let fast = try #require(TraceFile.open(path: path) as? GtraceSource)
        _ = fast.kinds  // chooses the batch reader: the fast decoder, unless it declines the file
        guard fast.fast != nil else {
            #expect(damage >= 2, "seed \(seed): the fast path declined a trace whose chunk headers are intact (\(damaged))")
            return
        }
        let events = drain(fast, batchSize: 64)
        #expect(events.map(EventFields.init) == reference.map(EventFields.init), "seed \(seed), damage: \(damaged)")
        #expect(fast.diagnostics == checked.diagnostics, "seed \(seed), damage: \(damaged)")
        if damage == 0 {
            #expect(events.map(known) == trace.events, "seed \(seed): the valid trace, event for event")
        }
    }
}

@Suite struct ChunkPrefetcherTests {
    /// The trace's chunks grouped by M (its streams), in sequence order, as FastEventSource indexes them.
    static func streams(_ trace: MultiMachineTrace) -> [[MultiMachineTrace.Chunk]] {
        Dictionary(grouping: trace.chunks, by: \.machine).sorted { $0.key < $1.key }.map { $0.value.sorted { $0.sequence < $1.sequence } }
    }

    static func open(_ path: String) throws -> FileByteSource {
        try FileByteSource.open(path: path).get()
    }

    /// A prefetcher over `streams`, reading `source` (whose descriptor the caller keeps open: ChunkLoader
    /// holds the descriptor, not the source).
    static func prefetcher(_ streams: [[MultiMachineTrace.Chunk]], source: FileByteSource) -> ChunkPrefetcher {
        let entries = streams.map { $0.map { ChunkLocation(offset: UInt64($0.offset), sequence: $0.sequence, size: UInt32($0.size)) } }
        return ChunkPrefetcher(chunks: entries, loader: ChunkLoader(source: source), decoderLoader: ChunkLoader(source: source))
    }

    /// Takes every chunk, stream by stream in `order` (a sequence of stream indices, each stream's chunks in
    /// order), and checks each against the chunk the trace was built with. Returns how many differed.
    static func takeAll(_ prefetcher: ChunkPrefetcher, _ streams: [[MultiMachineTrace.Chunk]], order: [Int],
                        damaged: Set<Int> = []) -> Int {
        var next = Array(repeating: 0, count: streams.count)
        var wrong = 0
        for stream in order {
            let chunk = streams[stream][next[stream]]
            let slot = prefetcher.take(stream, chunk: next[stream])
            if damaged.contains(chunk.offset) {
                if (try? slot.pointee.loaded.get())?.baseTicks != nil { wrong += 1 }
            } else if (try? slot.pointee.loaded.get())?.baseTicks != chunk.baseTicks || Array(slot.pointee.payload.bytes) != chunk.payload {
                wrong += 1
            }
            prefetcher.release(stream)
            next[stream] += 1
        }
        return wrong
    }

    /// Round robin over the streams until all are done.
    static func roundRobin(_ streams: [[MultiMachineTrace.Chunk]]) -> [Int] {
        (0..<(streams.map(\.count).max() ?? 0)).flatMap { round in streams.indices.filter { round < streams[$0].count } }
    }

    /// Each stream to its end before the next: the loader's rings for the others fill and it must wait.
    static func streamByStream(_ streams: [[MultiMachineTrace.Chunk]]) -> [Int] {
        streams.indices.flatMap { Array(repeating: $0, count: streams[$0].count) }
    }

    @Test("every chunk is handed out loaded and intact, with or without the loader thread, in any stream order",
          arguments: [(true, false), (true, true), (false, false), (false, true)])
    func handsOutEveryChunk(loaderThread: Bool, streamByStream: Bool) throws {
        let trace = MultiMachineTrace(machines: 4, eventsPerMachine: 600, eventsPerChunk: 20)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let streams = Self.streams(trace)
        let source = try Self.open(path)
        defer { withExtendedLifetime(source) {} }
        let prefetcher = Self.prefetcher(streams, source: source)
        if loaderThread { prefetcher.start() }
        let order = streamByStream ? Self.streamByStream(streams) : Self.roundRobin(streams)
        #expect(Self.takeAll(prefetcher, streams, order: order) == 0)
        prefetcher.stop()
    }

    @Test("forty streams share 64 slots: two per stream, the smallest ring; repeated to shake out races")
    func smallestRings() throws {
        let trace = MultiMachineTrace(machines: 40, eventsPerMachine: 120, eventsPerChunk: 10)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let streams = Self.streams(trace)
        let source = try Self.open(path)
        defer { withExtendedLifetime(source) {} }
        for round in 0..<10 {
            let prefetcher = Self.prefetcher(streams, source: source)
            prefetcher.start()
            let order = round % 2 == 0 ? Self.roundRobin(streams) : Self.streamByStream(streams)
            #expect(Self.takeAll(prefetcher, streams, order: order) == 0, "round \(round)")
            prefetcher.stop()
        }
    }

    @Test("stopped in the middle, the decoder loads the rest itself")
    func stopInTheMiddle() throws {
        let trace = MultiMachineTrace(machines: 3, eventsPerMachine: 400, eventsPerChunk: 20)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let streams = Self.streams(trace)
        let source = try Self.open(path)
        defer { withExtendedLifetime(source) {} }
        let prefetcher = Self.prefetcher(streams, source: source)
        prefetcher.start()
        let order = Self.roundRobin(streams)
        let half = order.count / 2
        var next = Array(repeating: 0, count: streams.count)
        for stream in order[..<half] {
            _ = prefetcher.take(stream, chunk: next[stream])
            prefetcher.release(stream)
            next[stream] += 1
        }
        prefetcher.stop()
        prefetcher.stop()  // idempotent
        var wrong = 0
        for stream in order[half...] {
            let slot = prefetcher.take(stream, chunk: next[stream])
            let chunk = streams[stream][next[stream]]
            if (try? slot.pointee.loaded.get())?.baseTicks != chunk.baseTicks || Array(slot.pointee.payload.bytes) != chunk.payload { wrong += 1 }
            prefetcher.release(stream)
            next[stream] += 1
        }
        #expect(wrong == 0)
        #expect(next == streams.map(\.count))
    }

    @Test("a prefetcher dropped in the middle without stop: its deinit stops and joins the loader")
    func droppedInTheMiddle() throws {
        // More chunks per M than a ring holds, so the loader fills every ring and then waits for room.
        let trace = MultiMachineTrace(machines: 3, eventsPerMachine: 400, eventsPerChunk: 10)
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let streams = Self.streams(trace)
        #expect(streams.allSatisfy { $0.count > ChunkPrefetcher.maxDepth })
        let source = try Self.open(path)
        defer { withExtendedLifetime(source) {} }
        weak var dropped: ChunkPrefetcher?
        do {
            let prefetcher = Self.prefetcher(streams, source: source)
            dropped = prefetcher
            prefetcher.start()
            #expect(Self.takeAll(prefetcher, streams, order: [0, 1, 2]) == 0)
        }
        #expect(dropped == nil, "the loader thread kept the dropped prefetcher (and itself) alive")
    }

    @Test("a chunk whose payload fails its CRC comes out unloaded (nil base ticks); its neighbours are intact")
    func damagedChunk() throws {
        var trace = MultiMachineTrace(machines: 3, eventsPerMachine: 300, eventsPerChunk: 20)
        let damaged = [4, 5, 20].map { trace.chunks[$0].offset }
        for index in [4, 5, 20] { trace.damagePayload(ofChunk: index) }
        let path = try trace.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let streams = Self.streams(trace)
        let source = try Self.open(path)
        defer { withExtendedLifetime(source) {} }
        for loaderThread in [false, true] {
            let prefetcher = Self.prefetcher(streams, source: source)
            if loaderThread { prefetcher.start() }
            #expect(Self.takeAll(prefetcher, streams, order: Self.roundRobin(streams), damaged: Set(damaged)) == 0)
            prefetcher.stop()
        }
    }
}
