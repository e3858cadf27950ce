// The goroutine state machine every analyzer shares.
//
// Design note
// -----------
// The host derives goroutine state transitions once, here, and hands them to every plugin next to the
// events (gotrace_plugin.h: `gotrace_transition`), so plugins agree on what "blocked" and "runnable" mean.
// Rules, one per event kind (arguments as in EventKind.swift):
//   spawn(parent, child, stack)   child   → RUNNABLE; remembers parent, creation time and creation stack.
//   start(g)                      g       → RUNNING.
//   park(g, reason, stack)        g       → WAITING(reason), or → RUNNABLE when the reason is `yield` or
//                                           `preempted` (the goroutine wants to run again, it is not blocked).
//   unpark(g, waker, stack)       g       WAITING → RUNNABLE; an unpark of a goroutine that is not waiting
//                                           (a racing wake-up) changes nothing.
//   syscall-enter(g, stack)       g       → SYSCALL;  syscall-exit(g): SYSCALL → RUNNING.
//   preempt(g, honoured-*)        g       → RUNNABLE (reason `preempted`); requests change nothing.
//   snapshot(g, state, reason, stack, waited)  sets the state outright (goroutines that predate the trace);
//                                           a waiting or syscall goroutine's `since` is `waited` before the
//                                           snapshot — before the trace's start in a flight-recorder window,
//                                           a negative time (GoTracePluginKit's TraceTime).
//   end(g)                        g       → DEAD, and the goroutine is forgotten.
// A goroutine first seen in any other event starts in UNKNOWN, so `from` may be UNKNOWN.
//
// Memory: one 64-byte record per live goroutine. Ids below `denseLimit` — in practice all of them, the
// runtime numbers goroutines from 1 — live in a flat array (an index, no hashing: this is the hottest
// loop of `gotrace report`); larger ids in an open-addressing table (GoTraceShared's `IdTable`) from which ended
// goroutines are removed. The array is bounded by the largest id seen (≤ 64 MiB), never by the number of
// events.

import CGoTracePlugin
import struct GoTraceShared.IdTable
import enum GoTraceShared.KindCode
import enum GoTraceShared.ParkReasonName
import enum GoTraceShared.PreemptKindCode
import enum GoTrace.GoroutineState

/// What the model keeps per goroutine.
struct GoroutineRecord {
    var state: UInt8 = UInt8(GOTRACE_G_UNKNOWN.rawValue)
    var reason: UInt8 = 0
    var parent: UInt64 = noID
    var createdNs: UInt64 = noID
    var sinceNs: UInt64 = noID
    var creationStack: UInt64 = 0
    var stateStack: UInt64 = 0
    var label: UInt64 = 0
}


enum State {
    static let unknown = UInt8(GOTRACE_G_UNKNOWN.rawValue)
    static let runnable = UInt8(GOTRACE_G_RUNNABLE.rawValue)
    static let running = UInt8(GOTRACE_G_RUNNING.rawValue)
    static let waiting = UInt8(GOTRACE_G_WAITING.rawValue)
    static let syscall = UInt8(GOTRACE_G_SYSCALL.rawValue)
    static let dead = UInt8(GOTRACE_G_DEAD.rawValue)
}

/// The transitions derived from one batch, and beside each the stack of the state it leaves (the batch's
/// `transition_from_stacks`, ABI 1.2). `apply` derives at most one per event, so a capacity of the batch size
/// bounds it; raw buffers because a Swift array's append checked uniqueness per transition (~1% of a report).
struct TransitionBuffer {
    let base: UnsafeMutablePointer<gotrace_transition>
    let fromStacks: UnsafeMutablePointer<UInt64>
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        base = .allocate(capacity: max(1, capacity))
        fromStacks = .allocate(capacity: max(1, capacity))
        self.capacity = capacity
    }

    func deallocate() {
        base.deallocate()
        fromStacks.deallocate()
    }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func append(_ transition: gotrace_transition, fromStack: UInt64) {
        precondition(count < capacity, "TransitionBuffer: more transitions than events")
        // Safety: count < capacity, inside both allocations; gotrace_transition is a trivial C struct.
        (base + count).initialize(to: transition)
        (fromStacks + count).initialize(to: fromStack)
        count += 1
    }

    var buffer: UnsafeBufferPointer<gotrace_transition> { UnsafeBufferPointer(start: base, count: count) }
    var fromStackBuffer: UnsafeBufferPointer<UInt64> { UnsafeBufferPointer(start: fromStacks, count: count) }
}

/// "No goroutine / no P / unknown time" in ABI structs (GOTRACE_NONE in the header).
let noID = UInt64.max

public final class GoroutineModel {
    /// Ids below this live in `dense`; 1 Mi ids × 64 bytes = 64 MiB at most.
    static let denseLimit: UInt64 = 1 << 20

    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var dense: [GoroutineRecord] = []
    /// Ids at or above `denseLimit`: a long trace numbers its goroutines into the millions, so most of them
    /// land here (a `Dictionary` spent a SipHash per event on them, ~6% of a report on 100 M events).
    @exclusivity(unchecked) private var sparse = IdTable<GoroutineRecord>()
    /// Goroutines seen and not ended.
    @exclusivity(unchecked) public private(set) var liveCount = 0

    public init() {}


    @inline(__always)
    private func withRecord<R>(_ id: UInt64, _ body: (inout GoroutineRecord) -> R) -> R {
        if id < GoroutineModel.denseLimit {
            let index = Int(id)
            if index >= dense.count {
                dense.append(contentsOf: repeatElement(GoroutineRecord(), count: max(index + 1 - dense.count, dense.count)))
            }
            return body(&dense[index])
        }
        return sparse.withValue(forKey: id, inserting: GoroutineRecord(), body)
    }

    /// Derives the transitions `event` causes and appends them to `transitions`.
    @inline(__always)
    func apply(_ event: UnsafePointer<gotrace_event>, index: UInt32, into transitions: inout TransitionBuffer) {
        let kind = event.pointee.kind
        guard kind >= KindCode.spawn && kind <= KindCode.snapshot else { return }  // only scheduling kinds change states
        let time = event.pointee.time_ns
        let a = event.pointee.arguments
        switch kind {
        case KindCode.spawn:  // spawn(parent, child, stack)
            withRecord(a.1) { record in
                record.parent = a.0
                record.createdNs = time
                record.creationStack = a.2
            }
            move(a.1, to: State.runnable, reason: 0, stack: a.2, other: a.0, time, index, &transitions)
        case KindCode.start:  // start(g)
            move(a.0, to: State.running, reason: 0, stack: 0, other: noID, time, index, &transitions)
        case KindCode.park:  // park(g, reason, stack)
            let reason = UInt8(truncatingIfNeeded: a.1)
            let to = reason == ParkReasonName.yield || reason == ParkReasonName.preempted
                ? State.runnable : State.waiting
            move(a.0, to: to, reason: reason, stack: a.2, other: noID, time, index, &transitions)
        case KindCode.unpark:  // unpark(g, waker, stack)
            let waiting = withRecord(a.0) { $0.state == State.waiting }
            if waiting { move(a.0, to: State.runnable, reason: 0, stack: a.2, other: a.1, time, index, &transitions) }
        case KindCode.end:  // end(g)
            move(a.0, to: State.dead, reason: 0, stack: 0, other: noID, time, index, &transitions)
        case KindCode.preempt:  // preempt(g, kind)
            if PreemptKindCode.isHonoured(a.1) {
                move(a.0, to: State.runnable, reason: ParkReasonName.preempted, stack: 0, other: noID,
                     time, index, &transitions)
            }
        case KindCode.syscallEnter:  // syscall-enter(g, stack)
            move(a.0, to: State.syscall, reason: 0, stack: a.1, other: noID, time, index, &transitions)
        case KindCode.syscallExit:  // syscall-exit(g)
            move(a.0, to: State.running, reason: 0, stack: 0, other: noID, time, index, &transitions)
        case KindCode.snapshot:  // snapshot(g, state, reason, stack): trace-format states runnable, running, waiting, syscall
            let state: UInt8
            switch a.1 <= UInt64(UInt8.max) ? GoroutineState(rawValue: UInt8(a.1)) : nil {
            case .runnable: state = State.runnable
            case .running: state = State.running
            case .waiting: state = State.waiting
            case .syscall: state = State.syscall
            case nil: return
            }
            // A snapshot of a goroutine whose events already put it in that state only confirms it (the
            // runtime snapshots every goroutine again when tracing stops): moving it would restart its
            // `since` and cut a wait in two.
            if withRecord(a.0, { $0.state }) == state { return }
            move(a.0, to: state, reason: UInt8(truncatingIfNeeded: a.2), stack: a.3, other: noID, time, index,
                 &transitions)
            let waited = a.4
            if waited > 0, state == State.waiting || state == State.syscall {
                withRecord(a.0) { $0.sinceNs = time &- waited }
            }
        default:
            return
        }
    }

    /// Labels are not state changes; recorded separately.
    func setLabel(_ goroutine: UInt64, _ label: UInt64) { withRecord(goroutine) { $0.label = label } }

    @inline(__always)
    private func move(_ goroutine: UInt64, to state: UInt8, reason: UInt8, stack: UInt64, other: UInt64,
                      _ time: UInt64, _ index: UInt32, _ transitions: inout TransitionBuffer) {
        let (transition, fromStack): (gotrace_transition, UInt64) = withRecord(goroutine) { record in
            let from = record.state
            // The stack the goroutine entered `from` with: its park stack, or its system call's.
            let fromStack = from == State.waiting || from == State.syscall ? record.stateStack : 0
            if from == State.unknown || from == State.dead { liveCount += 1 }
            let made = gotrace_transition(
                time_ns: time, goroutine: goroutine, from: from, to: state,
                reason: state == State.waiting ? reason : (from == State.waiting ? record.reason : reason),
                reserved0: 0, event_index: index, stack_id: stack, other: other, since_ns: record.sinceNs,
                creation_stack: record.creationStack)
            record.state = state
            record.reason = state == State.waiting || state == State.runnable ? reason : 0
            record.sinceNs = time
            if state == State.waiting || state == State.syscall || state == State.runnable && stack != 0 {
                record.stateStack = stack
            }
            return (made, fromStack)
        }
        transitions.append(transition, fromStack: fromStack)
        if state == State.dead {
            liveCount -= 1
            if goroutine < GoroutineModel.denseLimit {
                dense[Int(goroutine)] = GoroutineRecord(state: State.dead)
            } else {
                sparse.removeValue(forKey: goroutine)
            }
        }
    }

    func info(_ id: UInt64) -> gotrace_goroutine_info? {
        let record: GoroutineRecord?
        if id < GoroutineModel.denseLimit {
            record = Int(id) < dense.count ? dense[Int(id)] : nil
        } else {
            record = sparse[id]
        }
        guard let record, record.state != State.unknown, record.state != State.dead else { return nil }
        return GoroutineModel.info(id, record)
    }

    /// Every goroutine not yet dead, ascending by id (dense ids are all below sparse ones).
    func forEachLive(_ body: (gotrace_goroutine_info) -> Void) {
        for (index, record) in dense.enumerated() where record.state != State.unknown && record.state != State.dead {
            body(GoroutineModel.info(UInt64(index), record))
        }
        for id in sparse.allKeys.sorted() {
            if let record = sparse[id], record.state != State.unknown, record.state != State.dead {
                body(GoroutineModel.info(id, record))
            }
        }
    }

    private static func info(_ id: UInt64, _ record: GoroutineRecord) -> gotrace_goroutine_info {
        gotrace_goroutine_info(
            struct_size: UInt32(MemoryLayout<gotrace_goroutine_info>.size), state: record.state,
            reason: record.state == State.waiting ? record.reason : 0, reserved0: 0, id: id, parent: record.parent,
            created_ns: record.createdNs, state_since_ns: record.sinceNs, creation_stack: record.creationStack,
            state_stack: record.stateStack, label: record.label)
    }
}

