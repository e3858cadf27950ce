// How Go 1.22+ events become gotrace events (docs/go-traces.md has the table and the reasons).
//
// Design note
// -----------
// One Go event maps to zero to three gotrace events, so that `GoroutineModel` derives the same states it
// derives from our traces and from Go 1.19's:
//   GoCreate → spawn(parent, child, creation stack); GoStart → start; GoDestroy → end;
//   GoBlock(reason) → park(reason, stack), the reason from Go's reason string; GoUnblock → unpark;
//   GoStop → preempt(honoured) when Go says "preempted", else park(yield) + unpark (runnable again at once);
//   GoSyscallBegin → syscall-enter; GoSyscallEnd → syscall-exit; a ProcSteal that takes the P of a goroutine
//   in a syscall → park(syscall) for it, and GoSyscallEndBlocked → unpark (it waits for a P like a woken
//   goroutine) — as Go 1.19's GoSysBlock/GoSysExit;
//   GoStatus/GoStatusStack for a goroutine not seen before (it predates the trace) → snapshot(g, state,
//   reason, stack): Go states no reason, so a waiting goroutine's reason is read from its stack when the
//   trace has one (1.23+), else `other`;
//   ProcStart/ProcStop → proc-start/proc-stop, ProcStatus running for a P not seen before → proc-start;
//   GoSwitch (coroutines) → park or end of the current goroutine, unpark and start of the next;
//   GoLabel → goroutine-label; UserRegion* → region-begin/end; UserLog → log; CPU samples → cpu-sample.
// GC and STW ranges, heap metrics, GOMAXPROCS and tasks have no gotrace kind and are dropped.
// State transitions (goroutine, P and M state) are applied here too, exactly once per ordered event.

import GoTrace

extension GoTraceReader122 {
    /// Go's reason strings (runtime `traceBlockReason`/`traceGoStopReason`) as park reasons. `sync` covers
    /// sync.Mutex, RWMutex and WaitGroup alike, as Go 1.19's GoBlockSync did: all are `mutex`.
    static func parkReason(ofReason text: [UInt8]) -> ParkReason {
        switch String(decoding: text, as: UTF8.self) {
        case "chan receive": .chanReceive
        case "chan send": .chanSend
        case "select": .select
        case "sync": .mutex
        case "sync.(*Cond).Wait": .cond
        case "sleep": .sleep
        case "network": .io
        default: .other  // "forever" (select {}, nil channels), GC waits, "system goroutine wait", …
        }
    }

    /// The park reason a blocked goroutine's stack implies (innermost frame first): for statuses, which
    /// carry no reason.
    func parkReason(ofStack id: UInt64) -> ParkReason {
        if let known = reasonOfStack[id] { return known }
        var reason = ParkReason.other
        search: for address in stacks[id] ?? [] {
            let function = frames[address]?.function ?? ""
            for (marker, implied) in GoTraceReader122.stackReasons where function.contains(marker) {
                reason = implied
                break search
            }
        }
        reasonOfStack[id] = reason
        return reason
    }

    static let stackReasons: [(String, ParkReason)] = [
        ("chanrecv", .chanReceive), ("chansend", .chanSend), ("selectgo", .select),
        ("notifyListWait", .cond), ("(*Cond).Wait", .cond),
        ("Semacquire", .mutex), ("(*Mutex)", .mutex), ("(*RWMutex)", .mutex), ("(*WaitGroup)", .mutex),
        ("time.Sleep", .sleep), ("netpollblock", .io), ("internal/poll.", .io),
    ]

    /// The trace-wide id of the current generation's stack `local`; 0 (no stack) when its table lacks it —
    /// reported once: Go writes a generation's tables after its events, so a trace cut inside them shows
    /// only here.
    @inline(__always)
    func globalStack(_ local: UInt64) -> UInt64 {
        let global = generation.stacks.get(local)
        if global == 0, local != 0, !reportedMissingStack {
            reportedMissingStack = true
            isComplete = false
            report(generation.offset, "stack \(local) of generation \(generation.number) is not in its stack table (the trace was cut short?); its frames are unknown")
        }
        return global
    }

    @inline(__always)
    func reason(ofString global: UInt64) -> ParkReason {
        guard global < UInt64(reasonOfString.count) else { return .other }
        let cached = reasonOfString[Int(global)]
        if cached != 0, let known = ParkReason(rawValue: cached - 1) { return known }
        let reason = GoTraceReader122.parkReason(ofReason: strings[global] ?? [])
        reasonOfString[Int(global)] = reason.rawValue + 1
        return reason
    }

    func markSystemGoroutine(_ goroutine: UInt64, entry: String?) {
        guard let entry, GoTraceReader.isSystemEntry(entry) else { return }
        system.insert(goroutine)
    }

    /// Appends a mapped event unless it concerns one of the runtime's own goroutines (when those are left out).
    @inline(__always)
    func emit(_ kind: EventKind, at time: UInt64, machine: UInt64, proc: UInt64, goroutine: UInt64,
              _ arguments: (UInt64, UInt64, UInt64, UInt64), count: Int) {
        if !includeSystemGoroutines, goroutine != UInt64.max, system.contains(goroutine) { return }
        pending.append(GoMappedEvent(kind: kind, nanoseconds: time, machine: machine, proc: proc, goroutine: goroutine,
                                     arguments: arguments, argumentCount: count))
    }

    func mapSample(_ sample: CPUSample) {
        let time = nanoseconds(sample.ticks)
        let g = sample.g == 0 ? UInt64.max : sample.g
        let stack = globalStack(sample.stack)
        emit(.cpuSample, at: time, machine: sample.m == UInt64.max ? 0 : sample.m, proc: sample.p, goroutine: g,
             (g, stack, 0, 0), count: 2)
    }

    /// Applies and maps the head of cursor `index`.
    func map(cursor index: Int) {
        let event = cursors[index].head
        let me = cursors[index].machine
        let context = machines[me]
        let none = UInt64.max
        let g = context.g
        let p = context.p
        let machine = context.id == none ? 0 : context.id
        let time = nanoseconds(event.ticks)
        let generationNumber = generation.number
        let running = GoEventType122.GoroutineStatus.running.rawValue
        let runnable = GoEventType122.GoroutineStatus.runnable.rawValue
        let waiting = GoEventType122.GoroutineStatus.waiting.rawValue
        let inSyscall = GoEventType122.GoroutineStatus.syscall.rawValue
        @inline(__always) func on(_ kind: EventKind, _ goroutine: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0,
                                  first: UInt64? = nil, count: Int) {
            emit(kind, at: time, machine: machine, proc: p, goroutine: goroutine, (first ?? goroutine, a, b, 0), count: count)
        }
        @inline(__always) func setStatus(_ goroutine: UInt64, _ status: UInt8, seq: UInt64? = nil) {
            if goroutine < UInt64(goroutines.count) {
                // In place: the common case, no copy of the record.
                goroutines[Int(goroutine)].status = status
                if let seq {
                    goroutines[Int(goroutine)].seq = seq
                    goroutines[Int(goroutine)].generation = generationNumber
                }
                return
            }
            var state = self.goroutine(goroutine)
            state.status = status
            if let seq {
                state.seq = seq
                state.generation = generationNumber
            }
            setGoroutine(goroutine, state)
        }
        let current = g == 0 ? none : g
        if g != 0, !entryUnknown.isEmpty, entryUnknown.contains(g), let stackIndex = GoEventType122.table[Int(event.type)]?.stackArguments.first {
            // A goroutine that predates the trace, without a stack in its status: its first own stack names
            // its entry function (the outermost frame).
            let local = stackIndex == 1 ? event.args.0 : stackIndex == 2 ? event.args.1 : event.args.2
            if let outermost = stacks[globalStack(local)]?.last {
                entryUnknown.remove(g)
                markSystemGoroutine(g, entry: frames[outermost]?.function)
            }
        }
        switch event.type {
        case GoEventType122.goCreate, GoEventType122.goCreateBlocked:
            let child = event.args.0
            let startStack = globalStack(event.args.1)
            let stack = globalStack(event.args.2)
            let blocked = event.type == GoEventType122.goCreateBlocked
            setGoroutine(child, GoroutineOrder(status: blocked ? waiting : runnable, seq: 0, generation: generationNumber))
            markSystemGoroutine(child, entry: stacks[startStack]?.first.flatMap { frames[$0]?.function })
            on(.spawn, child, child, stack != 0 ? stack : startStack, first: current, count: 3)
            if blocked {
                on(.snapshot, child, UInt64(GoroutineState.waiting.rawValue), UInt64(ParkReason.other.rawValue), count: 4)
            }
        case GoEventType122.goCreateSyscall:
            let child = event.args.0
            setGoroutine(child, GoroutineOrder(status: inSyscall, seq: 0, generation: generationNumber))
            machines[me].g = child
            on(.spawn, child, child, 0, first: none, count: 3)
            on(.syscallEnter, child, 0, count: 2)
        case GoEventType122.goStart:
            setStatus(event.args.0, running, seq: event.args.1)
            machines[me].g = event.args.0
            on(.start, event.args.0, count: 1)
        case GoEventType122.goDestroy, GoEventType122.goDestroySyscall:
            guard g != 0 else { break }
            setGoroutine(g, GoroutineOrder())
            machines[me].g = 0
            blockedInSyscall.remove(g)
            on(.end, g, count: 1)
            if event.type == GoEventType122.goDestroySyscall, p != none {
                procs[p]?.status = GoEventType122.ProcStatus.syscallAbandoned.rawValue
                machines[me].p = none
                on(.procStop, none, first: p, count: 1)
            }
        case GoEventType122.goStop:
            guard g != 0 else { break }
            setStatus(g, runnable)
            machines[me].g = 0
            let stack = globalStack(event.args.1)
            if preemptedString != 0, generation.strings.get(event.args.0) == preemptedString {
                on(.preempt, g, UInt64(PreemptKind.honouredCooperative.rawValue), count: 2)
            } else {
                on(.park, g, UInt64(ParkReason.yield.rawValue), stack, count: 3)
                on(.unpark, g, g, stack, count: 3)
            }
        case GoEventType122.goBlock:
            guard g != 0 else { break }
            setStatus(g, waiting)
            machines[me].g = 0
            let reason = reason(ofString: generation.strings.get(event.args.0))
            on(.park, g, UInt64(reason.rawValue), globalStack(event.args.1), count: 3)
        case GoEventType122.goUnblock:
            setStatus(event.args.0, runnable, seq: event.args.1)
            on(.unpark, event.args.0, current, globalStack(event.args.2), count: 3)
        case GoEventType122.goSwitch, GoEventType122.goSwitchDestroy:
            let next = event.args.0
            if g != 0 {
                if event.type == GoEventType122.goSwitch {
                    setStatus(g, waiting)
                    on(.park, g, UInt64(ParkReason.other.rawValue), 0, count: 3)
                } else {
                    setGoroutine(g, GoroutineOrder())
                    on(.end, g, count: 1)
                }
            }
            setStatus(next, running, seq: event.args.1)
            machines[me].g = next
            on(.unpark, next, current, 0, count: 3)
            on(.start, next, count: 1)
        case GoEventType122.goSyscallBegin:
            guard g != 0 else { break }
            setStatus(g, inSyscall)
            if p != none {
                procs[p] = ProcOrder(status: GoEventType122.ProcStatus.syscall.rawValue, seq: event.args.0,
                                     generation: generationNumber)
            }
            on(.syscallEnter, g, globalStack(event.args.1), count: 2)
        case GoEventType122.goSyscallEnd:
            guard g != 0 else { break }
            setStatus(g, running)
            if p != none { procs[p]?.status = GoEventType122.ProcStatus.running.rawValue }
            if blockedInSyscall.remove(g) != nil {
                // Its P was stolen and given back within the trace's resolution: runnable, then running.
                on(.unpark, g, none, 0, count: 3)
                on(.start, g, count: 1)
            } else {
                on(.syscallExit, g, count: 1)
            }
        case GoEventType122.goSyscallEndBlocked:
            guard g != 0 else { break }
            setStatus(g, runnable)
            machines[me].g = 0
            if blockedInSyscall.remove(g) == nil { on(.park, g, UInt64(ParkReason.syscall.rawValue), 0, count: 3) }
            on(.unpark, g, none, 0, count: 3)
        case GoEventType122.goStatus, GoEventType122.goStatusStack:
            let goroutine = event.args.0
            let status = UInt8(truncatingIfNeeded: event.args.2)
            let before = self.goroutine(goroutine)
            setGoroutine(goroutine, GoroutineOrder(status: status, seq: 0, generation: generationNumber))
            if status == running {
                machines[me].g = goroutine
            } else if status == inSyscall {
                let holder = event.args.1 == context.id ? me : self.machine(event.args.1)
                machines[holder].g = goroutine
            }
            guard before.status != status else { break }
            // First sight (it predates the trace), or a status that contradicts ours: the status wins.
            let stack = event.type == GoEventType122.goStatusStack ? globalStack(event.args.3) : 0
            if before.status == 0 {
                if let outermost = stacks[stack]?.last {
                    markSystemGoroutine(goroutine, entry: frames[outermost]?.function)
                } else {
                    entryUnknown.insert(goroutine)
                    // Go 1.22 states neither why nor where a goroutine that predates the trace waits: with
                    // no stack there is no telling the runtime's own goroutines (bgsweep, the scavenger…)
                    // from the program's, so such a goroutine is left to its first event (docs/go-traces.md).
                    if status == waiting { break }
                }
            }
            let state: GoroutineState
            var reason = ParkReason.other
            switch status {
            case runnable: state = .runnable
            case running: state = .running
            case inSyscall:
                state = .syscall
                reason = .syscall
            default:
                state = .waiting
                if stack != 0 { reason = parkReason(ofStack: stack) }
            }
            emit(.snapshot, at: time, machine: status == inSyscall && event.args.1 != none ? event.args.1 : machine,
                 proc: p, goroutine: goroutine, (goroutine, UInt64(state.rawValue), UInt64(reason.rawValue), stack), count: 4)
        case GoEventType122.procStatus:
            let proc = event.args.0
            let status = UInt8(truncatingIfNeeded: event.args.1)
            let before = procs[proc]?.status ?? 0
            procs[proc] = ProcOrder(status: status, seq: 0, generation: generationNumber)
            if status == GoEventType122.ProcStatus.running.rawValue || status == GoEventType122.ProcStatus.syscall.rawValue {
                machines[me].p = proc
                if before == 0 || before == GoEventType122.ProcStatus.idle.rawValue {
                    emit(.procStart, at: time, machine: machine, proc: proc, goroutine: none, (proc, 0, 0, 0), count: 1)
                }
            }
        case GoEventType122.procStart:
            let proc = event.args.0
            procs[proc] = ProcOrder(status: GoEventType122.ProcStatus.running.rawValue, seq: event.args.1,
                                    generation: generationNumber)
            machines[me].p = proc
            emit(.procStart, at: time, machine: machine, proc: proc, goroutine: none, (proc, 0, 0, 0), count: 1)
        case GoEventType122.procStop:
            guard p != none else { break }
            procs[p]?.status = GoEventType122.ProcStatus.idle.rawValue
            machines[me].p = none
            on(.procStop, none, first: p, count: 1)
        case GoEventType122.procSteal:
            let proc = event.args.0
            let before = procs[proc]?.status ?? 0
            procs[proc] = ProcOrder(status: GoEventType122.ProcStatus.idle.rawValue, seq: event.args.1,
                                    generation: generationNumber)
            guard before != GoEventType122.ProcStatus.syscallAbandoned.rawValue else { break }
            let victim = event.args.2 == context.id ? me : self.machine(event.args.2)
            let victimMachine = machines[victim].id == none ? 0 : machines[victim].id
            if machines[victim].p == proc { machines[victim].p = none }
            let victimG = machines[victim].g
            if victimG != 0, self.goroutine(victimG).status == inSyscall, !blockedInSyscall.contains(victimG) {
                blockedInSyscall.insert(victimG)
                emit(.park, at: time, machine: victimMachine, proc: proc, goroutine: victimG,
                     (victimG, UInt64(ParkReason.syscall.rawValue), 0, 0), count: 3)
            }
            emit(.procStop, at: time, machine: victimMachine, proc: proc, goroutine: none, (proc, 0, 0, 0), count: 1)
        case GoEventType122.goLabel:
            guard g != 0 else { break }
            on(.goroutineLabel, g, generation.strings.get(event.args.0), count: 2)
        case GoEventType122.userRegionBegin, GoEventType122.userRegionEnd:
            guard g != 0 else { break }
            let kind: EventKind = event.type == GoEventType122.userRegionBegin ? .regionBegin : .regionEnd
            on(kind, g, generation.strings.get(event.args.1), count: 2)
        case GoEventType122.userLog:
            guard g != 0 else { break }
            on(.log, g, generation.strings.get(event.args.1), generation.strings.get(event.args.2), count: 3)
        default:
            break
        }
    }
}
