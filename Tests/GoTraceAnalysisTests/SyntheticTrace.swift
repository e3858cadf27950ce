import Foundation
import GoTrace
@testable import GoTraceAnalysis

/// Builds small traces with known answers, event by event, as the runtime would record them on one M.
///
/// Events are encoded here rather than through `TraceBuffer` so that a test can write kinds and arguments
/// the built-in table does not have yet (a custom kind table): that is how the proposed mutex-holder events
/// are exercised before the format has them. The file is of the current format version: goroutine arguments
/// are deltas within their chunk (docs/trace-format.md §5.1), by the roles of the kinds a reader merges.
struct SyntheticTrace {
    let kinds: [EventKindSpec]
    /// `kinds` merged into the built-in table as a reader merges them: which arguments are goroutines.
    private let specs: [EventKindSpec?]
    var payload: [UInt8] = []
    var chunks: [UInt8] = []
    var eventsInChunk: UInt32 = 0
    var totalEvents: UInt64 = 0
    var chunkCount: UInt64 = 0
    var lastTicks: UInt64 = 0
    var chunkBase: UInt64 = 0
    var sequence: UInt64 = 0
    var previousGoroutine: UInt64 = 0

    init(kinds: [EventKindSpec] = EventKindSpec.builtIn) {
        self.kinds = kinds
        var catalogue = KindCatalogue()
        catalogue.adopt(kinds)
        specs = catalogue.specs
    }

    /// Events not yet encoded; sorted by time (stably) when the file is made, so scenarios may be written
    /// goroutine by goroutine.
    var pending: [(time: UInt64, kind: EventKind, arguments: [TraceValue])] = []

    /// Records one event at `time` nanoseconds since the trace start.
    mutating func emit(_ kind: EventKind, at time: UInt64, _ arguments: [TraceValue]) {
        pending.append((time, kind, arguments))
    }

    private mutating func encode(_ kind: EventKind, at time: UInt64, _ arguments: [TraceValue]) {
        if eventsInChunk == 0 {
            chunkBase = lastTicks
            previousGoroutine = 0
        }
        payload.append(kind.rawValue)
        let ticks = max(time, lastTicks)
        appendVarint(ticks - lastTicks, to: &payload)
        lastTicks = ticks
        let roles = specs[Int(kind.rawValue)]?.arguments ?? []
        for (index, argument) in arguments.enumerated() {
            switch argument {
            case .number(let value):
                let isGoroutine = index < roles.count && roles[index].isGoroutineDelta
                let wire = isGoroutine ? GoroutineDelta.encode(value, previous: &previousGoroutine) : value
                appendVarint(wire, to: &payload)
            case .numbers(let values):
                appendVarint(UInt64(values.count), to: &payload)
                for value in values { appendVarint(value, to: &payload) }
            case .bytes(let bytes):
                appendVarint(UInt64(bytes.count), to: &payload)
                payload += bytes
            }
        }
        eventsInChunk += 1
        totalEvents += 1
        if payload.count > 60_000 { seal() }
    }

    mutating func emit(_ kind: EventKind, at time: UInt64, _ numbers: UInt64...) {
        emit(kind, at: time, numbers.map { .number($0) })
    }

    mutating func string(_ id: UInt64, _ text: String, at time: UInt64 = 0) {
        emit(.string, at: time, [.number(id), .bytes(Array(text.utf8))])
    }

    mutating func stack(_ id: UInt64, _ pcs: [UInt64], at time: UInt64 = 0) {
        emit(.stack, at: time, [.number(id), .numbers(pcs)])
    }

    private mutating func seal() {
        guard eventsInChunk > 0 else { return }
        let header = ChunkHeader(type: .events, machine: 1, sequence: sequence, baseTicks: chunkBase,
                                 startTicks: chunkBase, endTicks: lastTicks, eventCount: eventsInChunk,
                                 rawPayloadSize: UInt32(payload.count), storedPayloadSize: UInt32(payload.count),
                                 payloadCRC: crc32(of: payload[...]))
        chunks += header.encoded() + payload
        payload = []
        eventsInChunk = 0
        sequence += 1
        chunkCount += 1
    }

    /// The complete file.
    mutating func bytes() -> [UInt8] {
        let ordered = pending.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        pending = []
        for (_, event) in ordered { encode(event.kind, at: event.time, event.arguments) }
        seal()
        return FileHeader(ticksPerSecond: 1_000_000_000, startTicks: 0, startWallTimeNanoseconds: 0).encoded()
            + KindTableCodec.chunk(for: kinds) + chunks
            + EndChunk(events: totalEvents, chunks: chunkCount, droppedEvents: 0, endWallTimeNanoseconds: 0).encoded()
    }

    /// Writes the file to a fresh temporary path and returns it.
    mutating func write(name: String = "synthetic") throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(name)-\(UUID().uuidString).gtrace").path
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Scenarios with known answers, shared by the analyzer tests and the committed fixtures in traces/.
enum Scenario {
    static let ms: UInt64 = 1_000_000
    static let receiveStack: [UInt64] = [0x1000, 0x2000, 0x3000]
    static let spawnStack: [UInt64] = [0x4000, 0x5000]

    /// Main (g1) spawns 100 goroutines that each block forever receiving from one channel.
    static func hundredBlockedReceivers() -> SyntheticTrace {
        var trace = SyntheticTrace()
        trace.stack(1, receiveStack)
        trace.stack(2, spawnStack)
        var now: UInt64 = 1000
        trace.emit(.snapshot, at: now, 1, 1, 12, 0, 0)
        for index in 0..<100 {
            let g = UInt64(10 + index)
            now += 1000
            trace.emit(.spawn, at: now, 1, g, 2)
            trace.emit(.start, at: now + 200, g)
            trace.emit(.park, at: now + 500, g, UInt64(ParkReason.chanReceive.rawValue), 1)
        }
        trace.emit(.end, at: now + 10 * ms, 1)
        return trace
    }

    /// A kind table with the proposed mutex-holder facts: `park` gains a trailing `object` argument and
    /// two new kinds say who acquires and releases which mutex.
    static let mutexKinds: [EventKindSpec] = EventKindSpec.builtIn.map { spec in
        guard spec.kind == .park else { return spec }
        var extended = spec
        extended.arguments.append(ArgumentSpec("object", .address))
        return extended
    } + [
        EventKindSpec(EventKind(rawValue: 34), "mutex-acquire", [.init("goroutine", .goroutine), .init("object", .address)]),
        EventKindSpec(EventKind(rawValue: 35), "mutex-release", [.init("goroutine", .goroutine), .init("object", .address)]),
    ]

    /// g2 takes A then wants B; g3 takes B then wants A: one cycle of two.
    static func abbaDeadlock() -> SyntheticTrace {
        var trace = SyntheticTrace(kinds: mutexKinds)
        let (a, b): (UInt64, UInt64) = (0xA000, 0xB000)
        let acquire = EventKind(rawValue: 34)
        let mutex = UInt64(ParkReason.mutex.rawValue)
        trace.stack(1, [0x7000, 0x7100])
        trace.emit(.spawn, at: 100, 1, 2, 0)
        trace.emit(.spawn, at: 110, 1, 3, 0)
        trace.emit(.start, at: 200, 2)
        trace.emit(acquire, at: 210, 2, a)
        trace.emit(.park, at: 220, 2, UInt64(ParkReason.yield.rawValue), 0, 0)
        trace.emit(.start, at: 300, 3)
        trace.emit(acquire, at: 310, 3, b)
        trace.emit(.park, at: 320, 3, mutex, 1, a)
        trace.emit(.start, at: 400, 2)
        trace.emit(.park, at: 420, 2, mutex, 1, b)
        trace.emit(.end, at: 5 * ms, 1)
        return trace
    }

    /// Four workers drain a job channel, then the channel closes and every worker ends: no leak.
    static func workerPool() -> SyntheticTrace {
        var trace = SyntheticTrace()
        trace.stack(1, receiveStack)
        var now: UInt64 = 1000
        for worker in UInt64(2)...5 { trace.emit(.spawn, at: now, 1, worker, 0) }
        for round in 0..<50 {
            for worker in UInt64(2)...5 {
                now += 100
                trace.emit(.start, at: now, worker)
                trace.emit(.park, at: now + 50, worker, UInt64(ParkReason.chanReceive.rawValue), 1)
                trace.emit(.unpark, at: now + 80 + UInt64(round), worker, 1, 0)
            }
        }
        for worker in UInt64(2)...5 {
            now += 100
            trace.emit(.start, at: now, worker)
            trace.emit(.end, at: now + 10, worker)
        }
        return trace
    }

    /// Fifty goroutines each sleep 20 ms once (± a few µs of timer slack).
    static func sleepers() -> SyntheticTrace {
        var trace = SyntheticTrace()
        var now: UInt64 = 1000
        for index in 0..<50 {
            let g = UInt64(100 + index)
            now += 1_000
            trace.emit(.spawn, at: now, 1, g, 0)
            trace.emit(.start, at: now + 5_000, g)
            trace.emit(.park, at: now + 6_000, g, UInt64(ParkReason.sleep.rawValue), 0)
            let slack = UInt64(index % 7) * 10_000
            trace.emit(.unpark, at: now + 6_000 + 20 * ms + slack, g, 0, 0)
            trace.emit(.start, at: now + 6_000 + 20 * ms + slack + 3_000, g)
            trace.emit(.end, at: now + 6_000 + 20 * ms + slack + 4_000, g)
        }
        return trace
    }
}
