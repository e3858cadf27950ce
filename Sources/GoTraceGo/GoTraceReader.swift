// Reading Go execution traces (Go 1.11–1.21) as gotrace events.
//
// Design note
// -----------
// A Go trace is a 16-byte header (`go 1.N trace`) followed by events. Each event is a byte (6-bit type,
// 2-bit argument count minus one; 3 means "a length in bytes follows") and varint arguments, the first
// being the time since the previous event of the same batch. Events come in per-P batches (`Batch [p,
// ticks]`); the string table is interleaved (`String`), the stack table (`Stack`: id, frame count, then
// pc/function/file/line per frame) and the tick frequency come at the end. The reader works in passes:
//   1. Scan: decode every event once, checking each against `GoEventType.table`, recording where each
//      P's batches are, the strings, the stacks (frames get synthetic addresses, see `GoFrameTable`), the
//      frequency, the CPU samples and the values of user logs. Nothing is kept per event. A malformed or
//      cut-short event ends the scan: a diagnostic names the offset, everything before it is used.
//   2. Order: per P a cursor decodes its batches again lazily, one head event at a time. Go 1.7+ traces
//      are ordered as Go's parser orders them (internal/trace/order.go): per-goroutine sequence numbers
//      on GoStart/GoUnblock/GoSysExit say which head may go next; among the heads whose goroutine is in
//      the state the event expects, the smallest timestamp goes first. If no head is ready the trace is
//      inconsistent: the reader reports it once and takes the smallest timestamp anyway, so it always
//      makes progress. A timestamp smaller than the previous one ("time stamps out of order", which Go's
//      parser rejects) is reported once and raised to the previous one.
//   3. Map: each ordered Go event becomes zero, one or two gotrace events (`GoTraceReader+Mapping`).
// Memory: the file's bytes, the string and stack tables, one cursor per P and one state per goroutine —
// never a record per event (Go's own parser keeps ~200 bytes per event).
//
// Robustness: every length is checked against the bytes left, every count against what those bytes can
// hold; no force unwraps on file data; a problem becomes a diagnostic, never a trap.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

/// A gotrace event produced from a Go event: plain values, no allocation.
public struct GoMappedEvent: Sendable {
    static let empty = GoMappedEvent(kind: .end, nanoseconds: 0, machine: 0, proc: 0, goroutine: 0, argumentCount: 0)

    public var kind: EventKind
    public var nanoseconds: UInt64
    public var machine: UInt64
    /// `UInt64.max` when the event has no P (Go's global buffer).
    public var proc: UInt64
    /// `UInt64.max` when no goroutine is concerned.
    public var goroutine: UInt64
    public var arguments: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    public var argumentCount: Int
}

public final class GoTraceReader: Sequence, IteratorProtocol {
    typealias BatchRange = GoBatchRange

    /// An event as the order pass sees it (Go's layout: arguments after the timestamp, stack apart).
    struct GoEvent {
        var type: UInt8 = 0
        var ticks: UInt64 = 0
        var offset: Int = 0
        var p: Int64 = 0
        var g: UInt64 = 0
        var args: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var stack: UInt64 = 0
    }

    /// One P's cursor.
    struct Stream {
        var p: Int64
        var walk: GoBatchWalk
        var currentG: UInt64 = 0
        var thread: UInt64 = 0
        var head = GoEvent()
        var hasHead = false
        var inFrontier = false
        /// `transition(of: head)`, computed when the head is decoded.
        var transition: Transition = (GoTraceReader.unordered, 0, 0, 0, 0)
        /// CPU samples form their own stream, sorted by their own timestamps (as Go's parser does).
        var samples: [GoEvent] = []
        var isSampleStream = false
    }

    struct GoroutineOrder {
        var seq: UInt64 = 0
        var status: UInt8 = 0  // 0 dead, 1 runnable, 2 running, 3 waiting (Go's gStatus)
    }

    public let fileName: String
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    /// Go version × 1000 + minor (1019 for `go 1.19 trace`); nil if the header was not read.
    @exclusivity(unchecked) public private(set) var version: Int?
    @exclusivity(unchecked) var problems: GoTraceProblems
    /// False when the trace was cut short (no frequency event, or a truncated or malformed event).
    @exclusivity(unchecked) public internal(set) var isComplete = false
    @exclusivity(unchecked) public private(set) var fileSize: UInt64 = 0
    /// Ticks per second from the trace's frequency event (an assumed value if the trace has none).
    @exclusivity(unchecked) public private(set) var ticksPerSecond: UInt64 = GoTraceReader.assumedTicksPerSecond
    /// Go strings by id, plus the values of user logs under ids above Go's.
    @exclusivity(unchecked) public private(set) var strings: [UInt64: [UInt8]] = [:]
    /// Stacks by Go stack id: synthetic frame addresses, innermost first.
    @exclusivity(unchecked) public private(set) var stacks: [UInt64: [UInt64]] = [:]
    @exclusivity(unchecked) var frameTable = GoFrameTable()
    /// Go events decoded by the scan, and gotrace events produced so far.
    @exclusivity(unchecked) public private(set) var goEventCount: UInt64 = 0
    @exclusivity(unchecked) public internal(set) var eventsRead: UInt64 = 0
    /// Events whose timestamps stepped back and were raised to the previous one.
    @exclusivity(unchecked) public internal(set) var outOfOrderTimestamps: UInt64 = 0
    /// Goroutines the Go runtime runs for itself (entry function in package runtime, except runtime.main);
    /// their events are left out unless `includeSystemGoroutines` (see docs/go-traces.md).
    @exclusivity(unchecked) var system = DenseIdSet(denseBelow: 1 << 20)
    public let includeSystemGoroutines: Bool
    /// The ids in the stack table (checked for every event with a stack).
    @exclusivity(unchecked) var stackDefined = DenseIdSet(denseBelow: 1 << 20)
    @exclusivity(unchecked) var reportedMissingStack = false

    /// Go 1.19 on amd64 ticks at the TSC rate / 64; with no frequency event (a trace cut short) the reader
    /// assumes a 2.5 GHz TSC, so durations are approximate — and says so.
    static let assumedTicksPerSecond: UInt64 = 2_500_000_000 / 64
    /// Go's parser refuses stacks deeper than this and strings longer than 1e6 bytes; so do we.
    static let maxFrames: UInt64 = 1000
    static let maxStringLength: UInt64 = 1_000_000

    /// The file's bytes. Safety: allocated once in `adopt`, freed in deinit, never resized; every index is
    /// checked against `count` before use.
    @exclusivity(unchecked) var bytes = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    /// One cursor per P (and one for CPU samples). Safety: allocated once at the end of the scan for
    /// `streamCount` streams, deinitialised and freed in deinit; one thread. A raw buffer rather than an
    /// array: the per-event updates neither copy a `Stream` nor check uniqueness.
    @exclusivity(unchecked) var streams = UnsafeMutablePointer<Stream>.allocate(capacity: 1)
    @exclusivity(unchecked) var streamCount = 0
    /// `GoEventType.table` without its strings, per code, for the per-event decode (reading the table
    /// retains the names and goes through a lazy global: measured ~5%). Safety: 64 entries, freed in deinit.
    let layouts: UnsafeMutablePointer<Layout> = {
        let pointer = UnsafeMutablePointer<Layout>.allocate(capacity: 64)
        pointer.initialize(repeating: Layout(), count: 64)
        return pointer
    }()

    struct Layout {
        var known = false
        var wireArguments = 0
        var plainArguments = 0
        var hasStack = false
    }

    /// Ticks to nanoseconds, from the frequency.
    @exclusivity(unchecked) var clock = GoTickClock()
    @exclusivity(unchecked) var logMessageIDs: [Int: UInt64] = [:]
    /// Per goroutine id below 2^20, written in place (`GoRawArray`: an `Array` checked its buffer's uniqueness on
    /// each write, ~2% of a report of a Go 1.19 trace).
    @exclusivity(unchecked) var order = GoRawArray<GoroutineOrder>()
    @exclusivity(unchecked) var sparseOrder: [UInt64: GoroutineOrder] = [:]
    @exclusivity(unchecked) var gcOrder = GoroutineOrder()
    @exclusivity(unchecked) var lastTicks: UInt64 = 0
    /// The event `nextOrdered` chose last.
    @exclusivity(unchecked) var current = GoEvent()
    @exclusivity(unchecked) var reportedInconsistency = false
    @exclusivity(unchecked) var reportedTimeOrder = false
    @exclusivity(unchecked) var blockedInSyscall: Set<UInt64> = []
    @exclusivity(unchecked) var lastSysBlock: [UInt64: UInt64] = [:]
    /// Mapped events waiting to be returned: a Go event maps to at most two.
    @exclusivity(unchecked) var pending = GoPendingEvents()
    let eventView = GoTraceEventView()

    /// Whether `GOTRACE_GO_SYSTEM_GOROUTINES=1` asks for the runtime's own goroutines to be kept.
    public static var systemGoroutinesRequested: Bool {
        guard let value = getenv("GOTRACE_GO_SYSTEM_GOROUTINES") else { return false }
        return String(cString: value) == "1"
    }

    /// Reads a trace from an open source (the one opener's, `TraceFile.open`); `fileName` names it in diagnostics.
    public init(source: any TraceByteSource, fileName: String, includeSystemGoroutines: Bool = false) {
        self.fileName = fileName
        problems = GoTraceProblems(fileName: fileName)
        self.includeSystemGoroutines = includeSystemGoroutines
        if read(source) { start() }
    }

    public convenience init(bytes: [UInt8], fileName: String = "<memory>", includeSystemGoroutines: Bool = false) {
        self.init(source: MemoryByteSource(bytes), fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
    }

    deinit {
        bytes.deallocate()
        streams.deinitialize(count: streamCount)
        streams.deallocate()
        layouts.deallocate()
        order.deallocate()
        pending.deallocate()
    }

    /// Takes the whole file into memory (`bytes`, freed in deinit); false (and a fatal diagnostic) if it cannot.
    private func read(_ source: any TraceByteSource) -> Bool {
        fileSize = source.size
        guard source.size <= UInt64(Int32.max) else {
            fail(0, "Go trace larger than 2 GiB is not supported")
            return false
        }
        bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Int(source.size))
        // Safety: the read writes at most `bytes.count` bytes; a short read fails the trace before any is used.
        guard source.read(at: 0, into: UnsafeMutableRawBufferPointer(bytes)) == bytes.count else {
            fail(0, "cannot open: read error")
            return false
        }
        return true
    }

    private func start() {
        switch GoTraceHeader.check(Array(bytes.prefix(GoTraceHeader.size)), generational: false) {
        case .problem(let offset, let what):
            fail(offset, what)
            return
        case .version(let version):
            self.version = version
        }
        for code in 0..<Int(GoEventType.count) {
            guard let type = GoEventType.table[code], type.minimumVersion <= version ?? 0 else { continue }
            layouts[code] = Layout(known: true, wireArguments: type.wireArgumentCount, plainArguments: type.arguments,
                                   hasStack: type.hasStack)
        }
        scan()
        if problems.fatal == nil { prepareStreams() }
    }

    // MARK: Raw decoding

    /// A decoded raw event: type, offset, up to 8 varint arguments (the timestamp delta first).
    struct RawEvent {
        var type: UInt8 = 0
        var offset = 0
        var count = 0
        var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        /// For `String` and `UserLog`: the byte range of the text.
        var text: Range<Int> = 0..<0

        subscript(index: Int) -> UInt64 {
            withUnsafeBytes(of: args) { $0.load(fromByteOffset: index * 8, as: UInt64.self) }
        }

        mutating func append(_ value: UInt64) {
            guard count < 8 else { return }
            withUnsafeMutableBytes(of: &args) { $0.storeBytes(of: value, toByteOffset: count * 8, as: UInt64.self) }
            count += 1
        }
    }

    enum RawResult {
        case event(next: Int)
        case malformed(String)
        case truncated
    }

    @inline(__always)
    func varint(_ position: inout Int) -> UInt64? { bytes.goVarint(&position, limit: bytes.count) }

    /// Decodes the event at `position` into `raw`. `stackFrames`, when given, receives every argument of a
    /// `Stack` event (they do not fit the fixed slots).
    func decodeRaw(at position: Int, into raw: inout RawEvent, stackFrames: UnsafeMutablePointer<[UInt64]>? = nil)
        -> RawResult
    {
        var cursor = position
        guard cursor < bytes.count else { return .truncated }
        let head = bytes[cursor]
        cursor += 1
        raw = RawEvent(type: head & 0x3f, offset: position)
        let type = raw.type
        // Safety: type < 64, the table's size.
        let layout = layouts[Int(type)]
        guard layout.known else { return .malformed("unknown Go event type \(type)") }
        func name() -> String { GoEventType.table[Int(type)]?.name ?? "event \(type)" }
        if type == GoEventType.string {
            guard let id = varint(&cursor), let length = varint(&cursor) else { return .truncated }
            guard id != 0, length <= GoTraceReader.maxStringLength else { return .malformed("bad string definition") }
            guard UInt64(bytes.count - cursor) >= length else { return .truncated }
            raw.append(id)
            raw.text = cursor..<cursor + Int(length)
            return .event(next: cursor + Int(length))
        }
        let inline = Int(head >> 6) + 1
        if inline < 4 {
            for _ in 0..<inline {
                guard let value = varint(&cursor) else { return .truncated }
                raw.append(value)
            }
        } else {
            guard let length = varint(&cursor) else { return .truncated }
            guard UInt64(bytes.count - cursor) >= length else { return .truncated }
            let end = cursor + Int(length)
            while cursor < end {
                guard let value = varint(&cursor), cursor <= end else { return .malformed("\(name()) event has a wrong length") }
                if type == GoEventType.stack {
                    stackFrames?.pointee.append(value)
                    if raw.count < 2 { raw.append(value) }
                } else {
                    guard raw.count < 8 else { return .malformed("\(name()) event has too many arguments") }
                    raw.append(value)
                }
            }
        }
        if type == GoEventType.stack {
            if inline < 4 {
                for index in 0..<raw.count { stackFrames?.pointee.append(raw[index]) }
            }
        } else if raw.count != layout.wireArguments {
            return .malformed("\(name()) has \(raw.count) arguments, expected \(layout.wireArguments)")
        }
        if type == GoEventType.userLog {
            guard let length = varint(&cursor) else { return .truncated }
            guard length <= GoTraceReader.maxStringLength else { return .malformed("user log value too long") }
            guard UInt64(bytes.count - cursor) >= length else { return .truncated }
            raw.text = cursor..<cursor + Int(length)
            cursor += Int(length)
        }
        return .event(next: cursor)
    }

    // MARK: Pass 1: scan

    /// Types the scan must decode whole: definitions, batch headers, and events it keeps something of.
    @inline(__always)
    static func isSpecialInScan(_ type: UInt8) -> Bool {
        switch type {
        case GoEventType.batch, GoEventType.frequency, GoEventType.stack, GoEventType.string,
             GoEventType.timerGoroutine, GoEventType.userLog, GoEventType.cpuSample: true
        default: false
        }
    }

    /// Skips `count` varints; false if the bytes end first or a varint is longer than 10 bytes.
    @inline(__always)
    func skipVarints(_ count: Int, _ position: inout Int) -> Bool {
        var left = count
        var length = 0
        while left > 0 {
            guard position < bytes.count else { return false }
            let byte = bytes[position]
            position += 1
            length += 1
            if byte < 0x80 {
                left -= 1
                length = 0
            } else if length >= 10 {
                return false
            }
        }
        return true
    }

    private func scan() {
        var batchesByP: [Int64: [BatchRange]] = [:]
        var current: (p: Int64, range: BatchRange)?
        var position = GoTraceHeader.size
        var sawFrequency = false
        var clean = true
        var raw = RawEvent()
        var stackArguments: [UInt64] = []
        var rawFrames: [(id: UInt64, values: [UInt64])] = []
        var logValues: [(offset: Int, text: Range<Int>)] = []
        var samples: [GoEvent] = []
        var ticks: UInt64 = 0
        var firstTicks = true
        func close(at end: Int) {
            guard var batch = current else { return }
            batch.range.end = end
            batchesByP[batch.p, default: []].append(batch.range)
            current = nil
        }
        while position < bytes.count {
            // Fast path: an ordinary event with its arguments inline (most of a trace) needs only its delta
            // and a check of its argument count; nothing else of it is kept.
            let head = bytes[position]
            let code = Int(head & 0x3f)
            let inline = Int(head >> 6) + 1
            // Safety: code < 64, the table's size.
            if inline < 4, layouts[code].known, !GoTraceReader.isSpecialInScan(UInt8(code)), current != nil {
                guard inline == layouts[code].wireArguments else {
                    report(position, "malformed Go event (\(GoEventType.table[code]?.name ?? "event \(code)") has \(inline) arguments, expected \(layouts[code].wireArguments)); read up to here")
                    clean = false
                    close(at: position)
                    position = bytes.count
                    continue
                }
                var cursor = position + 1
                guard let delta = varint(&cursor), skipVarints(inline - 1, &cursor) else {
                    report(position, "truncated: the trace ends inside an event; read up to here")
                    clean = false
                    close(at: position)
                    position = bytes.count
                    continue
                }
                ticks = ticks &+ delta
                if firstTicks || ticks < clock.minTicks { clock.minTicks = ticks }
                firstTicks = false
                goEventCount += 1
                position = cursor
                continue
            }
            stackArguments.removeAll(keepingCapacity: true)
            let result = withUnsafeMutablePointer(to: &stackArguments) { decodeRaw(at: position, into: &raw, stackFrames: $0) }
            let next: Int
            switch result {
            case .event(let after): next = after
            case .truncated:
                report(position, "truncated: the trace ends inside an event; read up to here")
                clean = false
                close(at: position)
                position = bytes.count
                continue
            case .malformed(let reason):
                report(position, "malformed Go event (\(reason)); read up to here")
                clean = false
                close(at: position)
                position = bytes.count
                continue
            }
            switch raw.type {
            case GoEventType.batch:
                close(at: position)
                current = (Int64(bitPattern: raw[0]), BatchRange(start: next, end: next, ticks: raw[1]))
                ticks = raw[1]
            case GoEventType.frequency:
                if raw[0] > 0 {
                    ticksPerSecond = raw[0]
                    sawFrequency = true
                } else {
                    report(position, "frequency event of 0 ticks per second ignored")
                }
            case GoEventType.stack:
                rawFrames.append((raw[0], stackArguments))
            case GoEventType.string:
                strings[raw[0]] = Array(bytes[raw.text])
            case GoEventType.timerGoroutine:
                break
            default:
                if current == nil {
                    // Events before any batch header: Go's parser files them under P 0 from time 0.
                    current = (0, BatchRange(start: position, end: position, ticks: 0))
                    ticks = 0
                }
                ticks = ticks &+ raw[0]
                if firstTicks || ticks < clock.minTicks { clock.minTicks = ticks }
                firstTicks = false
                goEventCount += 1
                if raw.type == GoEventType.userLog { logValues.append((position, raw.text)) }
                if raw.type == GoEventType.cpuSample {
                    // [delta, real ticks, p, g, stack]
                    samples.append(GoEvent(type: raw.type, ticks: raw[1], offset: position, p: Int64(bitPattern: raw[2]),
                                           g: raw[3], stack: raw[4]))
                }
            }
            position = next
        }
        close(at: bytes.count)
        if !sawFrequency {
            report(bytes.count, "no frequency event (the trace was cut short): durations assume \(ticksPerSecond) ticks per second")
            clean = false
        }
        isComplete = clean
        defineStacks(rawFrames)
        // User-log values get string ids above Go's; a file may use ids up to UInt64.max, so the count
        // wraps and skips 0 ("") and ids in use rather than trapping or overwriting a Go string.
        var nextID = (strings.keys.max() ?? 0) &+ 1
        for (offset, text) in logValues {
            while nextID == 0 || strings[nextID] != nil { nextID &+= 1 }
            strings[nextID] = Array(bytes[text])
            logMessageIDs[offset] = nextID
            nextID &+= 1
        }
        var made = batchesByP.keys.sorted().map { p in Stream(p: p, walk: GoBatchWalk(batches: batchesByP[p] ?? [])) }
        if !samples.isEmpty {
            // Stable by time: ties keep file order.
            let sorted = samples.enumerated().sorted { ($0.element.ticks, $0.offset) < ($1.element.ticks, $1.offset) }
            var stream = Stream(p: -2, walk: GoBatchWalk(batches: []))
            stream.samples = sorted.map(\.element).reversed()
            stream.isSampleStream = true
            made.append(stream)
        }
        streams.deallocate()
        streams = UnsafeMutablePointer<Stream>.allocate(capacity: Swift.max(1, made.count))
        streams.initialize(from: made, count: made.count)
        streamCount = made.count
        clock.setFrequency(ticksPerSecond)
    }

    /// Turns `Stack` events into stacks of synthetic frame addresses (see `GoFrameTable`).
    private func defineStacks(_ rawStacks: [(id: UInt64, values: [UInt64])]) {
        for (id, values) in rawStacks {
            guard values.count >= 2, id != 0 else { continue }
            let size = values[1]
            guard size <= GoTraceReader.maxFrames, UInt64(values.count) == 2 + 4 * size else {
                report(0, "stack \(id) has a malformed frame list; left out")
                continue
            }
            var stack: [UInt64] = []
            stack.reserveCapacity(Int(size))
            for index in 0..<Int(size) {
                let base = 2 + index * 4
                stack.append(frameTable.address(of: TraceFrame(
                    pc: values[base], function: text(values[base + 1]), file: text(values[base + 2]),
                    line: Int(clamping: values[base + 3]))))
            }
            stacks[id] = stack
            stackDefined.insert(id)
        }
    }

    func text(_ id: UInt64) -> String { strings[id].map { String(decoding: $0, as: UTF8.self) } ?? "" }

    /// The entry function of a goroutine from the one-frame stack Go records at its creation.
    func entryFunction(ofStack id: UInt64) -> String? { stacks[id]?.first.flatMap { frames[$0]?.function } }

    private func prepareStreams() {
        for index in 0..<streamCount { advance(index) }
    }

    // MARK: Pass 2: order

    /// Decodes stream `index`'s next event into its head (or clears `hasHead` at its end).
    func advance(_ index: Int) {
        if streams[index].isSampleStream {
            if let sample = streams[index].samples.popLast() {
                streams[index].head = sample
                streams[index].transition = transition(of: sample)
                streams[index].hasHead = true
            } else {
                streams[index].hasHead = false
            }
            return
        }
        var raw = RawEvent()
        while true {
            guard streams[index].walk.hasBytes() else {
                streams[index].hasHead = false
                return
            }
            let position = streams[index].walk.position
            // Fast path: an ordinary event with at most three inline varints (delta, arguments, stack),
            // decoded straight into the head without the general decoder's scratch record.
            let headByte = bytes[position]
            let code = Int(headByte & 0x3f)
            let inline = Int(headByte >> 6) + 1
            // Safety: code < 64, the table's size.
            let quick = layouts[code]
            if inline < 4, quick.known, inline == quick.wireArguments, !GoTraceReader.isSpecialInScan(UInt8(code)) {
                var cursor = position + 1
                var values: (UInt64, UInt64, UInt64) = (0, 0, 0)
                guard let delta = varint(&cursor) else {
                    streams[index].walk.position = streams[index].walk.end
                    continue
                }
                values.0 = delta
                if inline > 1 {
                    guard let value = varint(&cursor) else { streams[index].walk.position = streams[index].walk.end; continue }
                    values.1 = value
                }
                if inline > 2 {
                    guard let value = varint(&cursor) else { streams[index].walk.position = streams[index].walk.end; continue }
                    values.2 = value
                }
                streams[index].walk.position = cursor
                let ticks = streams[index].walk.ticks &+ delta
                streams[index].walk.ticks = ticks
                var event = GoEvent(type: UInt8(code), ticks: ticks, offset: position, p: streams[index].p,
                                    g: streams[index].currentG)
                // Arguments follow the delta; the stack, if any, is the last value.
                let plain = quick.plainArguments
                if plain > 0 { event.args.0 = values.1 }
                if plain > 1 { event.args.1 = values.2 }
                if quick.hasStack { event.stack = inline == 3 ? values.2 : values.1 }
                finishHead(index, &event)
                return
            }
            guard case .event(let after) = decodeRaw(at: position, into: &raw) else {
                // The scan ended the batch before any damage, so this cannot happen; stop the stream anyway.
                streams[index].walk.position = streams[index].walk.end
                continue
            }
            streams[index].walk.position = after
            switch raw.type {
            case GoEventType.batch, GoEventType.frequency, GoEventType.stack, GoEventType.string,
                 GoEventType.timerGoroutine, GoEventType.cpuSample:
                continue
            default:
                break
            }
            let layout = layouts[Int(raw.type)]
            let ticks = streams[index].walk.ticks &+ raw[0]
            streams[index].walk.ticks = ticks
            var event = GoEvent(type: raw.type, ticks: ticks, offset: position, p: streams[index].p,
                                g: streams[index].currentG)
            let plain = layout.plainArguments
            withUnsafeMutableBytes(of: &event.args) { slots in
                for argument in 0..<Swift.min(plain, 4) {
                    slots.storeBytes(of: raw[1 + argument], toByteOffset: argument * 8, as: UInt64.self)
                }
            }
            if layout.hasStack && raw.count > 0 { event.stack = raw[raw.count - 1] }
            finishHead(index, &event)
            return
        }
    }

    /// Applies Go's rules for the P's current goroutine to `event` and makes it the stream's head.
    @inline(__always)
    private func finishHead(_ index: Int, _ event: inout GoEvent) {
        switch event.type {
        case GoEventType.goStart, GoEventType.goStartLocal, GoEventType.goStartLabel:
            streams[index].currentG = event.args.0
            event.g = event.args.0
        case GoEventType.goEnd, GoEventType.goStop, GoEventType.goSched, GoEventType.goPreempt,
             GoEventType.goSleep, GoEventType.goBlock, GoEventType.goBlockSend, GoEventType.goBlockRecv,
             GoEventType.goBlockSelect, GoEventType.goBlockSync, GoEventType.goBlockCond, GoEventType.goBlockNet,
             GoEventType.goSysBlock, GoEventType.goBlockGC:
            streams[index].currentG = 0
        case GoEventType.goSysExit, GoEventType.goSysExitLocal, GoEventType.goWaiting, GoEventType.goInSyscall:
            event.g = event.args.0
        case GoEventType.procStart:
            streams[index].thread = event.args.0
        default:
            break
        }
        streams[index].head = event
        streams[index].transition = transition(of: event)
        streams[index].hasHead = true
    }

    static let noSeq = UInt64.max
    static let seqIncrement = UInt64.max - 1
    static let unordered = UInt64.max
    static let garbageCollector = UInt64.max - 1
    static let dead: UInt8 = 0, runnable: UInt8 = 1, running: UInt8 = 2, waiting: UInt8 = 3

    /// Go's state transition of an event: the goroutine it orders, the state it requires, the state it leaves.
    func transition(of event: GoEvent) -> (g: UInt64, initSeq: UInt64, initStatus: UInt8, nextSeq: UInt64, nextStatus: UInt8) {
        typealias R = GoTraceReader
        switch event.type {
        case GoEventType.goCreate: return (event.args.0, 0, R.dead, 1, R.runnable)
        case GoEventType.goWaiting, GoEventType.goInSyscall: return (event.g, 1, R.runnable, 2, R.waiting)
        case GoEventType.goStart, GoEventType.goStartLabel:
            return (event.g, event.args.1, R.runnable, event.args.1 &+ 1, R.running)
        case GoEventType.goStartLocal: return (event.g, R.noSeq, R.runnable, R.seqIncrement, R.running)
        case GoEventType.goBlock, GoEventType.goBlockSend, GoEventType.goBlockRecv, GoEventType.goBlockSelect,
             GoEventType.goBlockSync, GoEventType.goBlockCond, GoEventType.goBlockNet, GoEventType.goSleep,
             GoEventType.goSysBlock, GoEventType.goBlockGC:
            return (event.g, R.noSeq, R.running, R.noSeq, R.waiting)
        case GoEventType.goSched, GoEventType.goPreempt: return (event.g, R.noSeq, R.running, R.noSeq, R.runnable)
        case GoEventType.goUnblock, GoEventType.goSysExit:
            return (event.args.0, event.args.1, R.waiting, event.args.1 &+ 1, R.runnable)
        case GoEventType.goUnblockLocal, GoEventType.goSysExitLocal:
            return (event.args.0, R.noSeq, R.waiting, R.seqIncrement, R.runnable)
        case GoEventType.gcStart: return (R.garbageCollector, event.args.0, R.dead, event.args.0 &+ 1, R.dead)
        default: return (R.unordered, 0, 0, 0, 0)
        }
    }

    @inline(__always)
    func orderState(_ g: UInt64) -> GoroutineOrder {
        if g == GoTraceReader.garbageCollector { return gcOrder }
        if g < 1 << 20 { return Int(g) < order.count ? order[Int(g)] : GoroutineOrder() }
        return sparseOrder[g] ?? GoroutineOrder()
    }

    func setOrderState(_ g: UInt64, _ state: GoroutineOrder) {
        if g == GoTraceReader.garbageCollector {
            gcOrder = state
        } else if g < 1 << 20 {
            if Int(g) >= order.count { order.grow(by: Swift.max(Int(g) + 1 - order.count, order.count), filling: GoroutineOrder()) }
            order[Int(g)] = state
        } else {
            sparseOrder[g] = state
        }
    }

    typealias Transition = (g: UInt64, initSeq: UInt64, initStatus: UInt8, nextSeq: UInt64, nextStatus: UInt8)

    func isReady(_ t: Transition) -> Bool {
        if t.g == GoTraceReader.unordered { return true }
        let current = orderState(t.g)
        return (t.initSeq == GoTraceReader.noSeq || t.initSeq == current.seq) && t.initStatus == current.status
    }

    func apply(_ t: Transition) {
        guard t.g != GoTraceReader.unordered else { return }
        let current = orderState(t.g)
        var seq = t.nextSeq
        if seq == GoTraceReader.noSeq { seq = current.seq } else if seq == GoTraceReader.seqIncrement { seq = current.seq &+ 1 }
        setOrderState(t.g, GoroutineOrder(seq: seq, status: t.nextStatus))
    }

    /// Moves the next Go event in Go's order into `current`; returns its stream's index, or -1 at the end.
    func nextOrdered() -> Int {
        var best = -1
        var bestTicks = UInt64.max
        for index in 0..<streamCount where streams[index].hasHead {
            if !streams[index].inFrontier {
                // A head's transition is computed once, when it becomes the head.
                guard isReady(streams[index].transition) else { continue }
                streams[index].inFrontier = true
            }
            if best < 0 || streams[index].head.ticks < bestTicks {
                best = index
                bestTicks = streams[index].head.ticks
            }
        }
        if best < 0 {
            // No head is ready: the sequence numbers contradict each other (damage, or lost events).
            for index in 0..<streamCount where streams[index].hasHead
                && (best < 0 || streams[index].head.ticks < bestTicks) {
                best = index
                bestTicks = streams[index].head.ticks
            }
            guard best >= 0 else { return -1 }
            if !reportedInconsistency {
                reportedInconsistency = true
                report(streams[best].head.offset,
                       "no consistent ordering of events possible (goroutine sequence numbers disagree); continuing in timestamp order")
                isComplete = false
            }
        }
        current = streams[best].head
        apply(streams[best].transition)
        streams[best].inFrontier = false
        advance(best)
        return best
    }

    // MARK: Iteration

    /// Orders and maps until at least one event is pending; false at the end.
    func fillPending() -> Bool {
        pending.count = 0
        pending.index = 0
        guard problems.fatal == nil else { return false }
        while pending.count == 0 {
            let stream = nextOrdered()
            guard stream >= 0 else { return false }
            map(stream: stream)
        }
        return true
    }
}
