// What `gotrace top` knows about a running program, built from its trace stream as it arrives.
//
// Design note
// -----------
// `gotrace top` reads the recorder's pipe like `record` does, but instead of storing chunks it decodes each
// event chunk as soon as it arrives (GoTrace's `EventBatchDecoder`, one `StreamDecodeState` per M) and keeps
// only what a frame shows:
//   * each goroutine's state, since when, and for a waiting one its reason and park stack — every
//     scheduling event names its goroutine, so no M context is needed and chunks of different Ms may arrive
//     in any order; a goroutine first seen in a `snapshot` takes the state it gives;
//   * each P's busy time within the current interval (`proc-start`/`proc-stop`, which name their P);
//   * the interval's counts: goroutines created and ended, CPU samples by stack, scheduling latencies
//     (`unpark` to `start` of the same goroutine).
// Strings, stacks and modules are kept as defined; stacks are symbolized (GoSymbolize) only when a frame is
// drawn, as a definition may arrive after its first use from another M's chunk. "Now" is the latest event
// time seen. Memory: one record per live goroutine, the definitions, and one interval's samples.
// Rejected: merging the Ms by time as the readers do (needs every M's next chunk, which an idle M may hold for
// a whole flush interval: the view would lag by it); nothing a frame shows depends on the order across Ms.

import GoSymbolize
import GoTrace
import GoTraceShared

/// The live state of the traced program (see the design note).
struct TopModel {
    enum State: Int, CaseIterable {
        case running, runnable, waiting, syscall

        var name: String {
            switch self {
            case .running: "running"
            case .runnable: "runnable"
            case .waiting: "waiting"
            case .syscall: "in syscalls"
            }
        }
    }

    struct Goroutine {
        var state: State
        var sinceTicks: UInt64
        var reason: UInt64 = 0
        var stack: UInt64 = 0
        var wokenTicks: UInt64?
        /// When the event that set this state happened (`sinceTicks` may be earlier: a snapshot's wait).
        var eventTicks: UInt64 = 0
    }

    /// One blocking site of a frame: where goroutines wait now, how many, and the longest wait.
    struct BlockingSite {
        var reason: String
        var function: String
        var goroutines: Int
        var longestNanoseconds: UInt64
    }

    /// What one frame shows.
    struct Frame {
        var intervalNanoseconds: UInt64
        var processors: [(id: UInt64, busy: Double)]
        var goroutinesByState: [State: Int]
        var createdPerSecond: Double
        var endedPerSecond: Double
        var latencyPercentiles: (p50: UInt64, p90: UInt64, p99: UInt64)?
        var wakeUps: Int
        var blockingSites: [BlockingSite]
        var cpuFunctions: [(function: String, samples: Int)]
        var cpuSamples: Int
    }

    private var fileHeader: FileHeader?
    /// Rebuilt for the stream's format version (its file header) and kind table as they arrive.
    private var decoder = EventBatchDecoder(specs: EventKindSpec.builtInByCode, formatVersion: traceFormatVersion)
    private var streams: [UInt64: StreamDecodeState] = [:]
    private var strings: [UInt64: String] = [:]
    private var stacks: [UInt64: [UInt64]] = [:]
    private let symbolizer = Symbolizer()
    private var functionNames: [UInt64: (name: String, owner: StackTrimming.FrameClass)] = [:]
    private var goroutines: [UInt64: Goroutine] = [:]
    /// Goroutines that ended in the last 10 s, and when: a late chunk of another M must not bring them back.
    private var endedTicks: [UInt64: UInt64] = [:]
    private var processorStarted: [UInt64: UInt64] = [:]
    private var processorBusy: [UInt64: UInt64] = [:]
    private var intervalStart: UInt64 = 0
    private var created = 0
    private var ended = 0
    private var latencies: [UInt64] = []
    private var cpuSamplesByStack: [UInt64: Int] = [:]
    /// The latest event time seen (the program's "now").
    private(set) var nowTicks: UInt64 = 0
    private(set) var problems: [String] = []

    /// Takes one unit of the stream (`TraceStreamFramer`'s).
    mutating func consume(_ unit: TraceStreamFramer.Unit) {
        switch unit {
        case .fileHeader(_, let header):
            fileHeader = header
            decoder = EventBatchDecoder(specs: EventKindSpec.builtInByCode, formatVersion: header.version)
            intervalStart = header.startTicks
            nowTicks = header.startTicks
        case .chunk(let bytes, let header):
            if header.type == .kindTable, case .success(let payload) = ChunkCodec.payload(of: header, stored: bytes[ChunkHeader.encodedSize...]),
               let specs = KindTableCodec.decode(payload) {
                var kinds = KindCatalogue()
                kinds.adopt(specs)
                decoder = EventBatchDecoder(specs: kinds.specs,
                                            formatVersion: fileHeader?.version ?? traceFormatVersion)
            } else if header.type == .events {
                decode(bytes, header)
            }
        }
    }

    private mutating func decode(_ bytes: [UInt8], _ header: ChunkHeader) {
        guard case .success(var payload) = ChunkCodec.payload(of: header, stored: bytes[ChunkHeader.encodedSize...]) else {
            problems.append("a damaged chunk of M\(header.machine) was skipped")
            return
        }
        let size = payload.count
        payload += [UInt8](repeating: 0, count: EventBatchDecoder.paddingBytes)
        var state = streams[header.machine] ?? StreamDecodeState(startTicks: fileHeader?.startTicks ?? 0)
        state.beginChunk(baseTicks: header.baseTicks)
        let capacity = 256
        let events = UnsafeMutablePointer<DecodedEvent>.allocate(capacity: capacity)
        events.initialize(repeating: DecodedEvent(), count: capacity)
        defer { events.deallocate() }
        var position = 0
        payload.withUnsafeBytes { raw in
            // Safety: the payload is followed by `paddingBytes` zero bytes, as decodeRun requires.
            let bounded = UnsafeRawBufferPointer(rebasing: raw[0..<size])
            while position < size {
                let (count, end) = decoder.decodeRun(bounded, position: &position, state: &state, into: events,
                                                     capacity: capacity)
                for index in 0..<count { apply(events[index]) }
                switch end {
                case .definition(.string(let id, let text)): strings[id] = String(decoding: text, as: UTF8.self)
                case .definition(.stack(let id, let pcs)): stacks[id] = pcs
                case .malformed(_, let reason):
                    problems.append("M\(header.machine): \(reason)")
                    return
                case .endOfPayload: return
                case .full: continue
                }
            }
        }
        streams[header.machine] = state
    }

    private mutating func apply(_ event: DecodedEvent) {
        let ticks = event.ticks
        nowTicks = max(nowTicks, ticks)
        let a = event.arguments
        switch EventKind(rawValue: event.kind) {
        case .module:
            if let path = strings[a.0], !path.isEmpty {
                symbolizer.addModule(path: path, loadBias: a.1, buildID: strings[a.2])
                functionNames = [:]
            }
        case .spawn:
            created += 1
            update(a.1, at: ticks, Goroutine(state: .runnable, sinceTicks: ticks))
        case .start:
            if let woken = goroutines[a.0]?.wokenTicks, ticks >= woken { latencies.append(nanoseconds(ticks - woken)) }
            update(a.0, at: ticks, Goroutine(state: .running, sinceTicks: ticks))
        case .park:
            let yields = a.1 == UInt64(ParkReason.yield.rawValue) || a.1 == UInt64(ParkReason.preempted.rawValue)
            update(a.0, at: ticks, yields ? Goroutine(state: .runnable, sinceTicks: ticks)
                : Goroutine(state: .waiting, sinceTicks: ticks, reason: a.1, stack: a.2))
        case .unpark:
            update(a.0, at: ticks, Goroutine(state: .runnable, sinceTicks: ticks, wokenTicks: ticks))
        case .end:
            ended += 1
            goroutines[a.0] = nil
            endedTicks[a.0] = ticks
        case .preempt:
            if a.1 == UInt64(PreemptKind.honouredCooperative.rawValue) || a.1 == UInt64(PreemptKind.honouredAsynchronous.rawValue) {
                update(a.0, at: ticks, Goroutine(state: .runnable, sinceTicks: ticks))
            }
        case .syscallEnter:
            update(a.0, at: ticks, Goroutine(state: .syscall, sinceTicks: ticks, stack: a.1))
        case .syscallExit:
            update(a.0, at: ticks, Goroutine(state: .running, sinceTicks: ticks))
        case .snapshot:
            guard goroutines[a.0] == nil, a.1 <= UInt64(UInt8.max), let state = GoTrace.GoroutineState(rawValue: UInt8(a.1)) else { return }
            let since = ticks &- min(ticks, self.ticks(nanoseconds: a.4))
            switch state {
            case .running: update(a.0, at: ticks, Goroutine(state: .running, sinceTicks: ticks))
            case .runnable: update(a.0, at: ticks, Goroutine(state: .runnable, sinceTicks: ticks))
            case .waiting: update(a.0, at: ticks, Goroutine(state: .waiting, sinceTicks: since, reason: a.2, stack: a.3))
            case .syscall: update(a.0, at: ticks, Goroutine(state: .syscall, sinceTicks: since, stack: a.3))
            }
        case .procStart:
            processorStarted[a.0] = ticks
        case .procStop:
            let started = max(processorStarted[a.0] ?? intervalStart, intervalStart)
            if ticks > started { processorBusy[a.0, default: 0] += ticks - started }
            processorStarted[a.0] = nil
            if processorBusy[a.0] == nil { processorBusy[a.0] = 0 }
        case .cpuSample:
            // Goroutine 0: the M's own scheduling loop (g0), not a goroutine's code.
            cpuSamplesByStack[a.0 == 0 || a.0 == DecodedEvent.none ? TopModel.schedulerStack : a.1, default: 0] += 1
        default:
            break
        }
    }

    /// Sets goroutine `id`'s state from an event at `ticks`, unless a later event of it was applied already
    /// or it has ended. Each M's chunks arrive in the order that M flushed them, not in time order across Ms:
    /// the chunk holding a goroutine's park can come before the one holding its spawn, and the spawn must
    /// not make a blocked goroutine runnable again (a loaded stress run's top view lost its eight receivers).
    private mutating func update(_ id: UInt64, at ticks: UInt64, _ goroutine: Goroutine) {
        if let known = goroutines[id], known.eventTicks > ticks { return }
        if let end = endedTicks[id], end >= ticks { return }
        var goroutine = goroutine
        goroutine.eventTicks = ticks
        goroutines[id] = goroutine
    }

    /// The frame for the interval that ends now; starts the next interval.
    mutating func takeFrame(cpuLimit: Int = 5, siteLimit: Int = 5) -> Frame {
        let now = nowTicks
        let length = now > intervalStart ? now - intervalStart : 0
        var busy = processorBusy
        for (processor, started) in processorStarted where now > max(started, intervalStart) {
            busy[processor, default: 0] += now - max(started, intervalStart)
        }
        let processors = busy.keys.sorted().map { ($0, length == 0 ? 0 : min(1, Double(busy[$0]!) / Double(length))) }
        var byState: [State: Int] = [:]
        var sites: [String: BlockingSite] = [:]
        for goroutine in goroutines.values {
            byState[goroutine.state, default: 0] += 1
            guard goroutine.state == .waiting else { continue }
            let reason = ParkReason(rawValue: UInt8(truncatingIfNeeded: goroutine.reason))?.name ?? "other"
            // The runtime's own goroutines (a debug server's listener) are no blocking site, as in the report.
            guard let function = blockingFunction(ofStack: goroutine.stack) else { continue }
            let waited = nanoseconds(now > goroutine.sinceTicks ? now - goroutine.sinceTicks : 0)
            let key = reason + "\u{0}" + function
            var site = sites[key] ?? BlockingSite(reason: reason, function: function, goroutines: 0, longestNanoseconds: 0)
            site.goroutines += 1
            site.longestNanoseconds = max(site.longestNanoseconds, waited)
            sites[key] = site
        }
        var cpu: [String: Int] = [:]
        var samples = 0
        for (stack, count) in cpuSamplesByStack {
            cpu[hotFunction(ofStack: stack), default: 0] += count
            samples += count
        }
        let seconds = Double(nanoseconds(length)) / 1e9
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> UInt64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let frame = Frame(
            intervalNanoseconds: nanoseconds(length), processors: processors, goroutinesByState: byState,
            createdPerSecond: seconds > 0 ? Double(created) / seconds : 0, endedPerSecond: seconds > 0 ? Double(ended) / seconds : 0,
            latencyPercentiles: sorted.isEmpty ? nil : (percentile(0.5), percentile(0.9), percentile(0.99)),
            wakeUps: sorted.count,
            blockingSites: Array(sites.values.sorted {
                ($0.goroutines, $0.longestNanoseconds, $1.function) > ($1.goroutines, $1.longestNanoseconds, $0.function)
            }.prefix(siteLimit)),
            cpuFunctions: Array(cpu.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(cpuLimit)).map { ($0.key, $0.value) },
            cpuSamples: samples)
        intervalStart = now
        processorBusy = [:]
        created = 0
        ended = 0
        latencies.removeAll(keepingCapacity: true)
        cpuSamplesByStack.removeAll(keepingCapacity: true)
        // A late chunk comes within a flush interval (250 ms by default) or so; kept longer, the tombstones
        // would only grow with the run.
        let keep = ticks(nanoseconds: 10_000_000_000)
        if !endedTicks.isEmpty { endedTicks = endedTicks.filter { now &- min(now, $0.value) < keep } }
        return frame
    }

    // MARK: - names

    /// The blocking site of a park stack: the innermost user frame (the runtime's own trimmed, as in the
    /// report: GoTracePluginKit's StackTrimming), or the innermost frame if there is none; nil for a wait of
    /// the runtime's own goroutines (runtime frames and none of the program's, `StackTrimming.isRuntimeOwned`).
    private mutating func blockingFunction(ofStack id: UInt64) -> String? {
        guard let pcs = stacks[id], !pcs.isEmpty else { return id == 0 ? "(no stack)" : "(stack \(id) not yet defined)" }
        let names = pcs.map { functionName(returnAddress: $0) }
        if StackTrimming.isRuntimeOwned(classes: names.lazy.map(\.owner)) { return nil }
        return (names.first { $0.owner == .user } ?? names[0]).name
    }

    /// Stands for the samples taken outside goroutines (no stack id is ever this large).
    static let schedulerStack = UInt64.max

    /// The hot function of a CPU sample: its innermost user frame (the interrupted PC first).
    private mutating func hotFunction(ofStack id: UInt64) -> String {
        if id == Self.schedulerStack { return "(scheduler, outside goroutines)" }
        guard let pcs = stacks[id], !pcs.isEmpty else { return "(stack \(id) not yet defined)" }
        // The first PC is where the thread was interrupted, not a return address: look it up as one past it.
        let names = [functionName(returnAddress: pcs[0] &+ 1)] + pcs.dropFirst().map { functionName(returnAddress: $0) }
        return (names.first { $0.owner == .user } ?? names[0]).name
    }

    private mutating func functionName(returnAddress pc: UInt64) -> (name: String, owner: StackTrimming.FrameClass) {
        if let known = functionNames[pc] { return known }
        let frame = symbolizer.frame(returnAddress: pc)
        let module = frame.modulePath.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        let named: (name: String, owner: StackTrimming.FrameClass)
        if let function = frame.function {
            named = (FrameNames.readable(function), StackTrimming.classify(function: function, module: module))
        } else {
            named = ("0x" + String(pc, radix: 16), .unresolved)
        }
        functionNames[pc] = named
        return named
    }

    // MARK: - time

    private func nanoseconds(_ ticks: UInt64) -> UInt64 {
        guard let fileHeader else { return ticks }
        return fileHeader.nanoseconds(fromTicks: fileHeader.startTicks &+ ticks)
    }

    private func ticks(nanoseconds: UInt64) -> UInt64 { fileHeader?.ticks(fromNanoseconds: nanoseconds) ?? nanoseconds }
}
