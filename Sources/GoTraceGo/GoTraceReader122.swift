// Reading Go execution traces of the format Go 1.22 introduced (trace versions 1.22–1.26, Go 1.22–1.27).
//
// Design note
// -----------
// Vocabulary. After the 16-byte header the trace is a sequence of *batches*: `EventBatch [generation, M,
// ticks, length]` and `length` bytes. A *generation* is the set of batches with one generation number; it
// is self-contained: its own string table (a batch starting with `Strings`), stack table (`Stacks`), CPU
// samples (`CPUSamples`) and frequency (a `Frequency` batch; a `Sync` batch with a clock snapshot from
// 1.25). Every other batch holds one M's events in order, each a type byte and varints, the first the ticks
// since the previous event of the batch (the batch header gives the first base). Ids of strings and stacks
// are the generation's own. Generations end at the next generation number (≤ 1.25) or at an in-band
// `EndOfGeneration` byte (1.26). Go writes a generation's tables after its events, the string table last
// (the stack table adds function names to it), so up to 1.25 a generation that does not end with a
// string table was cut short; one cut right after its string table cannot be told from a whole one — by
// us or by Go's parser (docs/go-traces.md). Experimental batches (1.23+) are skipped whole, with one note.
//
// Passes:
//   1. Scan: read every batch header from the file, checking lengths against the bytes left; record where
//      each generation's batches lie, read its tables and frequency (CPU samples are only checked here).
//      Event batches are not read, only skipped over. Strings and stacks
//      get trace-wide ids (equal contents, one id — generations repeat most of them), frames synthetic
//      addresses as in `GoTraceReader` (`GoFrameTable`); each generation keeps its local → trace-wide id maps.
//      A malformed or cut-short batch ends the scan: a diagnostic names the offset; the generations before
//      it, and the events of the cut one that are whole, are read.
//   2. Order, one generation at a time: the generation's bytes (its batches are contiguous: Go writes a
//      generation whole before the next begins, and the scan refuses a trace that goes back) are read into
//      one buffer, which replaces the previous generation's; one cursor per M decodes its batches lazily,
//      one head event at a time. Go states the status of every goroutine and P when it first appears in a generation (GoStatus,
//      ProcStatus), and numbers the transitions another M can cause (GoStart, GoUnblock, GoSwitch carry the
//      goroutine's sequence number, ProcStart and ProcSteal the P's). Of the heads whose preconditions hold
//      (the goroutine or P in the state the event expects, the sequence number the next one), the earliest
//      goes next — Go's own ordering rules (internal/trace order.go), reduced to the conditions that decide
//      *when* an event may go; an event that breaks a rule Go's parser treats as fatal is taken anyway. If no
//      head is ready the trace is inconsistent: reported once, the earliest head goes anyway, so the reader
//      always makes progress. Each M's current P and goroutine are tracked, as Go does, to attribute events.
//      Goroutine, P and M state persists across generations; sequence numbers restart with each status.
//   3. Map (`GoTraceReader122+Mapping`): each ordered event becomes zero to three gotrace events.
// Memory: one generation's bytes (`bufferHighWater` counts them), the trace-wide tables, the generation
// index (a range per batch), one cursor per M of the current generation and one state per goroutine, P and
// M — never a record per event, never the file (a 10-million-event trace reads in the memory of one of its
// generations; docs/performance.md). Rejected: reading the file whole, as `GoTraceReader` must (Go 1.21 and
// before put the tables at the end): it made memory grow with the trace's length.
//
// Robustness: every length is checked against the bytes left, every count against Go's limits; no force
// unwraps on file data; a problem becomes a diagnostic, never a trap.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

public final class GoTraceReader122: Sequence, IteratorProtocol {
    /// Where one batch of an M lies in the file.
    struct BatchRange {
        var m: UInt64
        var range: GoBatchRange
    }

    struct CPUSample {
        var ticks: UInt64
        var m: UInt64
        var p: UInt64
        var g: UInt64
        var stack: UInt64
    }

    /// Local (per-generation) ids to trace-wide ones: a flat array for the dense ids Go hands out, a
    /// dictionary beyond.
    struct IDMap {
        var dense: [UInt64] = []
        var sparse: [UInt64: UInt64] = [:]

        mutating func set(_ local: UInt64, _ global: UInt64) {
            if local < 1 << 20 {
                if Int(local) >= dense.count { dense.append(contentsOf: repeatElement(0, count: Int(local) + 1 - dense.count)) }
                dense[Int(local)] = global
            } else {
                sparse[local] = global
            }
        }

        @inline(__always)
        func get(_ local: UInt64) -> UInt64 {
            if local < UInt64(dense.count) { return dense[Int(local)] }
            return local < 1 << 20 ? 0 : sparse[local] ?? 0
        }
    }

    struct Generation {
        var number: UInt64
        /// File offsets of its first batch and of the end of its last.
        var offset: Int
        var end: Int
        /// Event batches; positions are file offsets.
        var batches: [BatchRange] = []
        /// CPU sample batches (`CPUSamples` byte included), decoded when the generation is opened.
        var sampleBatches: [BatchRange] = []
        var ticksPerSecond: UInt64 = 0
        var strings = IDMap()
        var stacks = IDMap()
        /// Stacks as read, resolved when the generation is closed (its strings may come after its stacks).
        var rawStacks: [(id: UInt64, frames: [(pc: UInt64, function: UInt64, file: UInt64, line: UInt64)])] = []
        var localStrings: [UInt64: [UInt8]] = [:]
        /// False when the scan stopped inside it.
        var isWhole = true
        /// Whether its last batch (experimental ones aside) was a string table: up to Go 1.25 the only sign
        /// that a generation is whole (see the design note).
        var endsWithStrings = false
    }

    /// An event as the order pass sees it.
    struct Event {
        var type: UInt8 = 0
        var ticks: UInt64 = 0
        /// Where in `bytes` (add `bufferBase` for the file offset).
        var offset = 0
        var args: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    }

    /// One M's cursor over its batches in the current generation.
    struct Cursor {
        var m: UInt64
        var machine: Int
        var walk: GoBatchWalk
        var head = Event()
        var hasHead = false
    }

    struct GoroutineOrder {
        var status: UInt8 = 0  // GoEventType122.GoroutineStatus; 0: not seen
        var seq: UInt64 = 0
        var generation: UInt64 = 0
    }

    struct ProcOrder {
        var status: UInt8 = 0  // GoEventType122.ProcStatus; 0: not seen
        var seq: UInt64 = 0
        var generation: UInt64 = 0
    }

    /// Per-P order state, nil for a P not seen: a flat table for Go's P ids (0..<GOMAXPROCS), a dictionary
    /// beyond 2^16 (only a damaged trace has such ids). Rejected: a `Dictionary` alone. The order pass asks
    /// for the P of every waiting ProcStart head at each step, and hashing took ~9% of `gotrace report`'s
    /// instructions on a Go 1.27 trace (callgrind, docs/performance.md).
    struct ProcTable {
        private var dense = GoRawArray<ProcOrder?>()
        private var sparse: [UInt64: ProcOrder] = [:]

        subscript(p: UInt64) -> ProcOrder? {
            get { p < UInt64(dense.count) ? dense[Int(p)] : p < 1 << 16 ? nil : sparse[p] }
            set {
                guard p < 1 << 16 else {
                    sparse[p] = newValue
                    return
                }
                if Int(p) >= dense.count { dense.grow(by: Int(p) + 1 - dense.count, filling: nil) }
                dense[Int(p)] = newValue
            }
        }

        /// Ownership as `GoRawArray`'s: the reader's deinit calls it once.
        func deallocate() { dense.deallocate() }
    }

    /// An M's current P and goroutine (Go's scheduling context of its events).
    struct MachineState {
        var id: UInt64
        var p: UInt64 = UInt64.max
        var g: UInt64 = 0
    }

    public let fileName: String
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off, as in `GoTraceReader` (docs/performance.md).
    public let includeSystemGoroutines: Bool
    @exclusivity(unchecked) public private(set) var version: Int?
    @exclusivity(unchecked) var problems: GoTraceProblems
    @exclusivity(unchecked) public internal(set) var isComplete = false
    @exclusivity(unchecked) public private(set) var fileSize: UInt64 = 0
    @exclusivity(unchecked) public private(set) var strings: [UInt64: [UInt8]] = [:]
    @exclusivity(unchecked) public private(set) var stacks: [UInt64: [UInt64]] = [:]
    @exclusivity(unchecked) var frameTable = GoFrameTable()
    /// Generations the scan found (a cut-short last one included).
    @exclusivity(unchecked) public private(set) var generationCount = 0
    @exclusivity(unchecked) public internal(set) var eventsRead: UInt64 = 0
    @exclusivity(unchecked) public internal(set) var outOfOrderTimestamps: UInt64 = 0
    /// Ticks per second of the first generation (an assumed value if it has none).
    @exclusivity(unchecked) public private(set) var ticksPerSecond: UInt64 = GoTraceReader.assumedTicksPerSecond
    /// Wall-clock time of the trace's time 0 (its first batch), nanoseconds since 1970, from the first clock
    /// snapshot (Go 1.25+); 0 without one.
    @exclusivity(unchecked) public private(set) var startWallNanoseconds: UInt64 = 0
    /// The first clock snapshot: (ticks, wall nanoseconds).
    @exclusivity(unchecked) var clockSnapshot: (ticks: UInt64, wall: UInt64)?

    /// Where the bytes come from: the file `TraceFile.open` opened, or an array given to `init(bytes:)`.
    let source: any TraceByteSource
    /// The bytes loaded last (a batch header or table during the scan, a whole generation for the order
    /// pass), file offsets `bufferBase..<bufferBase + bytes.count`. Safety: a view of `storage`'s first
    /// `bytes.count` bytes, remade by `load`, the only writer; every index is checked against `count` before
    /// use; one thread.
    @exclusivity(unchecked) var bytes = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    @exclusivity(unchecked) var bufferBase = 0
    /// Safety: allocated by `load` (which frees the previous one when it needs more room), freed in deinit.
    @exclusivity(unchecked) var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The largest buffer `load` needed, in bytes: one generation, not the file (the streaming invariant).
    @exclusivity(unchecked) public private(set) var bufferHighWater = 0
    @exclusivity(unchecked) var generations: [Generation] = []
    @exclusivity(unchecked) var stringIndex: [[UInt8]: UInt64] = [:]
    @exclusivity(unchecked) var stackIndex: [[UInt64]: UInt64] = [:]
    /// Park reason per trace-wide string id (`ParkReason` raw value + 1; 0: not classified yet).
    @exclusivity(unchecked) var reasonOfString: [UInt8] = []
    /// The trace-wide id of GoStop's reason "preempted" (0 if the trace has none).
    @exclusivity(unchecked) var preemptedString: UInt64 = 0
    /// Varints per event type for the per-event decode, for this trace's version (0xFF: not a type of an M's
    /// batch in this version): the table's entries carry strings and arrays, too costly to copy per event.
    @exclusivity(unchecked) var argumentCounts = [UInt8](repeating: 0xFF, count: 256)
    /// Per trace-wide stack id, whether it was classified, and the park reason its frames imply (for
    /// goroutines whose status says waiting without a reason).
    @exclusivity(unchecked) var reasonOfStack: [UInt64: ParkReason] = [:]
    @exclusivity(unchecked) var system = DenseIdSet(denseBelow: 1 << 20)
    /// Goroutines that predate the trace and whose entry function no event has shown yet.
    @exclusivity(unchecked) var entryUnknown: Set<UInt64> = []

    // Order state.
    @exclusivity(unchecked) var generationIndex = -1
    @exclusivity(unchecked) var generation = Generation(number: 0, offset: 0, end: 0)
    /// One cursor per M of the current generation. Safety: allocated in `openNextGeneration` for `cursorCount`
    /// cursors, deinitialised and freed there (for the next generation) and in deinit; one thread. A raw
    /// buffer rather than an array: the per-event updates neither copy a `Cursor` nor check uniqueness.
    @exclusivity(unchecked) var cursors = UnsafeMutablePointer<Cursor>.allocate(capacity: 1)
    @exclusivity(unchecked) var cursorCount = 0
    @exclusivity(unchecked) var samples: [CPUSample] = []
    @exclusivity(unchecked) var sampleIndex = 0
    /// Per goroutine id below 2^20 (raw, written in place: `GoRawArray`).
    @exclusivity(unchecked) var goroutines = GoRawArray<GoroutineOrder>()
    @exclusivity(unchecked) var sparseGoroutines: [UInt64: GoroutineOrder] = [:]
    @exclusivity(unchecked) var procs = ProcTable()
    @exclusivity(unchecked) var machines = GoRawArray<MachineState>()
    @exclusivity(unchecked) var machineIndex: [UInt64: Int] = [:]
    @exclusivity(unchecked) var clock = GoTickClock()
    @exclusivity(unchecked) var lastNanoseconds: UInt64 = 0
    @exclusivity(unchecked) var reportedInconsistency = false
    @exclusivity(unchecked) var reportedBadEvent = false
    @exclusivity(unchecked) var reportedMissingStack = false
    @exclusivity(unchecked) var blockedInSyscall: Set<UInt64> = []
    /// Mapped events waiting to be returned: an event maps to at most three.
    @exclusivity(unchecked) var pending = GoPendingEvents()
    let eventView = GoTraceEventView()

    public convenience init(bytes: [UInt8], fileName: String = "<memory>", includeSystemGoroutines: Bool = false) {
        self.init(source: MemoryByteSource(bytes), fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
    }

    /// Reads a trace from an open source (the one opener's, `TraceFile.open`); `fileName` names it in diagnostics.
    public init(source: any TraceByteSource, fileName: String, includeSystemGoroutines: Bool = false) {
        self.fileName = fileName
        problems = GoTraceProblems(fileName: fileName)
        self.includeSystemGoroutines = includeSystemGoroutines
        self.source = source
        fileSize = source.size
        start()
    }

    deinit {
        storage.deallocate()
        goroutines.deallocate()
        procs.deallocate()
        machines.deallocate()
        cursors.deinitialize(count: cursorCount)
        cursors.deallocate()
        pending.deallocate()
    }

    /// Makes `bytes` the file's bytes `offset..<offset + count` (fewer at the end of the file); false on a
    /// read error. The buffer grows to the largest request and is reused: its size is `bufferHighWater`.
    func load(_ offset: Int, _ count: Int) -> Bool {
        if storage.count < count {
            storage.deallocate()
            storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
            bufferHighWater = Swift.max(bufferHighWater, count)
        }
        // Safety: `count` ≤ `storage.count`; the view covers only what the read filled.
        let destination = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
        let filled: Int
        if let file = source as? FileByteSource {
            filled = FileByteSource.readFully(file.fileDescriptor, at: UInt64(offset), into: destination)
        } else if let read = source.read(at: UInt64(offset), count: count) {
            destination.copyBytes(from: read)
            filled = read.count
        } else {
            filled = 0
        }
        bufferBase = offset
        bytes = UnsafeMutableBufferPointer(start: storage.baseAddress?.assumingMemoryBound(to: UInt8.self), count: filled)
        return filled == Swift.min(count, Swift.max(Int(clamping: fileSize) - offset, 0))
    }

    private func start() {
        _ = load(0, GoTraceHeader.size)
        switch GoTraceHeader.check(Array(bytes), generational: true) {
        case .problem(let offset, let what):
            fail(offset, what)
        case .version(let version):
            self.version = version
            scan()
            ticksPerSecond = generations.first(where: { $0.ticksPerSecond != 0 })?.ticksPerSecond ?? ticksPerSecond
            clock.minTicks = generations.first?.batches.map(\.range.ticks).min() ?? 0
            if let snapshot = clockSnapshot {
                // The snapshot's wall time, moved to time 0 at the first generation's rate.
                // Integers for the wall time (a Double's step at 1.7e18 ns is 256 ns); the offset is small.
                let offset = (Double(snapshot.ticks) - Double(clock.minTicks)) * 1e9 / Double(ticksPerSecond)
                if abs(offset) < 1e18, let wall = Int64(exactly: snapshot.wall) {
                    startWallNanoseconds = UInt64(clamping: wall - Int64(offset))
                }
            }
        }
    }

    // MARK: Pass 1: scan

    @inline(__always)
    func varint(_ position: inout Int, limit: Int) -> UInt64? { bytes.goVarint(&position, limit: limit) }

    /// A batch header is at most a type byte, an experiment byte and four varints of 10 bytes; the scan
    /// reads this much at each batch, so the body's first byte (which says whether it is a table) comes too.
    static let batchHeaderWindow = 64

    private func scan() {
        let version = self.version ?? 1022
        let size = Int(clamping: fileSize)
        var position = GoTraceHeader.size
        var current: Generation?
        var skippedExperimental = 0
        var complete = true
        func close() {
            guard var closing = current else { return }
            current = nil
            resolveStacks(&closing)
            if closing.ticksPerSecond == 0 && closing.isWhole {
                report(closing.offset, "generation \(closing.number) has no frequency")
                complete = false
            } else if version < 1026 && closing.isWhole && !closing.endsWithStrings {
                report(closing.end, "truncated: generation \(closing.number) does not end with its string table, which Go writes last; read up to here")
                complete = false
            }
            generations.append(closing)
        }
        scanning: while position < size {
            let batchOffset = position
            /// A problem here ends the scan: what is before the batch is read.
            func stop(_ what: String) {
                report(batchOffset, what)
                complete = false
            }
            guard load(batchOffset, Swift.min(GoTraceReader122.batchHeaderWindow, size - batchOffset)) else {
                stop("read error; read up to here")
                break
            }
            // Positions in the header window; `bytes` ends where the file does or 64 bytes on.
            var local = 0
            let type = bytes[local]
            local += 1
            if type == GoEventType122.endOfGeneration && version >= 1026 {
                if current == nil { report(batchOffset, "end of a generation that has no batches") }
                current?.end = batchOffset + 1
                close()
                position = batchOffset + 1
                continue
            }
            var experiment: UInt8 = 0
            if type == GoEventType122.experimentalBatch && version >= 1023 {
                guard local < bytes.count else {
                    stop("truncated: the trace ends inside a batch header; read up to here")
                    break
                }
                experiment = bytes[local]
                local += 1
            } else if type != GoEventType122.eventBatch {
                stop("malformed: expected a batch, found event type \(type); read up to here")
                break
            }
            guard let number = varint(&local, limit: bytes.count), let m = varint(&local, limit: bytes.count),
                  let ticks = varint(&local, limit: bytes.count), let length = varint(&local, limit: bytes.count)
            else {
                stop("truncated: the trace ends inside a batch header; read up to here")
                break
            }
            guard length <= GoEventType122.maxBatchSize, number != 0 else {
                stop("malformed batch header (generation \(number), length \(length)); read up to here")
                break
            }
            let bodyStart = batchOffset + local
            var end = bodyStart + Int(length)
            var cut = false
            if end > size {
                report(batchOffset, "truncated: the trace ends inside a batch; read up to here")
                complete = false
                end = size
                cut = true
            }
            if let open = current, open.number != number {
                if number < open.number || version >= 1026 {
                    stop("generation \(number) after generation \(open.number) (missing end of generation?); read up to here")
                    break
                }
                close()
            }
            if current == nil {
                if let last = generations.last, number <= last.number {
                    stop("generation \(number) after generation \(last.number); read up to here")
                    break
                }
                current = Generation(number: number, offset: batchOffset, end: end)
            }
            current?.end = end
            if cut { current?.isWhole = false }
            position = end
            if experiment != 0 {
                skippedExperimental += 1
                continue
            }
            guard bodyStart < end else { continue }
            current?.endsWithStrings = bytes[local] == GoEventType122.strings
            // bodyStart < end ≤ size and the header took ≤ 42 of the window's bytes: the first is loaded.
            let batch = BatchRange(m: m, range: GoBatchRange(start: bodyStart, end: end, ticks: ticks))
            let first = bytes[local]
            let isTable = first == GoEventType122.strings || first == GoEventType122.stacks
                || first == GoEventType122.cpuSamples
                || (first == GoEventType122.frequency && version < 1025) || (first == GoEventType122.sync && version >= 1025)
            guard isTable else {
                current?.batches.append(batch)
                if cut { break }
                continue
            }
            guard load(bodyStart, end - bodyStart) else {
                stop("read error; read up to here")
                current?.isWhole = false
                break
            }
            let problem: String?
            switch first {
            case GoEventType122.strings:
                problem = readStrings(1, bytes.count, into: &current)
            case GoEventType122.stacks:
                problem = readStacks(1, bytes.count, into: &current)
            case GoEventType122.cpuSamples:
                // Checked now, decoded when the generation is opened (samples are per event: kept, they would
                // grow with the trace).
                var samples: [CPUSample] = []
                problem = readSamples(1, bytes.count, into: &samples)
                current?.sampleBatches.append(batch)
            default:
                problem = readSync(version >= 1025 ? 1 : 0, bytes.count, base: ticks, into: &current)
            }
            if let problem {
                stop(problem)
                current?.isWhole = false
                break scanning
            }
            if cut { break }
        }
        if let open = current {
            if version >= 1026 || !complete {
                // 1.26 ends every generation in band: one that is still open was cut short.
                if open.isWhole && complete {
                    report(size, "truncated: the last generation has no end (the program died?); read up to here")
                }
                current?.isWhole = false
                complete = false
            }
            close()
        }
        if skippedExperimental > 0 {
            report(GoTraceHeader.size, "\(skippedExperimental) experimental batch(es) skipped (Go's experiments, e.g. alloc/free events, have no gotrace kind)")
        }
        if generations.isEmpty && complete {
            report(size, "no generations: the trace has a header and nothing else")
        }
        isComplete = complete
        generationCount = generations.count
        reasonOfString = [UInt8](repeating: 0, count: strings.count + 1)
        preemptedString = stringIndex[Array("preempted".utf8)] ?? 0
        for case let type? in GoEventType122.table where type.isTimed && type.since <= version {
            argumentCounts[Int(type.code)] = UInt8(type.arguments)
        }
    }

    private func readStrings(_ start: Int, _ end: Int, into generation: inout Generation?) -> String? {
        var position = start
        while position < end {
            guard bytes[position] == GoEventType122.string else { return "malformed string table: event type \(bytes[position])" }
            position += 1
            guard let id = varint(&position, limit: end), let length = varint(&position, limit: end) else {
                return "truncated string table entry"
            }
            guard length <= GoEventType122.maxStringLength, UInt64(end - position) >= length else {
                return "string \(id) has a bad length \(length)"
            }
            let text = Array(bytes[position..<position + Int(length)])
            position += Int(length)
            generation?.localStrings[id] = text
            generation?.strings.set(id, globalString(text))
        }
        return nil
    }

    func globalString(_ text: [UInt8]) -> UInt64 {
        if let known = stringIndex[text] { return known }
        let id = UInt64(stringIndex.count + 1)
        stringIndex[text] = id
        strings[id] = text
        return id
    }

    private func readStacks(_ start: Int, _ end: Int, into generation: inout Generation?) -> String? {
        var position = start
        while position < end {
            guard bytes[position] == GoEventType122.stack else { return "malformed stack table: event type \(bytes[position])" }
            position += 1
            guard let id = varint(&position, limit: end), let count = varint(&position, limit: end) else {
                return "truncated stack table entry"
            }
            guard count <= GoEventType122.maxFrames else { return "stack \(id) has \(count) frames (Go writes at most 128)" }
            var frames: [(pc: UInt64, function: UInt64, file: UInt64, line: UInt64)] = []
            frames.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let pc = varint(&position, limit: end), let function = varint(&position, limit: end),
                      let file = varint(&position, limit: end), let line = varint(&position, limit: end)
                else { return "truncated frame in stack \(id)" }
                frames.append((pc, function, file, line))
            }
            generation?.rawStacks.append((id, frames))
        }
        return nil
    }

    /// Gives the generation's stacks trace-wide ids, now that its strings are known.
    private func resolveStacks(_ generation: inout Generation) {
        for (id, rawFrames) in generation.rawStacks where id != 0 {
            var addresses: [UInt64] = []
            addresses.reserveCapacity(rawFrames.count)
            for raw in rawFrames {
                addresses.append(frameTable.address(of: TraceFrame(
                    pc: raw.pc, function: text(generation.localStrings[raw.function]),
                    file: text(generation.localStrings[raw.file]), line: Int(clamping: raw.line))))
            }
            let global: UInt64
            if let known = stackIndex[addresses] {
                global = known
            } else {
                global = UInt64(stackIndex.count + 1)
                stackIndex[addresses] = global
                stacks[global] = addresses
            }
            generation.stacks.set(id, global)
        }
        generation.rawStacks = []
        generation.localStrings = [:]
    }

    private func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "?" }

    private func readSamples(_ start: Int, _ end: Int, into samples: inout [CPUSample]) -> String? {
        var position = start
        while position < end {
            guard bytes[position] == GoEventType122.cpuSample else { return "malformed CPU samples: event type \(bytes[position])" }
            position += 1
            guard let ticks = varint(&position, limit: end), let m = varint(&position, limit: end),
                  let p = varint(&position, limit: end), let g = varint(&position, limit: end),
                  let stack = varint(&position, limit: end)
            else { return "truncated CPU sample" }
            samples.append(CPUSample(ticks: ticks, m: m, p: p, g: g, stack: stack))
        }
        return nil
    }

    /// A frequency batch (≤ 1.23) or a sync batch (1.25+: frequency and a clock snapshot).
    private func readSync(_ start: Int, _ end: Int, base: UInt64, into generation: inout Generation?) -> String? {
        var position = start
        while position < end {
            let type = bytes[position]
            position += 1
            switch type {
            case GoEventType122.frequency:
                guard let frequency = varint(&position, limit: end), frequency > 0 else { return "bad frequency event" }
                generation?.ticksPerSecond = frequency
            case GoEventType122.clockSnapshot:
                // [ticks since the batch's base, monotonic ns, wall seconds, wall nanoseconds]
                guard let delta = varint(&position, limit: end), let _ = varint(&position, limit: end),
                      let seconds = varint(&position, limit: end), let nanoseconds = varint(&position, limit: end)
                else { return "truncated clock snapshot" }
                if clockSnapshot == nil, seconds < 1 << 33, nanoseconds < 1_000_000_000 {
                    clockSnapshot = (base &+ delta, seconds * 1_000_000_000 + nanoseconds)
                }
            default:
                return "malformed sync batch: event type \(type)"
            }
        }
        return nil
    }

    // MARK: Pass 2: order

    /// Moves to the next generation that has events; false at the end.
    func openNextGeneration() -> Bool {
        while generationIndex + 1 < generations.count {
            generationIndex += 1
            generation = generations[generationIndex]
            guard load(generation.offset, generation.end - generation.offset) else {
                report(generation.offset, "read error in generation \(generation.number) (the file changed?); it is skipped")
                isComplete = false
                continue
            }
            if generation.ticksPerSecond == 0 {
                report(generation.offset, "generation \(generation.number) has no frequency (the trace was cut short): durations assume the previous generation's, or \(GoTraceReader.assumedTicksPerSecond) ticks per second")
            }
            clock.setFrequency(generation.ticksPerSecond != 0 ? generation.ticksPerSecond : nil)
            var byMachine: [UInt64: Int] = [:]
            var made: [Cursor] = []
            // Batch positions from file offsets to positions in the generation's buffer.
            let base = bufferBase
            for var batch in generation.batches {
                batch.range.start -= base
                batch.range.end -= base
                if let index = byMachine[batch.m] {
                    made[index].walk.batches.append(batch.range)
                } else {
                    byMachine[batch.m] = made.count
                    made.append(Cursor(m: batch.m, machine: machine(batch.m), walk: GoBatchWalk(batches: [batch.range])))
                }
            }
            cursors.deinitialize(count: cursorCount)
            cursors.deallocate()
            cursors = UnsafeMutablePointer<Cursor>.allocate(capacity: Swift.max(made.count, 1))
            cursors.initialize(from: made, count: made.count)
            cursorCount = made.count
            for index in 0..<cursorCount { advance(index) }
            var decoded: [CPUSample] = []
            for batch in generation.sampleBatches {
                if let problem = readSamples(batch.range.start - base + 1, batch.range.end - base, into: &decoded) {
                    report(batch.range.start, "\(problem) (the file changed?)")
                    isComplete = false
                }
            }
            samples = decoded.sorted { $0.ticks < $1.ticks }
            sampleIndex = 0
            generations[generationIndex].batches = []
            generations[generationIndex].sampleBatches = []
            if (0..<cursorCount).contains(where: { cursors[$0].hasHead }) || !samples.isEmpty { return true }
        }
        return false
    }

    /// The index of M `id`'s state, made on first sight. `UInt64.max` is Go's "no M".
    func machine(_ id: UInt64) -> Int {
        if let index = machineIndex[id] { return index }
        machineIndex[id] = machines.count
        machines.append(MachineState(id: id))
        return machines.count - 1
    }

    /// Decodes cursor `index`'s next event into its head (or clears `hasHead` at its end or at damage).
    func advance(_ index: Int) {
        while true {
            guard cursors[index].walk.hasBytes() else {
                cursors[index].hasHead = false
                return
            }
            var position = cursors[index].walk.position
            let end = cursors[index].walk.end
            let offset = position
            let type = bytes[position]
            position += 1
            let arguments = argumentCounts[Int(type)]
            guard arguments != 0xFF else {
                damaged(offset, index, "unknown event type \(type) in an M's batch")
                continue
            }
            var values: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
            var ok = true
            for argument in 0..<Int(arguments) {
                guard let value = varint(&position, limit: end) else {
                    ok = false
                    break
                }
                switch argument {
                case 0: values.0 = value
                case 1: values.1 = value
                case 2: values.2 = value
                case 3: values.3 = value
                default: values.4 = value
                }
            }
            guard ok else {
                damaged(offset, index, "truncated or malformed \(GoEventType122.table[Int(type)]?.name ?? "event")")
                continue
            }
            let (ticks, overflow) = cursors[index].walk.ticks.addingReportingOverflow(values.0)
            cursors[index].walk.ticks = overflow ? cursors[index].walk.ticks : ticks
            cursors[index].walk.position = position
            cursors[index].head = Event(type: type, ticks: cursors[index].walk.ticks, offset: offset,
                                        args: (values.1, values.2, values.3, values.4))
            cursors[index].hasHead = true
            return
        }
    }

    /// The rest of a batch cannot be decoded: skip to the next one.
    private func damaged(_ offset: Int, _ index: Int, _ what: String) {
        if !reportedBadEvent {
            reportedBadEvent = true
            report(offset + bufferBase, "\(what); the rest of the batch is skipped")
        }
        isComplete = false
        cursors[index].walk.position = cursors[index].walk.end
    }

    // MARK: Goroutine, P and M state

    @inline(__always)
    func goroutine(_ g: UInt64) -> GoroutineOrder {
        if g < UInt64(goroutines.count) { return goroutines[Int(g)] }
        return g < 1 << 20 ? GoroutineOrder() : sparseGoroutines[g] ?? GoroutineOrder()
    }

    @inline(__always)
    func setGoroutine(_ g: UInt64, _ state: GoroutineOrder) {
        if g < 1 << 20 {
            if Int(g) >= goroutines.count {
                goroutines.grow(by: Swift.max(Int(g) + 1 - goroutines.count, goroutines.count), filling: GoroutineOrder())
            }
            goroutines[Int(g)] = state
        } else {
            sparseGoroutines[g] = state
        }
    }

    /// Whether the head of `cursor` may go now (Go's ordering preconditions; see the design note).
    func isReady(_ cursor: Int) -> Bool {
        let event = cursors[cursor].head
        let generationNumber = generation.number
        switch event.type {
        case GoEventType122.goStart:
            let state = goroutine(event.args.0)
            return state.status == GoEventType122.GoroutineStatus.runnable.rawValue
                && state.generation == generationNumber && event.args.1 == state.seq &+ 1
        case GoEventType122.goUnblock, GoEventType122.goSwitch, GoEventType122.goSwitchDestroy:
            let state = goroutine(event.args.0)
            return state.status == GoEventType122.GoroutineStatus.waiting.rawValue
                && state.generation == generationNumber && event.args.1 == state.seq &+ 1
        case GoEventType122.procStart:
            let state = procs[event.args.0] ?? ProcOrder()
            return state.status == GoEventType122.ProcStatus.idle.rawValue && state.generation == generationNumber
                && event.args.1 == state.seq &+ 1
        case GoEventType122.procSteal:
            let state = procs[event.args.0] ?? ProcOrder()
            return (state.status == GoEventType122.ProcStatus.syscall.rawValue
                    || state.status == GoEventType122.ProcStatus.syscallAbandoned.rawValue)
                && state.generation == generationNumber && event.args.1 == state.seq &+ 1
        case GoEventType122.goSyscallEndBlocked:
            // Waits for the ProcSteal that took its P, if it still has one in a syscall.
            let p = machines[cursors[cursor].machine].p
            return p == UInt64.max || procs[p]?.status != GoEventType122.ProcStatus.syscall.rawValue
        default:
            return true
        }
    }

    /// The cursor whose head goes next (`cursors.count` for the CPU samples), or -1 at the generation's end.
    func nextCursor() -> Int {
        var best = -1
        var bestTicks = UInt64.max
        for index in 0..<cursorCount where cursors[index].hasHead && cursors[index].head.ticks < bestTicks {
            if isReady(index) {
                best = index
                bestTicks = cursors[index].head.ticks
            }
        }
        if sampleIndex < samples.count && (best < 0 || samples[sampleIndex].ticks < bestTicks) { return cursorCount }
        if best >= 0 { return best }
        for index in 0..<cursorCount where cursors[index].hasHead && cursors[index].head.ticks < bestTicks {
            best = index
            bestTicks = cursors[index].head.ticks
        }
        if best >= 0 && !reportedInconsistency {
            reportedInconsistency = true
            isComplete = false
            report(cursors[best].head.offset + bufferBase,
                   "no consistent ordering of events possible (sequence numbers or statuses disagree); continuing in timestamp order")
        }
        return best
    }

    /// Ticks to nanoseconds since the first event (`GoTickClock`); never backwards.
    func nanoseconds(_ ticks: UInt64) -> UInt64 {
        var result = clock.nanoseconds(ticks)
        if result < lastNanoseconds {
            outOfOrderTimestamps += 1
            result = lastNanoseconds
        }
        lastNanoseconds = result
        return result
    }

    // MARK: Iteration

    /// Orders and maps until at least one event is pending; false at the end.
    func fillPending() -> Bool {
        pending.count = 0
        pending.index = 0
        guard problems.fatal == nil else { return false }
        while pending.count == 0 {
            if generationIndex < 0 || generationIndex >= generations.count {
                guard openNextGeneration() else { return false }
            }
            let chosen = nextCursor()
            if chosen < 0 {
                guard openNextGeneration() else { return false }
                continue
            }
            if chosen == cursorCount {
                mapSample(samples[sampleIndex])
                sampleIndex += 1
            } else {
                map(cursor: chosen)
                advance(chosen)
            }
        }
        return true
    }
}
