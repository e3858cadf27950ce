// How Go's events become gotrace events (docs/go-traces.md has the table and the reasons).
//
// Design note
// -----------
// One Go event maps to zero, one or two gotrace events, so that `GoroutineModel` derives from a Go trace
// the same states it derives from ours:
//   GoCreate → spawn(parent, child, creation stack); GoStart/GoStartLocal → start; GoStartLabel →
//   goroutine-label + start;
//   GoBlock* / GoSleep / GoStop → park(reason, stack); GoSysBlock → park(syscall); GoUnblock → unpark;
//   GoSched → park(yield) + unpark (Go's "runnable again at once"); GoPreempt → preempt(honoured);
//   GoEnd → end; ProcStart/ProcStop → proc-start/proc-stop; GoSysCall → syscall-enter;
//   GoSysExit → unpark when the syscall had blocked (GoSysBlock or GoInSyscall: the goroutine lost its P
//   and waits to be scheduled like a woken one), else syscall-exit;
//   GoWaiting (blocked when tracing began) → park(other, no stack); GoInSyscall → park(syscall, no stack);
//   UserRegion → region-begin/region-end; UserLog → log; CPUSample → cpu-sample.
// Everything else (GC, heap, GOMAXPROCS, tasks, futile wake-ups) has no gotrace kind and is dropped.
// Timestamps: ticks since the first event, converted with the frequency event; a timestamp smaller than
// the previous event's is reported once and raised. GoSysExit carries the time the syscall really
// returned; it is used when it is not earlier than what was already emitted (Go re-sorts instead).

import GoTrace

extension GoTraceReader {
    /// Park reasons as wire codes (EventKind.swift `ParkReason`).
    static func parkReason(ofGoType type: UInt8) -> ParkReason? {
        switch type {
        case GoEventType.goBlockRecv: .chanReceive
        case GoEventType.goBlockSend: .chanSend
        case GoEventType.goBlockSelect: .select
        // sync.Mutex, sync.RWMutex, sync.WaitGroup and sync.Cond's notify list all park with GoBlockSync in
        // Go 1.19 (semacquire); the trace cannot tell them apart, so all are `mutex`.
        case GoEventType.goBlockSync: .mutex
        case GoEventType.goBlockCond: .cond
        case GoEventType.goSleep: .sleep
        case GoEventType.goBlockNet: .io
        case GoEventType.goSysBlock: .syscall
        case GoEventType.goBlock, GoEventType.goStop, GoEventType.goBlockGC: .other
        default: nil
        }
    }

    /// Goroutines the runtime runs for itself, by entry function: Go's own rule (`runtime.*` except
    /// `runtime.main`, as `go tool trace` hides them), plus the tracer's goroutines, which package
    /// `runtime/trace` starts (`Start.func1` up to Go 1.25, the trace multiplexer's from Go 1.26): they block
    /// in `runtime.ReadTrace` until the trace stops and are part of the recording, not of the program.
    static func isSystemEntry(_ function: String) -> Bool {
        (function.hasPrefix("runtime.") && function != "runtime.main") || function.hasPrefix("runtime/trace.")
    }

    /// Maps `current` (from stream `stream`) into the pending events.
    func map(stream: Int) {
        let event = current
        // Time: never backwards.
        var ticks = event.ticks
        if event.type == GoEventType.goSysExit || event.type == GoEventType.goSysExitLocal {
            let real = event.type == GoEventType.goSysExit ? event.args.2 : event.args.1
            if real != 0, real <= ticks, real >= (lastSysBlock[event.g] ?? 0) { ticks = real }
            if ticks < lastTicks { ticks = lastTicks }  // the real time lies before what was emitted: not an error
        } else if ticks < lastTicks {
            outOfOrderTimestamps += 1
            if !reportedTimeOrder {
                reportedTimeOrder = true
                report(event.offset, "time stamps out of order (Go's parser rejects this trace); later ones raised to keep order")
            }
            ticks = lastTicks
        }
        lastTicks = ticks
        if event.stack != 0, !reportedMissingStack, !stackDefined.contains(event.stack) {
            // Go writes its stack table last, after the frequency: a trace cut inside the table has no other sign.
            reportedMissingStack = true
            isComplete = false
            report(event.offset, "stack \(event.stack) is not in the trace's stack table (the trace was cut short?); its frames are unknown")
        }
        let time = clock.nanoseconds(ticks)
        let p = event.p
        let proc: UInt64 = p >= 0 ? UInt64(p) : UInt64.max
        let machine = stream < streamCount ? streams[stream].thread : 0
        let context = event.g
        /// `goroutine` is the one the event concerns (filtered if it is the runtime's); `first` replaces it as
        /// the first argument (spawn's parent, the P of proc events).
        func emit(_ kind: EventKind, _ goroutine: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0,
                  first: UInt64? = nil, count: Int) {
            if !includeSystemGoroutines, system.contains(goroutine) { return }
            let made = GoMappedEvent(kind: kind, nanoseconds: time, machine: machine, proc: proc, goroutine: goroutine,
                                     arguments: (first ?? goroutine, a, b, c), argumentCount: count)
            pending.append(made)
        }
        let none = UInt64.max
        switch event.type {
        case GoEventType.goCreate:
            let child = event.args.0
            if let entry = entryFunction(ofStack: event.args.1), GoTraceReader.isSystemEntry(entry) {
                system.insert(child)
            }
            let creation = event.stack != 0 ? event.stack : event.args.1
            emit(.spawn, child, child, creation, first: context == 0 ? none : context, count: 3)
        case GoEventType.goStart, GoEventType.goStartLocal:
            emit(.start, event.g, count: 1)
        case GoEventType.goStartLabel:
            // [g, seq, label string]: the label (Go's GC workers: "GC (dedicated)") becomes the goroutine's.
            emit(.goroutineLabel, event.g, event.args.2, count: 2)
            emit(.start, event.g, count: 1)
        case GoEventType.goEnd:
            emit(.end, context, count: 1)
            blockedInSyscall.remove(context)
        case GoEventType.goSched:
            emit(.park, context, UInt64(ParkReason.yield.rawValue), event.stack, count: 3)
            emit(.unpark, context, context, event.stack, count: 3)
        case GoEventType.goPreempt:
            emit(.preempt, context, UInt64(PreemptKind.honouredCooperative.rawValue), count: 2)
        case GoEventType.goSysBlock:
            blockedInSyscall.insert(context)
            lastSysBlock[context] = ticks
            emit(.park, context, UInt64(ParkReason.syscall.rawValue), 0, count: 3)
        case GoEventType.goUnblock, GoEventType.goUnblockLocal:
            emit(.unpark, event.args.0, context == 0 ? none : context, event.stack, count: 3)
        case GoEventType.goSysCall:
            emit(.syscallEnter, context, event.stack, count: 2)
        case GoEventType.goSysExit, GoEventType.goSysExitLocal:
            if blockedInSyscall.remove(event.g) != nil {
                emit(.unpark, event.g, none, 0, count: 3)
            } else {
                emit(.syscallExit, event.g, count: 1)
            }
        case GoEventType.goWaiting:
            emit(.park, event.g, UInt64(ParkReason.other.rawValue), 0, count: 3)
        case GoEventType.goInSyscall:
            blockedInSyscall.insert(event.g)
            lastSysBlock[event.g] = ticks
            emit(.park, event.g, UInt64(ParkReason.syscall.rawValue), 0, count: 3)
        case GoEventType.procStart:
            emit(.procStart, none, first: proc, count: 1)
        case GoEventType.procStop:
            emit(.procStop, none, first: proc, count: 1)
        case GoEventType.userRegion:
            // [task, mode (0 begin, 1 end), name]
            emit(event.args.1 == 0 ? .regionBegin : .regionEnd, context, event.args.2, count: 2)
        case GoEventType.userLog:
            emit(.log, context, event.args.1, logMessageIDs[event.offset] ?? 0, count: 3)
        case GoEventType.cpuSample:
            emit(.cpuSample, event.g, event.stack, count: 2)
        default:
            if let reason = GoTraceReader.parkReason(ofGoType: event.type) {
                emit(.park, context, UInt64(reason.rawValue), event.stack, count: 3)
            }
        }
    }
}
