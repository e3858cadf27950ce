// Batch decoding of an event chunk's payload: the fast path that `gotrace report` reads through.
//
// Design note
// -----------
// `TraceReader` decodes one `TraceEvent` at a time (a spec and an argument array per event: reference
// counting and an allocation each) and is the reader that knows damage. Analyses over long traces need
// plain values instead: this decoder turns a run of a chunk's payload into `DecodedEvent`s — kind, ticks,
// resolved goroutine and P, up to `DecodedEvent.maxArguments` varint arguments — in one tight loop, with
// no allocation except for the rare definition events (`string`, `stack`).
//
// Vocabulary: the *payload* is one chunk's inflated event bytes (docs/trace-format.md); a *run* is what one
// call decodes: up to `capacity` events, ending early after a definition event (so the caller can record
// the definition before the events that follow are used) or at the first malformed event.
//
// Bounds: the payload is read through a pointer with `paddingBytes` readable zero bytes after its end.
// A varint reads at most 10 bytes and stops at the first byte below 0x80, so a zero byte ends any varint
// that runs off the end of the payload and a varint that starts in the padding takes one byte. The fast
// path (kinds of at most `DecodedEvent.maxArguments` varints) reads 1 + 7 varints per event, so an event
// that starts inside the payload reads at most 8 bytes past its end whatever the bytes say; the checked
// path (lists, strings, more arguments) checks that each argument starts inside the payload. After each
// event the position is compared with the payload's size once: an event that ran into the padding is
// malformed (cut short). Lengths that the payload states
// (list counts, byte-string lengths) are checked against `TraceLimits` and the bytes that remain before use.
// The rules are TraceReader's: an unknown kind code, a varint longer than 10 bytes or over 64 bits, a list
// or string too long or cut short make the event malformed; the events before it are kept.
//
// Timestamps: each event adds its delta to the stream's running ticks (saturating); a value below the
// stream's previous event (a clock that stepped back across chunks) is raised to it and counted, as
// TraceReader does. Context: an event without a goroutine or P argument gets the M's current ones; kinds
// with a `ContextEffect` update them (EventKind.swift).
//
// Goroutine arguments: in a version-2 file each is a zigzagged delta from the chunk's previous one
// (GoroutineDelta.swift). The decoder is built for one format version; each kind's layout carries a bit mask
// of its goroutine arguments (all zero for version 1, so the loop is the same for both), and the running
// value lives in `StreamDecodeState`, reset by `beginChunk`. Arguments come out decoded.
//
// Rejected: decoding a whole chunk at once (a 64 KiB chunk is ~30,000 events: 2.5 MiB of decoded events
// per M, where runs of a few hundred keep every M's buffer in L1/L2), and keeping TraceReader's checked
// `PayloadCursor` in the loop (a bounds check per byte).

/// One decoded event, with its context resolved. Plain values only.
public struct DecodedEvent: Sendable {
    /// Arguments beyond this many are not carried (no built-in kind has more; the plugin ABI carries six).
    public static let maxArguments = 6

    public var kind: UInt8 = 0
    /// How many of `arguments` are meaningful: min(the kind's argument count, `maxArguments`).
    public var argumentCount: UInt8 = 0
    public var ticks: UInt64 = 0
    /// The event's first goroutine argument, else the goroutine running on its M; `DecodedEvent.none` if neither.
    public var goroutine: UInt64 = DecodedEvent.none
    /// Its P argument, else the P its M holds; `DecodedEvent.none` if neither.
    public var proc: UInt64 = DecodedEvent.none
    /// Varint arguments in kind-table order, goroutine deltas resolved; list and byte-string arguments are
    /// carried as 0.
    public var arguments: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)

    /// "No goroutine / no P".
    public static let none = UInt64.max

    public init() {}

    /// Argument `index` (0 if `index` ≥ `maxArguments`).
    @inlinable
    public func argument(_ index: Int) -> UInt64 {
        guard index >= 0 && index < DecodedEvent.maxArguments else { return 0 }
        return withUnsafeBytes(of: arguments) { $0.load(fromByteOffset: index &* 8, as: UInt64.self) }
    }
}

/// The per-M state that carries from one run (and one chunk) to the next.
public struct StreamDecodeState: Sendable {
    /// Running timestamp of the current chunk (its base ticks plus the deltas so far).
    public var ticks: UInt64 = 0
    /// The previous event's (clamped) timestamp: the next may not be smaller.
    public var lastTicks: UInt64
    public var currentGoroutine = DecodedEvent.none
    public var currentProc = DecodedEvent.none
    /// Timestamps raised to the previous one (see the design note).
    public var clampedTimestamps: UInt64 = 0
    /// The current chunk's last goroutine argument, which the next one's delta is from (version 2 on).
    public var previousGoroutine: UInt64 = 0

    public init(startTicks: UInt64) { lastTicks = startTicks }

    /// Starts a chunk whose header says `baseTicks`: its goroutine deltas start from 0.
    public mutating func beginChunk(baseTicks: UInt64) {
        ticks = baseTicks
        previousGoroutine = 0
    }
}

/// What a definition event carried (`string` and `stack` events: their id and their list or bytes).
public enum DecodedDefinition: Sendable, Equatable {
    case string(id: UInt64, bytes: [UInt8])
    case stack(id: UInt64, programCounters: [UInt64])
}

/// Why a run ended.
public enum DecodeRunEnd: Sendable, Equatable {
    /// `capacity` events were decoded; more may follow.
    case full
    /// The payload is exhausted.
    case endOfPayload
    /// The last decoded event is a definition, carried here.
    case definition(DecodedDefinition)
    /// The event at this payload offset is malformed (`reason`); the events before it were decoded.
    case malformed(offset: Int, reason: String)
}

/// The decoding layout of every kind code: built once per trace from its merged kind table.
public final class EventBatchDecoder: @unchecked Sendable {
    /// Readable zero bytes the caller must provide after the payload (see the design note: at most 10
    /// bytes are read past the end; the rest is margin).
    public static let paddingBytes = 80

    /// What the loop needs about one kind code: no arrays, so reading it retains nothing.
    struct Layout {
        var known = false
        var allVarints = true
        var argumentCount: UInt8 = 0
        var goroutineArgument: Int8 = -1
        var procArgument: Int8 = -1
        /// A goroutine or P role beyond the carried arguments (then `allVarints` is false): the checked path
        /// picks its value up, so such an event is attributed as TraceReader attributes it.
        var farGoroutineArgument: Int16 = -1
        var farProcArgument: Int16 = -1
        /// Bit `i` set: carried argument `i` is a goroutine delta (only in a file of version 2 on).
        var goroutineDeltas: UInt8 = 0
        var effect: ContextEffect = .none
        /// Where this kind's arguments start in `arguments` (only read when `allVarints` is false).
        var argumentsStart: UInt16 = 0
    }

    /// One argument as the checked path reads it.
    struct ArgumentLayout {
        var wireType: WireType
        /// A goroutine delta (only in a file of version 2 on).
        var isGoroutineDelta: Bool
    }

    // Safety: both buffers are allocated and filled in init, never written again, and freed in deinit, so
    // the decoder may be used from any thread (decoding mutates only the caller's state and output).
    private let layouts: UnsafeMutablePointer<Layout>
    /// Where `DecodedEvent.arguments` starts (an instance constant: a `static let` costs a `swift_once`
    /// check per use, measured ~1% of a report in the per-event loop).
    private let argumentsOffset = MemoryLayout<DecodedEvent>.offset(of: \DecodedEvent.arguments)!
    private let arguments: UnsafeMutablePointer<ArgumentLayout>

    /// - Parameters:
    ///   - specs: indexed by wire code (128 entries, as `EventKindSpec.builtInByCode`), after merging the file's
    ///     kind table (`EventKindSpec.merging`).
    ///   - formatVersion: the file header's version, which says how goroutine arguments are stored.
    public init(specs: [EventKindSpec?], formatVersion: UInt16) {
        let deltas = GoroutineDelta.applies(toFormatVersion: formatVersion)
        layouts = .allocate(capacity: 128)
        layouts.initialize(repeating: Layout(), count: 128)
        let total = specs.reduce(0) { $0 + ($1?.arguments.count ?? 0) }
        arguments = .allocate(capacity: max(1, total))
        var next = 0
        for code in 0..<min(128, specs.count) {
            guard let spec = specs[code] else { continue }
            var layout = Layout(known: true)
            // A kind table names at most 255 arguments per kind (its count is one byte on the wire).
            layout.argumentCount = UInt8(clamping: spec.arguments.count)
            // More arguments than are carried go through the checked path, which bounds each argument's start.
            layout.allVarints = spec.isFixedArity && spec.arguments.count <= DecodedEvent.maxArguments
            if let index = spec.arguments.firstIndex(where: { $0.role == .goroutine }), index < 255 {
                if index < DecodedEvent.maxArguments { layout.goroutineArgument = Int8(index) }
                else { layout.farGoroutineArgument = Int16(index) }
            }
            if let index = spec.arguments.firstIndex(where: { $0.role == .proc }), index < 255 {
                if index < DecodedEvent.maxArguments { layout.procArgument = Int8(index) }
                else { layout.farProcArgument = Int16(index) }
            }
            layout.effect = spec.contextEffect
            layout.argumentsStart = UInt16(next)
            for (index, argument) in spec.arguments.enumerated() {
                let isDelta = deltas && argument.isGoroutineDelta
                (arguments + next).initialize(to: ArgumentLayout(wireType: argument.wireType,
                                                                 isGoroutineDelta: isDelta))
                if isDelta && index < DecodedEvent.maxArguments { layout.goroutineDeltas |= 1 << UInt8(index) }
                next += 1
            }
            layouts[code] = layout
        }
    }

    deinit {
        layouts.deallocate()
        arguments.deallocate()
    }

    /// Decodes a run of events starting at `position` in `payload`.
    ///
    /// Preconditions: `payload.baseAddress` is readable for `payload.count + paddingBytes` bytes and the
    /// padding is zero; `0 <= position <= payload.count`; `output` holds `capacity` ≥ 1 initialised events
    /// (they are overwritten).
    /// - Returns: how many events were written to `output` and why the run ended. `position` is left just
    ///   past the last decoded event (at a malformed event: at its start).
    public func decodeRun(
        _ payload: UnsafeRawBufferPointer, position: inout Int, state: inout StreamDecodeState,
        into output: UnsafeMutablePointer<DecodedEvent>, capacity: Int
    ) -> (count: Int, end: DecodeRunEnd) {
        precondition(capacity >= 1 && position >= 0 && position <= payload.count, "decodeRun: bad arguments")
        guard let raw = payload.baseAddress else { return (0, .endOfPayload) }
        // Safety: bytes are only read at offsets < payload.count + paddingBytes (see the design note: each
        // event starts below payload.count and reads at most 10 bytes past it before its end is checked).
        let base = raw.assumingMemoryBound(to: UInt8.self)
        let size = payload.count
        var at = position
        var count = 0
        var ticks = state.ticks
        var lastTicks = state.lastTicks
        var goroutineNow = state.currentGoroutine
        var procNow = state.currentProc
        var clamped = state.clampedTimestamps
        var previousGoroutine = state.previousGoroutine
        var end = DecodeRunEnd.full
        // Filled by the checked path only; declared once, outside the loop, so that the per-event loop does
        // not create and destroy optionals holding arrays and strings (measured: ~2% in swift_release).
        var definition: DecodedDefinition?
        var malformedReason: String?
        defer {
            position = at
            state.ticks = ticks
            state.lastTicks = lastTicks
            state.currentGoroutine = goroutineNow
            state.currentProc = procNow
            state.clampedTimestamps = clamped
            state.previousGoroutine = previousGoroutine
        }
        while count < capacity {
            if at >= size {
                end = .endOfPayload
                break
            }
            let start = at
            // A malformed event leaves the state as it was before it, its goroutine deltas included.
            let previousGoroutineAtStart = previousGoroutine
            let code = base[at]
            at &+= 1
            // The kind byte's high bit is reserved (EventKind.maxCode): a set bit means damage.
            guard code <= EventKind.maxCode else {
                at = start
                return (count, .malformed(offset: start, reason: "event kind \(code) not in any kind table"))
            }
            // Safety: code < 128, the table's size.
            let layout = layouts[Int(code)]
            guard layout.known else {
                at = start
                return (count, .malformed(offset: start, reason: "event kind \(code) not in any kind table"))
            }
            var tooLong = false
            let delta = EventBatchDecoder.varint(base, &at, &tooLong)
            // The event is written in place, field by field: building it on the stack and copying it stalled
            // on store forwarding (8-byte argument stores read back as 16-byte moves: ~40% of this loop).
            // Safety: count < capacity, and the run buffer is initialised (precondition).
            let out = output + count
            let slots = UnsafeMutableRawPointer(out) + argumentsOffset
            for index in 0..<DecodedEvent.maxArguments { slots.storeBytes(of: 0, toByteOffset: index &* 8, as: UInt64.self) }
            let argumentCount = Int(layout.argumentCount)
            var checkedPathFailed = false
            var farGoroutine: UInt64?
            var farProc: UInt64?
            if layout.allVarints {
                // allVarints implies argumentCount ≤ maxArguments (see init).
                let deltas = layout.goroutineDeltas
                for index in 0..<argumentCount {
                    var value = EventBatchDecoder.varint(base, &at, &tooLong)
                    if deltas & (1 &<< index) != 0 {
                        value = GoroutineDelta.decode(value, previous: &previousGoroutine)
                    }
                    slots.storeBytes(of: value, toByteOffset: index &* 8, as: UInt64.self)
                }
            } else {
                malformedReason = decodeMixedArguments(
                    code: code, layout: layout, base: base, size: size, at: &at, tooLong: &tooLong,
                    slots: UnsafeMutableRawBufferPointer(start: slots, count: DecodedEvent.maxArguments * 8),
                    farGoroutine: &farGoroutine, farProc: &farProc, previousGoroutine: &previousGoroutine,
                    definition: &definition)
                checkedPathFailed = malformedReason != nil
            }
            // One check per event: the varints above may have run into the zero padding (cut short).
            if tooLong || at > size || checkedPathFailed {
                at = start
                previousGoroutine = previousGoroutineAtStart
                let name = EventKindSpec.builtInByCode[Int(code)]?.name ?? "kind-\(code)"
                return (count, .malformed(offset: start, reason: malformedReason ?? "malformed \(name) event"))
            }
            let (sum, overflow) = ticks.addingReportingOverflow(delta)
            ticks = overflow ? UInt64.max : sum
            var eventTicks = ticks
            if eventTicks < lastTicks {
                eventTicks = lastTicks
                clamped &+= 1
            }
            lastTicks = eventTicks
            let goroutine = layout.goroutineArgument >= 0
                ? slots.load(fromByteOffset: Int(layout.goroutineArgument) &* 8, as: UInt64.self)
                : farGoroutine ?? goroutineNow
            let proc = layout.procArgument >= 0
                ? slots.load(fromByteOffset: Int(layout.procArgument) &* 8, as: UInt64.self) : farProc ?? procNow
            out.pointee.kind = code
            out.pointee.argumentCount = UInt8(min(argumentCount, DecodedEvent.maxArguments))
            out.pointee.ticks = eventTicks
            out.pointee.goroutine = goroutine
            out.pointee.proc = proc
            switch layout.effect {
            case .none: break
            case .startsGoroutine: goroutineNow = goroutine
            case .stopsGoroutine: if goroutineNow == goroutine { goroutineNow = DecodedEvent.none }
            case .acquiresProc: procNow = proc
            case .releasesProc: procNow = DecodedEvent.none
            }
            count &+= 1
            if !layout.allVarints, let found = definition {
                end = .definition(found)
                break
            }
        }
        return (count, end)
    }

    /// Arguments of a kind with list or byte-string arguments (definitions; rare). Returns why the event is
    /// malformed, or nil.
    private func decodeMixedArguments(
        code: UInt8, layout: Layout, base: UnsafePointer<UInt8>, size: Int, at: inout Int, tooLong: inout Bool,
        slots: UnsafeMutableRawBufferPointer, farGoroutine: inout UInt64?, farProc: inout UInt64?,
        previousGoroutine: inout UInt64, definition: inout DecodedDefinition?
    ) -> String? {
        var list: [UInt64]?
        var bytes: [UInt8]?
        for index in 0..<Int(layout.argumentCount) {
            // Each argument starts inside the payload or the event is cut short (this keeps every read
            // within the padding, which covers one varint).
            guard at <= size else { return nil }
            // Safety: index < argumentCount, the number of argument layouts stored for this code.
            let argument = arguments[Int(layout.argumentsStart) + index]
            switch argument.wireType {
            case .uvarint:
                var value = EventBatchDecoder.varint(base, &at, &tooLong)
                if argument.isGoroutineDelta { value = GoroutineDelta.decode(value, previous: &previousGoroutine) }
                if index < DecodedEvent.maxArguments {
                    slots.storeBytes(of: value, toByteOffset: index &* 8, as: UInt64.self)
                } else if index == Int(layout.farGoroutineArgument) {
                    farGoroutine = value
                } else if index == Int(layout.farProcArgument) {
                    farProc = value
                }
            case .uvarintList:
                // Each item takes at least one byte, so a count above the bytes left is malformed.
                let items = EventBatchDecoder.varint(base, &at, &tooLong)
                guard !tooLong, at <= size, items <= UInt64(TraceLimits.maxListCount), items <= UInt64(size - at) else {
                    return "malformed list argument"
                }
                var values: [UInt64] = []
                values.reserveCapacity(Int(items))
                for _ in 0..<Int(items) {
                    guard at < size else { return "list cut short" }
                    values.append(EventBatchDecoder.varint(base, &at, &tooLong))
                }
                list = values
            case .bytes:
                let length = EventBatchDecoder.varint(base, &at, &tooLong)
                guard !tooLong, at <= size, length <= UInt64(TraceLimits.maxByteStringLength),
                      length <= UInt64(size - at) else { return "malformed byte-string argument" }
                // Safety: at + length ≤ size, checked above.
                bytes = Array(UnsafeBufferPointer(start: base + at, count: Int(length)))
                at += Int(length)
            }
        }
        guard at <= size, !tooLong else { return nil }  // reported by the caller's end check
        let id = slots.load(as: UInt64.self)  // the id: argument 0, a varint in both kinds
        if code == EventKind.string.rawValue, let bytes, layout.argumentCount >= 2 {
            definition = .string(id: id, bytes: bytes)
        } else if code == EventKind.stack.rawValue, let list, layout.argumentCount >= 2 {
            definition = .stack(id: id, programCounters: list)
        }
        return nil
    }

    /// One LEB128 varint at `at`, unchecked against the payload's end (see the design note). Sets `tooLong`
    /// for an encoding over 10 bytes or 64 bits, as `PayloadCursor.readVarint` rejects.
    @inline(__always)
    static func varint(_ base: UnsafePointer<UInt8>, _ at: inout Int, _ tooLong: inout Bool) -> UInt64 {
        // Safety (all reads): at most 10 bytes from a start inside payload + padding's first byte.
        var byte = base[at]
        at &+= 1
        if byte < 0x80 { return UInt64(byte) }
        var result = UInt64(byte & 0x7f)
        var shift: UInt64 = 7
        while true {
            byte = base[at]
            at &+= 1
            let group = UInt64(byte & 0x7f)
            if shift == 63 {
                // The tenth byte may contribute only the single top bit, and must be the last.
                if group > 1 || byte >= 0x80 { tooLong = true }
                return result | group << 63
            }
            result |= group << shift
            if byte < 0x80 { return result }
            shift &+= 7
        }
    }
}
