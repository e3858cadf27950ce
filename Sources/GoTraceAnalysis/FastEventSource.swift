// The fast path of `gotrace report`: chunks decoded in runs straight into ABI event structs. `GtraceSource`
// reads a clean `.gtrace` file's batches through it.
//
// Design note
// -----------
// `TraceReader` yields one `TraceEvent` per event — a struct holding an `EventKindSpec` (strings and
// arrays: reference counting) and a fresh `[TraceValue]` — about 2–3 M events/s, a tenth of what a
// report over a long trace needs. This source reads the same framing (docs/trace-format.md) through
// GoTrace's batch API instead: `ChunkWalker` indexes it, `ChunkLoader` (read window, CRC, `ChunkInflater`)
// loads a chunk and `EventBatchDecoder` decodes it in runs of `runCapacity` events per M, which the merge copies into the
// batch. It allocates per chunk at most (a payload buffer that grows), never per event.
//
// Division of labour with `TraceReader` (which stays the one reader that knows damage):
//   1. Index: walk the chunk headers. If anything is irregular — a header that fails its CRC, a chunk
//      running past the end, a missing kind table — return nil: `GtraceSource` falls back to TraceReader,
//      which resynchronises and reports. A clean file's index is trusted.
//   2. Merge: per M, its chunks in sequence order; the next event overall is the smallest
//      (ticks, M id) head, as TraceReader orders them; a timestamp that steps back across chunks of one
//      M is raised to the previous one (TraceReader's clamp, done by the decoder).
//   3. A payload that fails CRC or inflation, or an event that does not decode, ends that chunk: the
//      events before it are kept and a diagnostic is recorded — when the merge reaches the damage, so the
//      diagnostics come in the order the serial reader finds them.
// Memory: the index (24 bytes per chunk), the prefetcher's payload slots (ChunkPrefetcher) and per M one run
// of decoded events.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

final class FastEventSource {
    /// Decoded events per M and run: a few hundred keep every M's run in cache while the merge copies
    /// them out, and bound the memory per M (256 × 80 bytes).
    static let runCapacity = 256

    struct Stream {
        var machine: UInt64
        var chunks: [ChunkLocation]
        var nextChunk = 0
        /// The current chunk (its inflated payload, from the prefetcher) and the decode position in it.
        var slot: UnsafeMutablePointer<ChunkPrefetcher.Slot>?
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
        var position = 0
        var chunkOffset: UInt64 = 0
        var state: StreamDecodeState
        /// The current run: `decoded[index..<count]` are still to be emitted; `decoded[index]` is the head.
        var decoded: UnsafeMutablePointer<DecodedEvent>
        var index = 0
        var count = 0
        /// The definition carried by the run's last event (a run ends after a definition).
        var definition: DecodedDefinition?
        /// Damage found at the end of the run, reported when the merge gets there.
        var damage: TraceDiagnostic?
        var hasHead = false
        var headTicks: UInt64 = 0
    }

    let fileName: String
    private let header: FileHeader
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    /// Replaced by the file's own (its kind table and format version) in init, which requires a kind table.
    @exclusivity(unchecked) private var decoder = EventBatchDecoder(specs: EventKindSpec.builtInByCode,
                                                                    formatVersion: traceFormatVersion)
    @exclusivity(unchecked) private var prefetcher: ChunkPrefetcher?
    /// Safety: allocated once in init for `streamCount` streams, deinitialised and freed in deinit; only this
    /// object touches it, from one thread. A raw buffer rather than an array so that the per-event accesses
    /// neither copy a `Stream` (retain/release) nor run exclusivity checks.
    @exclusivity(unchecked) private var streams: UnsafeMutablePointer<Stream>
    @exclusivity(unchecked) private var streamCount = 0
    @exclusivity(unchecked) private(set) var eventsRead: UInt64 = 0
    @exclusivity(unchecked) private(set) var expectedEvents: UInt64?
    @exclusivity(unchecked) private(set) var diagnostics: [TraceDiagnostic] = []
    @exclusivity(unchecked) private(set) var isComplete = false
    /// The built-in kinds joined by the file's kind table.
    private(set) var kinds = KindCatalogue()
    var startWallNanoseconds: Int64 { header.startWallTimeNanoseconds }

    /// Indexes the trace in `source`; nil if it is not clean enough for the fast path (see the design note).
    init?(source: any TraceByteSource, fileName: String) {
        guard let head = source.read(at: 0, count: TraceLimits.maxHeaderSize),
              case .success(let (header, headerSize)) = FileHeader.decode(head[...])
        else { return nil }
        // The decoded arguments are copied into the ABI struct as they are.
        assert(DecodedEvent.maxArguments == Int(GOTRACE_MAX_EVENT_ARGUMENTS))
        self.fileName = fileName
        self.header = header
        let loader = ChunkLoader(source: source)
        var byMachine: [UInt64: [ChunkLocation]] = [:]
        var kinds = KindCatalogue()
        var sawKindTable = false
        var scratch = PayloadBuffer()
        defer { scratch.deallocate() }
        for step in ChunkWalker(source: source, from: UInt64(headerSize)) {
            // Anything irregular is the checked reader's to report (see the design note).
            guard case .chunk(let chunk, _, let location) = step else { return nil }
            switch chunk.type {
            case .events:
                byMachine[chunk.machine, default: []].append(location)
            case .kindTable:
                guard case .success = loader.load(location, into: &scratch),
                      let specs = KindTableCodec.decode(Array(scratch.bytes)) else { return nil }
                kinds.adopt(specs)
                decoder = EventBatchDecoder(specs: kinds.specs, formatVersion: header.version)
                sawKindTable = true
            case .end:
                if case .success = loader.load(location, into: &scratch), let end = EndChunk.decode(Array(scratch.bytes)) {
                    expectedEvents = end.events
                    isComplete = true
                }
            default:
                break
            }
        }
        guard sawKindTable else { return nil }
        self.kinds = kinds
        let made = byMachine.keys.sorted().map { machine in
            var chunks = byMachine.removeValue(forKey: machine) ?? []
            chunks.sort { ($0.sequence, $0.offset) < ($1.sequence, $1.offset) }
            let run = UnsafeMutablePointer<DecodedEvent>.allocate(capacity: FastEventSource.runCapacity)
            run.initialize(repeating: DecodedEvent(), count: FastEventSource.runCapacity)
            return Stream(machine: machine, chunks: chunks, state: StreamDecodeState(startTicks: header.startTicks),
                          decoded: run)
        }
        // Allocated only now, after every check that can fail init: a failed init does not run deinit,
        // so anything allocated before a `return nil` would leak (found by fuzzing, FuzzRegressionTests).
        streams = UnsafeMutablePointer<Stream>.allocate(capacity: max(1, made.count))
        streams.initialize(from: made, count: made.count)
        streamCount = made.count
        // Chunks are loaded on a thread of their own, and by this one when that thread falls behind.
        let prefetcher = ChunkPrefetcher(chunks: made.map(\.chunks), loader: ChunkLoader(source: source),
                                         decoderLoader: loader)
        self.prefetcher = prefetcher
        prefetcher.start()
        for index in 0..<streamCount { refill(index) }
    }

    deinit {
        prefetcher?.stop()
        for index in 0..<streamCount { streams[index].decoded.deallocate() }
        streams.deinitialize(count: streamCount)
        streams.deallocate()
    }

    /// Decodes the next run of stream `index` (loading chunks as needed); clears `hasHead` at its end.
    private func refill(_ index: Int) {
        // Safety: index < streamCount; see `streams`.
        let stream = streams + index
        stream.pointee.index = 0
        stream.pointee.count = 0
        stream.pointee.definition = nil
        if let damage = stream.pointee.damage {
            diagnostics.append(damage)
            stream.pointee.damage = nil
        }
        while true {
            if stream.pointee.position < stream.pointee.payload.count {
                let (count, end) = decoder.decodeRun(
                    stream.pointee.payload, position: &stream.pointee.position, state: &stream.pointee.state,
                    into: stream.pointee.decoded, capacity: FastEventSource.runCapacity)
                switch end {
                case .full, .endOfPayload: break
                case .definition(let definition): stream.pointee.definition = definition
                case .malformed(let offset, let reason):
                    let message = TraceDiagnostic(
                        fileName: fileName, offset: stream.pointee.chunkOffset,
                        problem: .corruptChunk(reason: "\(reason) at payload byte \(offset)"))
                    stream.pointee.position = stream.pointee.payload.count
                    if count == 0 {
                        diagnostics.append(message)
                    } else {
                        stream.pointee.damage = message
                    }
                }
                if count > 0 {
                    stream.pointee.count = count
                    stream.pointee.hasHead = true
                    stream.pointee.headTicks = stream.pointee.decoded.pointee.ticks
                    return
                }
                continue
            }
            guard stream.pointee.nextChunk < stream.pointee.chunks.count else {
                stream.pointee.hasHead = false
                return
            }
            let entry = stream.pointee.chunks[stream.pointee.nextChunk]
            // Safety: the prefetcher exists once the streams do (init sets it before the first refill).
            let prefetcher = self.prefetcher!
            if stream.pointee.slot != nil { prefetcher.release(index) }
            let slot = prefetcher.take(index, chunk: stream.pointee.nextChunk)
            stream.pointee.slot = slot
            stream.pointee.nextChunk += 1
            stream.pointee.position = 0
            stream.pointee.payload = UnsafeRawBufferPointer(start: nil, count: 0)
            stream.pointee.chunkOffset = entry.offset
            switch slot.pointee.loaded {
            case .success(let header):
                stream.pointee.payload = slot.pointee.payload.bytes
                stream.pointee.state.beginChunk(baseTicks: header.baseTicks)
            case .failure(let failure):
                diagnostics.append(TraceDiagnostic(fileName: fileName, offset: entry.offset,
                                                   problem: .corruptChunk(reason: failure.description)))
            }
        }
    }

    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: TraceDefinitionSink) -> Int {
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
            // Safety: best < streamCount.
            let stream = streams + best
            let machine = stream.pointee.machine
            repeat {
                // Safety: index < count ≤ runCapacity while hasHead (refill keeps it so).
                let decoded = stream.pointee.decoded + stream.pointee.index
                // Field by field into the batch, not through a stack copy (see EventBatchDecoder on store
                // forwarding). Safety: count < batch.count; gotrace_event is a trivial C struct.
                let event = batch.baseAddress! + count
                event.pointee.kind = decoded.pointee.kind
                event.pointee.argument_count = decoded.pointee.argumentCount
                event.pointee.reserved0 = 0
                event.pointee.reserved1 = 0
                event.pointee.time_ns = header.nanoseconds(fromTicks: decoded.pointee.ticks)
                event.pointee.machine = machine
                event.pointee.proc = decoded.pointee.proc
                event.pointee.goroutine = decoded.pointee.goroutine
                event.pointee.arguments = decoded.pointee.arguments
                count += 1
                stream.pointee.index += 1
                if stream.pointee.index == stream.pointee.count {
                    if let definition = stream.pointee.definition {
                        switch definition {
                        case .string(let id, let bytes): definitions.defineString(id, bytes)
                        case .stack(let id, let pcs): definitions.defineStack(id, pcs)
                        }
                    }
                    refill(best)
                } else {
                    stream.pointee.headTicks = stream.pointee.decoded[stream.pointee.index].ticks
                }
            } while count < batch.count && stream.pointee.hasHead
                && (second < 0 || stream.pointee.headTicks < secondTicks
                    || stream.pointee.headTicks == secondTicks && best < second)
        }
        eventsRead += UInt64(count)
        return count
    }
}
