// The flight recorder's memory: the last generations of a trace stream, and the window file made from them.
//
// Design note
// -----------
// Vocabulary: the runtime cuts a flight recording's stream into *generations* (GenerationChunk.swift has the
// protocol); each starts with a *snapshot section* (module map, a snapshot of every goroutine) that lets it
// stand alone. The *window* is the file written from the generations kept.
// Rules:
//   1. Units arrive in stream order (`append`): the file header, then chunks (kind table, command line, event
//      chunks, generation markers, the end chunk). Event chunks may be stored compressed (the recorder
//      compresses them as they arrive; the runtime's in-process recorder compresses on the M).
//   2. When a generation begins, the oldest generations are dropped while the younger complete ones still
//      cover `window` up to the cut. Held: at least `window`, at most `window` plus two generations — with
//      the runtime's interval of a quarter window (`generationInterval`), at most 1.5 × `window`, whatever
//      the event rate (docs/reliability.md).
//   3. A window starts at a generation's cut: the file header is rewritten with that cut's ticks and wall
//      time, so times (and the trace's duration) count from there, and the snapshot section that opens the
//      generation gives every goroutine its state and how long it has waited (the `snapshot` event's
//      `waited`), so blocked times before the window are real.
//   4. Two endings (`Ending`): `.asReceived` — everything up to now, and the end chunk if the program
//      wrote one, rewritten with the window's own totals so `stat --check` compares like with like; used when
//      the program has gone (exited, crashed, killed). `.atLastCut` — up to the latest complete snapshot
//      section, which serves as the window's final snapshot (nothing ran between it and the generation
//      before), followed by an end chunk made here; used while the program runs (SIGUSR1 to the recorder,
//      `Trace.writeFlightRecording`), so the window reconciles although the program has not stopped.
// Rejected: a ring of raw bytes cut at arbitrary chunks (a window would start without the string and stack
// definitions and the goroutine states its events depend on); a snapshot per chunk (far too costly).

/// The last generations of one trace stream (see the design note).
public struct FlightWindow: Sendable {
    /// One chunk as held, with what the end chunk counts of it.
    struct HeldChunk: Sendable {
        var bytes: [UInt8]
        var isEvents: Bool
        var events: UInt64
        var dropped: UInt64
        var endTicks: UInt64
    }

    struct Generation: Sendable {
        var number: UInt64
        var startTicks: UInt64
        var startWallTimeNanoseconds: Int64
        /// The begin marker, module map and snapshots, and the snapshot-written marker (empty for generation 0,
        /// whose start snapshot the recording's start wrote into its events).
        var snapshotSection: [HeldChunk] = []
        var snapshotComplete: Bool
        var events: [HeldChunk] = []
        var bytes = 0
    }

    /// How the window ends (see the design note, rule 4).
    public enum Ending: Sendable {
        case asReceived
        case atLastCut
    }

    /// The span the window covers at least, in nanoseconds.
    public let windowNanoseconds: UInt64
    private var fileHeader: FileHeader?
    private var prelude: [[UInt8]] = []
    private var generations: [Generation] = []
    private var endChunk: EndChunk?
    private var inSnapshotSection = false
    /// Bytes of chunks held now (what the flight recorder costs in memory, besides a constant).
    public private(set) var bytesHeld = 0
    /// Units that could not be decoded (never expected from the runtime; counted rather than trusted).
    public private(set) var malformedUnits = 0

    public init(windowNanoseconds: UInt64) {
        self.windowNanoseconds = windowNanoseconds
    }

    /// How often the runtime should cut generations for a window of `windowNanoseconds`: a quarter of it
    /// (a window then holds 1 to 1.25 times the span asked for, memory at most 1.5 times), but not more often
    /// than every 100 ms — each cut stops the world for a snapshot of every goroutine (2–5 ms under the soak).
    public static func generationInterval(windowNanoseconds: UInt64) -> UInt64 {
        max(windowNanoseconds / 4, 100_000_000)
    }

    /// How many generations are held now.
    public var generationCount: Int { generations.count }

    /// Takes the next unit of the stream: the file header first, then whole chunks.
    public mutating func append(_ bytes: [UInt8]) {
        guard fileHeader != nil else {
            guard case .success(let (header, _)) = FileHeader.decode(bytes[...]) else {
                malformedUnits += 1
                return
            }
            self.fileHeader = header
            generations = [Generation(number: 0, startTicks: header.startTicks,
                                      startWallTimeNanoseconds: header.startWallTimeNanoseconds, snapshotComplete: true)]
            return
        }
        guard case .success(let (header, size)) = ChunkHeader.decode(bytes[...]) else {
            malformedUnits += 1
            return
        }
        switch header.type {
        case .events:
            hold(HeldChunk(bytes: bytes, isEvents: true, events: UInt64(header.eventCount),
                           dropped: UInt64(header.droppedEvents), endTicks: header.endTicks))
        case .generation:
            guard let marker = GenerationChunk.decode(bytes[size...]) else {
                malformedUnits += 1
                return
            }
            let held = HeldChunk(bytes: bytes, isEvents: false, events: 0, dropped: 0, endTicks: marker.ticks)
            if marker.phase == .begin {
                generations.append(Generation(number: marker.generation, startTicks: marker.ticks,
                                              startWallTimeNanoseconds: marker.wallTimeNanoseconds,
                                              snapshotComplete: false))
                inSnapshotSection = true
                hold(held)
                dropOldGenerations(now: marker.ticks)
            } else {
                hold(held)
                inSnapshotSection = false
                generations[generations.count - 1].snapshotComplete = true
            }
        case .end:
            endChunk = EndChunk.decode(Array(bytes[size...]))
        default:
            prelude.append(bytes)
            bytesHeld += bytes.count
        }
    }

    private mutating func hold(_ chunk: HeldChunk) {
        let last = generations.count - 1
        if inSnapshotSection {
            generations[last].snapshotSection.append(chunk)
        } else {
            generations[last].events.append(chunk)
        }
        generations[last].bytes += chunk.bytes.count
        bytesHeld += chunk.bytes.count
    }

    /// Rule 2: drops the oldest generation while the complete generations after it cover the window up to
    /// `now` (the one being started is never complete yet, so at least one complete generation stays).
    private mutating func dropOldGenerations(now: UInt64) {
        while generations.count >= 3, generations[1].startTicks &+ windowTicks <= now {
            bytesHeld -= generations[0].bytes
            generations.removeFirst()
        }
    }

    private var windowTicks: UInt64 { fileHeader?.ticks(fromNanoseconds: windowNanoseconds) ?? 0 }

    /// The first generation a window that ends at `now` starts with: the youngest that starts at least the
    /// window before `now`, or the oldest held.
    private func firstGeneration(endingAt now: UInt64, before limit: Int) -> Int {
        var first = 0
        while first + 1 < limit, generations[first + 1].startTicks &+ windowTicks <= now { first += 1 }
        return first
    }

    /// A window made into a trace file.
    public struct File: Sendable {
        public var bytes: [UInt8]
        public var events: UInt64
        /// From the window's start to its last event (or its end, `.atLastCut`), in nanoseconds.
        public var nanoseconds: UInt64
        /// Whether it ends with an end chunk (then `gotrace stat --check` can reconcile it).
        public var isComplete: Bool
    }

    /// The window as a trace file, or nil before the file header arrived. See the design note, rule 4.
    public func encoded(_ ending: Ending) -> File? {
        guard let fileHeader else { return nil }
        var chunks: [HeldChunk] = []
        var first: Int
        var end: EndChunk?
        if ending == .atLastCut, let cut = generations.lastIndex(where: { $0.snapshotComplete && $0.number > 0 }) {
            first = firstGeneration(endingAt: generations[cut].startTicks, before: cut)
            for generation in generations[first..<cut] { chunks += generation.snapshotSection + generation.events }
            chunks += generations[cut].snapshotSection
            end = EndChunk(events: 0, chunks: 0, droppedEvents: 0,
                           endWallTimeNanoseconds: generations[cut].startWallTimeNanoseconds)
        } else {
            let now = generations.flatMap { $0.events.map(\.endTicks) }.max() ?? fileHeader.startTicks
            first = firstGeneration(endingAt: now, before: generations.count)
            for generation in generations[first...] { chunks += generation.snapshotSection + generation.events }
            end = endChunk
        }
        var header = fileHeader
        header.startTicks = generations[first].startTicks
        header.startWallTimeNanoseconds = generations[first].startWallTimeNanoseconds
        var output = header.encoded()
        for bytes in prelude { output += bytes }
        for chunk in chunks { output += chunk.bytes }
        let events = chunks.reduce(0) { $0 + $1.events }
        if var end {
            end.events = events
            end.chunks = UInt64(chunks.count { $0.isEvents })
            end.droppedEvents = chunks.reduce(0) { $0 + $1.dropped }
            output += end.encoded()
        }
        let last = chunks.map(\.endTicks).max() ?? header.startTicks
        return File(bytes: output, events: events,
                    nanoseconds: header.nanoseconds(fromTicks: max(last, header.startTicks)), isComplete: end != nil)
    }
}
