// Reconciling a trace's goroutine life cycles: did every event that happened reach the file?
//
// Design note
// -----------
// A lost event leaves a visible hole in a goroutine's life: a lost `unpark` shows as a `start` of a parked
// goroutine, a lost `park` as a second `start` of a running one, a lost `end` as a goroutine that is neither
// ended nor in the final snapshot, a lost chunk as all of these at once. So the accounting replays every
// goroutine's transitions through a strict state machine and checks, for a *complete* trace:
//   1. every goroutine spawned in the trace ends in it, or is in the final snapshot (the `snapshot` events
//      the runtime writes when the recording stops);
//   2. every `park` is matched by an `unpark` of that goroutine, or the goroutine is still parked at the
//      end and the final snapshot says it is waiting;
//   3. each transition is legal from the goroutine's state (start: runnable; park, end: running; unpark:
//      waiting), and no goroutine is spawned twice or used after its end;
//   4. the writer's totals (end chunk) equal what was read — events and event chunks — and the chunk
//      headers report no dropped events, and no chunk was damaged.
// "The final snapshot" for a goroutine means a `snapshot` event after its last transition: the start
// snapshot precedes every transition of the goroutines it lists, so only the stop snapshot can follow one.
// The runtime takes both snapshots with the world stopped (GoRuntime/Scheduler+WorldStop.swift), so the final
// one is exact even for a recording stopped in the middle of a busy program — except for the goroutines of an
// M that did not stop within the runtime's bound, which the trace then flags with a `runtime` log event.
//
// Rules of the goroutine model (GoroutineModel in GoTraceAnalysis) that this deliberately does NOT relax:
// the model tolerates a racing unpark of a goroutine that is not waiting; this runtime emits `unpark` only
// from `ready`, which asserts that the goroutine is waiting, so here it is a mismatch.

/// The accounting of one trace; feed it every event in order, then `finish`.
public struct EventAccounting: Sendable {
    enum LifeState: Sendable, Equatable {
        case runnable, running, waiting, syscall, dead
    }

    struct Goroutine: Sendable {
        var state: LifeState
        /// Position (event index) of the last transition, and of the last snapshot that listed it.
        var lastTransition: UInt64
        var lastSnapshot: UInt64?
        var snapshotState: LifeState?
        var spawned: Bool
    }

    /// The totals, in the spelling `gotrace stat --check` prints.
    public struct Report: Sendable, Equatable, Codable {
        public var spawned: UInt64 = 0
        public var ended: UInt64 = 0
        /// Goroutines spawned in the trace, not ended, and listed in the final snapshot.
        public var liveInFinalSnapshot: UInt64 = 0
        public var parks: UInt64 = 0
        public var unparks: UInt64 = 0
        /// Parks with no unpark, whose goroutine the final snapshot shows waiting.
        public var parkedAtEnd: UInt64 = 0
        public var droppedEvents: UInt64 = 0
        public var mismatchCount: UInt64 = 0
        /// The first mismatches (at most `EventAccounting.mismatchesKept`), one line each.
        public var mismatches: [String] = []
        /// No mismatch (set by `finish`).
        public var passed = false
    }

    public static let mismatchesKept = 20

    /// Goroutines not (yet) ended. Ended ones move to `ended`, so a long run's memory is bounded by the
    /// live goroutines plus one bit per id (ids are dense, numbered from 1).
    private var goroutines: [UInt64: Goroutine] = [:]
    private var ended = DenseIdSet(denseBelow: 1 << 32)
    private var index: UInt64 = 0
    private var report = Report()

    public init() {}

    private mutating func mismatch(_ text: String, at event: TraceEvent) {
        mismatch("event \(index) (\(event.spec.name) at \(event.nanoseconds) ns on M\(event.machine)): \(text)")
    }

    private mutating func mismatch(_ text: String) {
        report.mismatchCount += 1
        if report.mismatches.count < EventAccounting.mismatchesKept { report.mismatches.append(text) }
    }

    /// Moves `id` from one of `allowed` states to `next`; a goroutine first seen here (it predates the trace
    /// and the start snapshot) is taken to have been in the first allowed state.
    private mutating func transition(_ id: UInt64, from allowed: [LifeState], to next: LifeState,
                                     _ event: TraceEvent, _ what: String) {
        guard id != 0 else { return }
        if ended.contains(id) {
            mismatch("g\(id) \(what) after its end", at: event)
            return
        }
        var record = goroutines[id] ?? Goroutine(state: allowed[0], lastTransition: index, spawned: false)
        if !allowed.contains(record.state) {
            mismatch("g\(id) \(what) while \(record.state)", at: event)
        }
        if next == .dead {
            goroutines[id] = nil
            ended.insert(id)
            return
        }
        record.state = next
        record.lastTransition = index
        goroutines[id] = record
    }

    public mutating func observe(_ event: TraceEvent) {
        defer { index += 1 }
        func number(_ position: Int) -> UInt64 {
            position < event.arguments.count ? event.arguments[position].number ?? 0 : 0
        }
        switch event.kind {
        case .spawn:
            let child = number(1)
            report.spawned += 1
            if goroutines[child] != nil || ended.contains(child) {
                mismatch("g\(child) spawned again (ids are unique)", at: event)
            }
            goroutines[child] = Goroutine(state: .runnable, lastTransition: index, spawned: true)
        case .start:
            transition(number(0), from: [.runnable], to: .running, event, "started")
        case .park:
            report.parks += 1
            // A yield parks too (reason `yield`), and the scheduler emits its unpark: no special case.
            transition(number(0), from: [.running], to: .waiting, event, "parked")
        case .unpark:
            report.unparks += 1
            transition(number(0), from: [.waiting], to: .runnable, event, "unparked")
        case .end:
            report.ended += 1
            transition(number(0), from: [.running], to: .dead, event, "ended")
        case .syscallEnter:
            transition(number(0), from: [.running], to: .syscall, event, "entered a syscall")
        case .syscallExit:
            transition(number(0), from: [.syscall], to: .running, event, "left a syscall")
        case .preempt:
            let kind = number(1)
            if kind == UInt64(PreemptKind.honouredCooperative.rawValue)
                || kind == UInt64(PreemptKind.honouredAsynchronous.rawValue)
            {
                transition(number(0), from: [.running], to: .runnable, event, "was preempted")
            }
        case .snapshot:
            let id = number(0)
            guard id != 0 else { break }
            guard let state = LifeState(snapshotState: number(1)) else {
                mismatch("g\(id) in a snapshot with unknown state \(number(1))", at: event)
                break
            }
            if ended.contains(id) {
                mismatch("g\(id) in a snapshot after its end", at: event)
            } else if var record = goroutines[id] {
                record.lastSnapshot = index
                record.snapshotState = state
                goroutines[id] = record
            } else {
                // Predates the trace: the start snapshot introduces it.
                goroutines[id] = Goroutine(state: state, lastTransition: index, lastSnapshot: index,
                                           snapshotState: state, spawned: false)
            }
        default:
            break
        }
    }

    /// The verdict. `complete`: the trace has its end chunk (without it there is no final snapshot to
    /// reconcile against, which is itself a mismatch). `totals`: the end chunk's event and chunk counts, to
    /// compare with `eventsRead` and `eventChunks`.
    public mutating func finish(complete: Bool, endChunk: EndChunk?, eventsRead: UInt64, eventChunks: Int,
                                droppedEvents: UInt64, corruptChunks: Int) -> Report {
        report.droppedEvents = droppedEvents
        if !complete {
            mismatch("the trace is incomplete (no end chunk): there is no final snapshot to reconcile with")
        }
        if droppedEvents > 0 { mismatch("the writer dropped \(droppedEvents) events (chunk headers)") }
        if corruptChunks > 0 { mismatch("\(corruptChunks) damaged chunks skipped") }
        if let endChunk {
            if endChunk.events != eventsRead {
                mismatch("the end chunk counts \(endChunk.events) events, \(eventsRead) were read")
            }
            if endChunk.chunks != UInt64(eventChunks) {
                mismatch("the end chunk counts \(endChunk.chunks) event chunks, the file holds \(eventChunks)")
            }
            if endChunk.droppedEvents > 0 { mismatch("the end chunk counts \(endChunk.droppedEvents) dropped events") }
        }
        for (id, record) in goroutines.sorted(by: { $0.key < $1.key }) where record.state != .dead {
            let snapshotState = record.snapshotState.map { "\($0)" } ?? "?"
            let inFinalSnapshot = record.lastSnapshot.map { $0 > record.lastTransition } ?? false
            if record.state == .waiting {
                if inFinalSnapshot && record.snapshotState == .waiting {
                    report.parkedAtEnd += 1
                } else if inFinalSnapshot {
                    mismatch("g\(id) parked and never unparked, but the final snapshot says \(snapshotState)")
                } else {
                    mismatch("g\(id) parked and never unparked, and is not in the final snapshot")
                }
            } else if !inFinalSnapshot {
                mismatch("g\(id) is \(record.state) at the end but neither ended nor in the final snapshot")
            } else if record.snapshotState != record.state
                && !(record.state == .runnable && record.snapshotState == .running)
            {
                // Runnable → running without a start event is the snapshotting goroutine itself (it is
                // running when it snapshots; its start may predate the trace).
                mismatch("g\(id) is \(record.state) by its events, \(snapshotState) in the final snapshot")
            }
            if record.spawned && inFinalSnapshot { report.liveInFinalSnapshot += 1 }
        }
        report.passed = report.mismatchCount == 0
        return report
    }
}

/// A set of ids (goroutines, stacks): one bit per id below `denseBelow`, larger ids in a `Set` — ids are
/// dense, numbered from 1, and some sets are asked once per event (a `Set` lookup there measured ~5% of a
/// report of a Go trace). The accounting's ended goroutines (bits up to 2^32: a few MiB for millions of
/// goroutines), and the Go readers' runtime goroutines and defined stacks (up to 2^20: a file's ids are not
/// trusted to be dense).
public struct DenseIdSet: Sendable {
    @usableFromInline let denseBelow: UInt64
    @usableFromInline var words: [UInt64] = []
    @usableFromInline var large: Set<UInt64> = []

    public init(denseBelow: UInt64) { self.denseBelow = denseBelow }

    @inlinable @inline(__always)
    public func contains(_ id: UInt64) -> Bool {
        guard id < denseBelow else { return large.contains(id) }
        let word = Int(id >> 6)
        return word < words.count && words[word] & (1 << (id & 63)) != 0
    }

    public mutating func insert(_ id: UInt64) {
        guard id < denseBelow else {
            large.insert(id)
            return
        }
        let word = Int(id >> 6)
        if word >= words.count { words += repeatElement(0, count: max(word + 1 - words.count, words.count)) }
        words[word] |= 1 << (id & 63)
    }
}

extension EventAccounting.LifeState {
    /// From a `snapshot` event's state argument (GoroutineState wire codes).
    init?(snapshotState code: UInt64) {
        guard code <= UInt64(UInt8.max), let state = GoroutineState(rawValue: UInt8(code)) else { return nil }
        switch state {
        case .runnable: self = .runnable
        case .running: self = .running
        case .waiting: self = .waiting
        case .syscall: self = .syscall
        }
    }
}

extension EventAccounting.LifeState: CustomStringConvertible {
    var description: String {
        switch self {
        case .runnable: "runnable"
        case .running: "running"
        case .waiting: "waiting"
        case .syscall: "in a syscall"
        case .dead: "dead"
        }
    }
}
