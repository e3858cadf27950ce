// The fast path of `gotrace report`: decoding chunks straight into ABI event structs.
//
// Design note
// -----------
// `TraceReader` yields one `TraceEvent` per event — a struct holding an `EventKindSpec` (strings and
// arrays: reference counting) and a fresh `[TraceValue]` — about 2–3 M events/s, a tenth of what a
// report over a long trace needs. This source reads the same framing (docs/trace-format.md) but decodes
// each event in place: kind byte, delta varint, argument varints into a `gotrace_event`, with a 128-entry
// table per kind code (wire types, index of the goroutine and P argument, context effect) built once
// from the file's kind table. It allocates per chunk, never per event.
//
// Division of labour with `TraceReader` (which stays the one reader that knows damage):
//   1. Index: walk the chunk headers. If anything is irregular — a header that fails its CRC, a chunk
//      running past the end, a missing kind table — return nil: the caller falls back to TraceReader,
//      which resynchronises and reports. A clean file's index is trusted.
//   2. Merge: per M, its chunks in sequence order; the next event overall is the smallest
//      (ticks, M id) head, as TraceReader orders them; a timestamp that steps back across chunks of one
//      M is raised to the previous one (TraceReader's clamp).
//   3. A payload that fails CRC or inflation, or an event that does not decode, ends that chunk: the
//      events before it are kept and a diagnostic is recorded, as TraceReader does.
// Memory: the index (24 bytes per chunk) and one inflated payload per M.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

final class FastEventSource: EventSource {
    /// What decoding needs about one kind code.
    struct KindLayout {
        var known = false
        var wireTypes: [WireType] = []
        var goroutineArgument = -1
        var procArgument = -1
        var effect: ContextEffect = .none
        var allVarints = true
    }

    /// 24 bytes per chunk, not the ~100 of a decoded header: a 100-million-event trace has over a million
    /// chunks, and the index must fit the report's memory budget (≤ 200 MB). The header is decoded again
    /// (and its CRC checked again) when the chunk is loaded, from the same read as its payload.
    struct ChunkEntry {
        var offset: UInt64
        var sequence: UInt64
        /// Header and stored payload, in bytes.
        var size: UInt32
    }

    struct Stream {
        var machine: UInt64
        var chunks: [ChunkEntry]
        var nextChunk = 0
        /// The current chunk's inflated payload, owned by the stream (a raw buffer: no retain per event).
        var payload = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
        var chunkOffset: UInt64 = 0
        var position = 0
        var ticks: UInt64 = 0
        var lastTicks: UInt64
        var currentGoroutine = noID
        var currentProc = noID
        /// The decoded next event of this stream, valid when `hasHead`.
        var head = gotrace_event()
        var headTicks: UInt64 = 0
        var hasHead = false
    }

    let fileName: String
    private let source: FileByteSource
    private let header: FileHeader
    private var layouts = [KindLayout](repeating: KindLayout(), count: 128)
    /// The per-event part of `layouts` without its array (reading a `KindLayout` out of the array retains
    /// `wireTypes`: measured ~4% of a report in swift_retain). Safety: 128 entries, allocated at the end of
    /// init — after every check that can make init fail, since a failed init does not run deinit —, written
    /// by `buildLayouts`, freed in deinit.
    private let quickLayouts: UnsafeMutablePointer<QuickLayout>

    struct QuickLayout {
        var known = false
        var allVarints = true
        var argumentCount = 0
        var goroutineArgument = -1
        var procArgument = -1
        var effect: ContextEffect = .none
    }
    /// Safety: allocated once at the end of init (after the checks that can fail it) for `streamCount`
    /// streams, deinitialised and freed in deinit; only this
    /// object touches it, from one thread. A raw buffer rather than an array so that the per-event accesses
    /// neither copy a `Stream` (two arrays: retain/release) nor run exclusivity checks.
    private var streams: UnsafeMutablePointer<Stream>
    private var streamCount = 0
    private(set) var eventsRead: UInt64 = 0
    let expectedEvents: UInt64?
    private(set) var diagnostics: [String] = []
    let isComplete: Bool
    var startWallNs: Int64 { header.startWallTimeNanoseconds }

    /// Indexes `path`; nil if the file is not clean enough for the fast path (see the design note).
    init?(path: String) {
        guard case .success(let source) = FileByteSource.open(path: path),
              let head = source.read(at: 0, count: TraceLimits.maxHeaderSize),
              case .success(let (header, headerSize)) = FileHeader.decode(head[...])
        else { return nil }
        var byMachine: [UInt64: [ChunkEntry]] = [:]
        var offset = UInt64(headerSize)
        var catalogue: KindCatalogue?
        var expectedEvents: UInt64?
        var isComplete = false
        // Headers are read through a 1 MiB window: one read per few thousand chunks instead of one each
        // (this loop runs before the pipeline starts, so its cost is not hidden).
        var window: [UInt8] = []
        var windowStart: UInt64 = 0
        while offset < source.size {
            let needed = UInt64(ChunkHeader.encodedSize)
            if offset < windowStart || offset + needed > windowStart + UInt64(window.count) {
                guard let refill = source.read(at: offset, count: 1 << 20) else { return nil }
                window = refill
                windowStart = offset
            }
            let at = Int(offset - windowStart)
            guard case .success(let (chunk, size)) = ChunkHeader.decode(window[at..<min(window.count, at + Int(needed))])
            else { return nil }
            let end = offset + UInt64(size) + UInt64(chunk.storedPayloadSize)
            guard end <= source.size, end - offset <= UInt64(UInt32.max) else { return nil }
            let entry = ChunkEntry(offset: offset, sequence: chunk.sequence, size: UInt32(end - offset))
            switch chunk.type {
            case .events:
                byMachine[chunk.machine, default: []].append(entry)
            case .kindTable:
                guard let payload = FastEventSource.loadChunk(entry, from: source)?.payload,
                      let specs = KindTableCodec.decode(payload)
                else { return nil }
                var adopted = KindCatalogue()
                adopted.adopt(specs)
                catalogue = adopted
            case .end:
                if let payload = FastEventSource.loadChunk(entry, from: source)?.payload,
                   let end = EndChunk.decode(payload)
                {
                    expectedEvents = end.events
                    isComplete = true
                }
            default:
                break
            }
            offset = end
        }
        guard let catalogue else { return nil }
        window = []
        let made = byMachine.keys.sorted().map { machine in
            var chunks = byMachine.removeValue(forKey: machine) ?? []
            chunks.sort { ($0.sequence, $0.offset) < ($1.sequence, $1.offset) }
            return Stream(machine: machine, chunks: chunks, lastTicks: header.startTicks)
        }
        // From here on init cannot fail: allocate what deinit frees.
        self.fileName = path
        self.source = source
        self.header = header
        self.expectedEvents = expectedEvents
        self.isComplete = isComplete
        quickLayouts = UnsafeMutablePointer<QuickLayout>.allocate(capacity: 128)
        quickLayouts.initialize(repeating: QuickLayout(), count: 128)
        streams = UnsafeMutablePointer<Stream>.allocate(capacity: max(1, made.count))
        streams.initialize(from: made, count: made.count)
        streamCount = made.count
        buildLayouts(catalogue)
        for index in 0..<streamCount {
            advance(index)
            if hasPending {
                headDefinitions[index] = (pendingStack, pendingString)
                pendingStack = nil
                pendingString = nil
                hasPending = false
            }
        }
    }

    deinit {
        for index in 0..<streamCount { streams[index].payload.deallocate() }
        streams.deinitialize(count: streamCount)
        streams.deallocate()
        quickLayouts.deallocate()
    }

    private func buildLayouts(_ catalogue: KindCatalogue) {
        for code in 0..<128 {
            guard let spec = catalogue.specs[code] else { continue }
            var layout = KindLayout(known: true)
            layout.wireTypes = spec.arguments.map(\.wireType)
            layout.allVarints = layout.wireTypes.allSatisfy { $0 == .uvarint }
            layout.goroutineArgument = spec.arguments.firstIndex { $0.role == .goroutine } ?? -1
            layout.procArgument = spec.arguments.firstIndex { $0.role == .proc } ?? -1
            layout.effect = spec.contextEffect
            layouts[code] = layout
            quickLayouts[code] = QuickLayout(known: true, allVarints: layout.allVarints, argumentCount: layout.wireTypes.count,
                                             goroutineArgument: layout.goroutineArgument, procArgument: layout.procArgument,
                                             effect: layout.effect)
        }
    }

    /// The chunk's header (for its base time) and inflated payload, from one read.
    private static func loadChunk(_ entry: ChunkEntry, from source: FileByteSource)
        -> (header: ChunkHeader, payload: [UInt8])?
    {
        guard let bytes = source.read(at: entry.offset, count: Int(entry.size)), bytes.count == Int(entry.size),
              case .success(let (header, size)) = ChunkHeader.decode(bytes[...])
        else { return nil }
        guard case .success(let payload) = ChunkCodec.payload(of: header, stored: bytes[size...]) else { return nil }
        return (header, payload)
    }

    @inline(__always)
    private func nanoseconds(_ ticks: UInt64) -> UInt64 {
        let elapsed = ticks >= header.startTicks ? ticks &- header.startTicks : 0
        if header.ticksPerSecond == 1_000_000_000 { return elapsed }
        let product = elapsed.multipliedFullWidth(by: 1_000_000_000)
        guard product.high < header.ticksPerSecond else { return UInt64.max }
        return header.ticksPerSecond.dividingFullWidth(product).quotient
    }

    /// Decodes the next event of stream `index` into its head, loading chunks as needed.
    private func advance(_ index: Int) {
        while true {
            if streams[index].position < streams[index].payload.count {
                if decodeHead(index) { return }
                continue  // damaged: the rest of the chunk was dropped; try the next chunk
            }
            streams[index].payload.deallocate()
            streams[index].payload = UnsafeMutableBufferPointer(start: nil, count: 0)
            guard streams[index].nextChunk < streams[index].chunks.count else {
                streams[index].hasHead = false
                return
            }
            let entry = streams[index].chunks[streams[index].nextChunk]
            streams[index].nextChunk += 1
            guard let (chunkHeader, payload) = FastEventSource.loadChunk(entry, from: source) else {
                diagnostics.append("\(fileName): offset \(entry.offset): corrupt chunk skipped (payload does not check out)")
                continue
            }
            let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: payload.count)
            _ = copy.initialize(from: payload)
            streams[index].payload = copy
            streams[index].chunkOffset = entry.offset
            streams[index].position = 0
            streams[index].ticks = chunkHeader.baseTicks
        }
    }

    /// Decodes one event at the stream's position; false (and the chunk abandoned) if it is malformed.
    private func decodeHead(_ index: Int) -> Bool {
        // Safety: index < streamCount; see `streams`.
        let stream = streams + index
        let ok = { (bytes: UnsafeBufferPointer<UInt8>) -> Bool in
            var position = stream.pointee.position
            let count = bytes.count
            @inline(__always) func varint() -> UInt64? {
                var result: UInt64 = 0
                var shift: UInt64 = 0
                while position < count {
                    let byte = bytes[position]
                    position &+= 1
                    result |= UInt64(byte & 0x7f) << shift
                    if byte < 0x80 { return result }
                    shift &+= 7
                    if shift > 63 { return nil }
                }
                return nil
            }
            let code = bytes[position]
            position &+= 1
            guard code < 128 else { return false }
            // Safety: code < 128, the table's size.
            let layout = self.quickLayouts[Int(code)]
            guard layout.known, let delta = varint() else { return false }
            var event = gotrace_event()
            event.kind = code
            let argumentCount = layout.argumentCount
            event.argument_count = UInt8(min(argumentCount, Int(GOTRACE_MAX_EVENT_ARGUMENTS)))
            // A file's kind table may give the goroutine or P role to an argument past the event's slots;
            // its value is kept here (TraceReader attributes it too).
            var goroutineBeyondSlots = noID
            var procBeyondSlots = noID
            let ok = withUnsafeMutableBytes(of: &event.arguments) { raw -> Bool in
                let slots = raw.bindMemory(to: UInt64.self)
                @inline(__always) func store(_ value: UInt64, _ argument: Int) {
                    if argument < slots.count {
                        slots[argument] = value
                    } else if argument == layout.goroutineArgument {
                        goroutineBeyondSlots = value
                    } else if argument == layout.procArgument {
                        procBeyondSlots = value
                    }
                }
                if layout.allVarints {
                    for argument in 0..<argumentCount {
                        guard let value = varint() else { return false }
                        store(value, argument)
                    }
                    return true
                }
                for (argument, wire) in self.layouts[Int(code)].wireTypes.enumerated() {
                    switch wire {
                    case .uvarint:
                        guard let value = varint() else { return false }
                        store(value, argument)
                    case .uvarintList:
                        guard let items = varint(), items <= UInt64(TraceLimits.maxListCount) else { return false }
                        var values: [UInt64] = []
                        values.reserveCapacity(Int(items))
                        for _ in 0..<items {
                            guard let value = varint() else { return false }
                            values.append(value)
                        }
                        if code == EventKind.stack.rawValue {
                            pendingStack = values
                            hasPending = true
                        }
                    case .bytes:
                        guard let length = varint(), length <= UInt64(TraceLimits.maxByteStringLength),
                              length <= UInt64(count - position) else { return false }
                        if code == EventKind.string.rawValue {
                            pendingString = Array(bytes[position..<position + Int(length)])
                            hasPending = true
                        }
                        position += Int(length)
                    }
                }
                return true
            }
            guard ok else { return false }
            let (sum, overflow) = stream.pointee.ticks.addingReportingOverflow(delta)
            stream.pointee.ticks = overflow ? UInt64.max : sum
            let ticks = max(stream.pointee.ticks, stream.pointee.lastTicks)
            stream.pointee.lastTicks = ticks
            event.time_ns = nanoseconds(ticks)
            event.machine = stream.pointee.machine
            let goroutine = layout.goroutineArgument < 0 ? stream.pointee.currentGoroutine
                : layout.goroutineArgument < slotCount ? argument(event, layout.goroutineArgument) : goroutineBeyondSlots
            let proc = layout.procArgument < 0 ? stream.pointee.currentProc
                : layout.procArgument < slotCount ? argument(event, layout.procArgument) : procBeyondSlots
            event.goroutine = goroutine
            event.proc = proc
            switch layout.effect {
            case .startsGoroutine: stream.pointee.currentGoroutine = goroutine
            case .stopsGoroutine: if stream.pointee.currentGoroutine == goroutine { stream.pointee.currentGoroutine = noID }
            case .acquiresProc: stream.pointee.currentProc = proc
            case .releasesProc: stream.pointee.currentProc = noID
            case .none: break
            }
            stream.pointee.head = event
            stream.pointee.headTicks = ticks
            stream.pointee.hasHead = true
            stream.pointee.position = position
            return true
        }(UnsafeBufferPointer(stream.pointee.payload))
        if !ok {
            diagnostics.append("\(fileName): offset \(stream.pointee.chunkOffset): corrupt chunk skipped (malformed event at payload byte \(stream.pointee.position))")
            stream.pointee.position = stream.pointee.payload.count
            stream.pointee.hasHead = false
            pendingStack = nil
            pendingString = nil
            hasPending = false
        }
        return ok
    }

    /// The list or bytes of the head event when it is a stack or string definition.
    private var pendingStack: [UInt64]?
    private var pendingString: [UInt8]?
    private var hasPending = false
    private var headDefinitions: [Int: (stack: [UInt64]?, string: [UInt8]?)] = [:]

    /// The number of argument slots in a `gotrace_event`.
    private let slotCount = Int(GOTRACE_MAX_EVENT_ARGUMENTS)

    /// Argument `index` of `event`. Precondition: 0 <= index < `slotCount` (`load` is unchecked in -O).
    @inline(__always)
    private func argument(_ event: gotrace_event, _ index: Int) -> UInt64 {
        precondition(index >= 0 && index < slotCount, "argument slot out of range")
        return withUnsafeBytes(of: event.arguments) { $0.load(fromByteOffset: index * 8, as: UInt64.self) }
    }

    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int {
        var count = 0
        let streamCount = self.streamCount
        let streams = self.streams
        while count < batch.count {
            // The smallest (ticks, M id) head; streams are sorted by M id, so the first minimum wins ties.
            // The runner-up bounds how long `best` may keep going without another scan: an M's events
            // come in runs (a whole scheduling slice), so most events skip the scan.
            var best = -1
            var bestTicks = UInt64.max
            var second = -1
            var secondTicks = UInt64.max
            for index in 0..<streamCount where streams[index].hasHead {
                let ticks = streams[index].headTicks
                if best < 0 || ticks < bestTicks {
                    second = best
                    secondTicks = bestTicks
                    best = index
                    bestTicks = ticks
                } else if second < 0 || ticks < secondTicks {
                    second = index
                    secondTicks = ticks
                }
            }
            if best < 0 { break }
            repeat {
                emit(best, into: batch, at: count, definitions: definitions)
                count += 1
            } while count < batch.count && streams[best].hasHead
                && (second < 0 || streams[best].headTicks < secondTicks
                    || streams[best].headTicks == secondTicks && best < second)
        }
        eventsRead += UInt64(count)
        return count
    }

    /// Moves stream `best`'s head into `batch[count]` (with its definition, if it is one) and decodes the next.
    @inline(__always)
    private func emit(_ best: Int, into batch: UnsafeMutableBufferPointer<gotrace_event>, at count: Int,
                      definitions: DefinitionSink) {
        do {
            let event = streams[best].head
            batch[count] = event
            if event.kind == EventKind.string.rawValue || event.kind == EventKind.stack.rawValue {
                let id = argument(event, 0)
                if let pending = headDefinitions.removeValue(forKey: best) {
                    if let stack = pending.stack { definitions.defineStack(id, stack) }
                    if let string = pending.string { definitions.defineString(id, string) }
                }
            }
            advance(best)
            if hasPending {
                headDefinitions[best] = (pendingStack, pendingString)
                pendingStack = nil
                pendingString = nil
                hasPending = false
            }
        }
    }
}
