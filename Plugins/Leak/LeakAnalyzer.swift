// The leak analyzer: goroutines still blocked when the trace ends, and deadlock cycles among them.
//
// Design note
// -----------
// Leaked = alive at the end of the trace and WAITING for anything but a timer (`sleep` wakes by itself).
// Leaks are grouped by (park reason, blocking stack, creation stack): a hundred goroutines stuck at one
// receive are one finding, not a hundred. A group's `blockedForNs` is its longest wait (trace end minus
// the earliest park in the group). Stacks are shown from the user's first frame (`StackTrimming`, the one
// classifier: a runtime frame is never a leak's first frame) with readable names (`FrameNames`), in full
// in JSON's `blockedAtFull`/`createdAtFull` and with `full-names`; groups stay keyed by the raw stacks. `waitReason` says what the goroutines wait
// for in the words of Go's goroutine dumps (`chan receive`, `sync.Mutex.Lock`, …), so a Go programmer
// reads it at a glance; `reason` keeps the trace format's name.
//
// The runtime's own goroutines (`AnalyzerHost.isRuntimeGoroutine`: no frame of the program's in any known
// stack, such as the debug server's listener in a `/debug/pprof/trace` download) are not leaks of the
// program; they are counted apart (`runtimeGoroutines`), as Go's tools leave out its system goroutines.
//
// Cycles: a wait-for graph g → h ("g waits for a mutex h holds"). Each goroutine waits on at most one
// object and a mutex has one holder, so every node has at most one outgoing edge and a cycle is found by
// walking edges with three colours, O(goroutines). The graph comes from the lock-ownership kinds,
// looked up by name: `mutex-acquire(goroutine, object)`, `mutex-release(goroutine, object)` and
// `mutex-wait(goroutine, object)` (just before the park); a trailing `object` argument of `park` is
// understood too. A trace without them reports no cycles.

import GoTracePluginKit

public final class LeakAnalyzer: Analyzer {
    public static let name = "leak"
    public static let version = "1.0.0"
    public static let summary = "goroutines blocked at the end of the trace, grouped by stack; mutex deadlock cycles"
    public static let options = [
        AnalyzerOption("include-sleep", help: "also report goroutines sleeping at the end (true/false)", default: "false"),
        AnalyzerOption("max-ids", help: "goroutine ids listed per group in text output", default: "10"),
    ]

    let host: AnalyzerHost
    let includeSleep: Bool
    let maxIDs: Int
    // Codes and argument indices of the proposed holder events; nil while the trace lacks them.
    let acquireCode: UInt8?
    let releaseCode: UInt8?
    let acquireObject: Int?
    let releaseObject: Int?
    let parkObject: Int?
    /// `mutex-wait(goroutine, object)`, emitted just before a park on a mutex (format v1 has it; a
    /// trailing `object` on `park` is also understood).
    let waitCode: UInt8?
    let waitObject: Int?
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    /// Who holds each mutex (by address), and what each parked goroutine waits on.
    @exclusivity(unchecked) var holders = IdTable<UInt64>()
    @exclusivity(unchecked) var waitsOn = IdTable<UInt64>()

    public init(host: AnalyzerHost) throws(AnalyzerError) {
        self.host = host
        includeSleep = try host.flag("include-sleep")
        guard let maxIDs = Int(host.option("max-ids") ?? "10"), maxIDs >= 0 else {
            throw .invalidArgument("max-ids must be a non-negative integer")
        }
        self.maxIDs = maxIDs
        acquireCode = host.kindCode(named: "mutex-acquire")
        releaseCode = host.kindCode(named: "mutex-release")
        acquireObject = acquireCode.flatMap { host.argumentIndex(kind: $0, named: "object") }
        releaseObject = releaseCode.flatMap { host.argumentIndex(kind: $0, named: "object") }
        parkObject = host.argumentIndex(kind: KindCode.park, named: "object")
        waitCode = host.kindCode(named: "mutex-wait")
        waitObject = waitCode.flatMap { host.argumentIndex(kind: $0, named: "object") }
    }

    public func consume(_ batch: EventBatch) throws(AnalyzerError) {
        // Events and the transitions they cause are applied in event order: a goroutine may wait on
        // one mutex, be woken and wait on another within a single batch.
        var transitionIndex = 0
        let transitions = batch.transitions
        for (index, event) in batch.events.enumerated() {
            if let acquireCode, let acquireObject, event.kind == acquireCode {
                holders[event.argument(acquireObject)] = event.goroutine
            } else if let releaseCode, let releaseObject, event.kind == releaseCode {
                let goroutine = event.goroutine
                holders.removeValue(forKey: event.argument(releaseObject)) { $0 == goroutine }
            } else if let waitCode, let waitObject, event.kind == waitCode {
                waitsOn[event.goroutine] = event.argument(waitObject)
            }
            while transitionIndex < transitions.count, Int(transitions[transitionIndex].event_index) <= index {
                let transition = transitions[transitionIndex]
                transitionIndex += 1
                if transition.to == GoroutineState.waiting.rawValue {
                    let parked = batch.events[Int(transition.event_index)]
                    if let parkObject, parked.kind == KindCode.park, transition.reason == ParkReasonName.mutex
                        || transition.reason == ParkReasonName.rwmutex {
                        waitsOn[transition.goroutine] = parked.argument(parkObject)
                    }
                } else if transition.from == GoroutineState.waiting.rawValue || transition.to == GoroutineState.dead.rawValue {
                    // Also on death: a `mutex-wait` whose park never came (a yield, an acquired lock) must not
                    // keep an entry per goroutine for the rest of the trace.
                    if !waitsOn.isEmpty { waitsOn[transition.goroutine] = nil }
                }
            }
        }
    }

    struct GroupKey: Hashable {
        var reason: UInt8
        var blockingStack: UInt64
        var creationStack: UInt64
    }

    struct Group {
        var key: GroupKey
        var goroutines: [UInt64] = []
        /// Signed nanoseconds from the trace's start (TraceTime); `.max` while unknown.
        var earliestPark = Int64.max
    }

    struct Cycle {
        /// (goroutine, the object it waits on), in wait order starting from the smallest id.
        var links: [(goroutine: UInt64, object: UInt64)]
    }

    public func finish() throws(AnalyzerError) {
        let end = host.traceInfo.end_ns
        var groups: [GroupKey: Group] = [:]
        var leaked: Set<UInt64> = []
        var runtimeGoroutines = 0
        // Classified once per group, not per goroutine: a leak of 100,000 goroutines at one site would
        // otherwise symbolize the same two stacks 100,000 times.
        var runtimeOwned: [GroupKey: Bool] = [:]
        host.forEachGoroutine { info in
            guard info.state == GoroutineState.waiting.rawValue, includeSleep || info.reason != ParkReasonName.sleep else {
                return
            }
            let key = GroupKey(reason: info.reason, blockingStack: info.state_stack, creationStack: info.creation_stack)
            let isRuntime = runtimeOwned[key] ?? host.isRuntimeGoroutine(info)
            runtimeOwned[key] = isRuntime
            if isRuntime {
                runtimeGoroutines += 1
                return
            }
            leaked.insert(info.id)
            groups[key, default: Group(key: key)].goroutines.append(info.id)
            if let since = TraceTime.signed(info.state_since_ns) {
                // Signed: a goroutine blocked since before a flight-recorder window parked at a negative time.
                groups[key]!.earliestPark = min(groups[key]!.earliestPark, since)
            }
        }
        let ordered = groups.values.sorted {
            ($0.goroutines.count, $1.key.reason, $1.goroutines[0]) > ($1.goroutines.count, $0.key.reason, $0.goroutines[0])
        }
        let cycles = findCycles(among: leaked)
        host.setMetric("leaked", Int64(leaked.count))
        host.setMetric("cycles", Int64(cycles.count))
        // The JSON document is written in text mode too: the HTML report (`gotrace report --html`) embeds it.
        try host.writeJSON(json(ordered, cycles, leaked: leaked.count, runtimeGoroutines: runtimeGoroutines, end: end))
        if !host.wantsJSON {
            try host.writeText(text(ordered, cycles, leaked: leaked.count, runtimeGoroutines: runtimeGoroutines, end: end))
        }
    }

    /// Cycles of the wait-for graph restricted to leaked goroutines (see the design note).
    func findCycles(among leaked: Set<UInt64>) -> [Cycle] {
        func next(_ goroutine: UInt64) -> UInt64? {
            guard let object = waitsOn[goroutine], let holder = holders[object], holder != goroutine,
                  leaked.contains(holder) else { return nil }
            return holder
        }
        var colour: [UInt64: UInt8] = [:]  // 1: on the current walk, 2: done
        var cycles: [Cycle] = []
        for start in leaked.sorted() where colour[start] == nil {
            var path: [UInt64] = []
            var current: UInt64? = start
            while let node = current, colour[node] == nil {
                colour[node] = 1
                path.append(node)
                current = next(node)
            }
            if let node = current, colour[node] == 1, let first = path.firstIndex(of: node) {
                var members = Array(path[first...])
                let smallest = members.indices.min { members[$0] < members[$1] }!
                members = Array(members[smallest...] + members[..<smallest])
                cycles.append(Cycle(links: members.map { ($0, waitsOn[$0] ?? 0) }))
            }
            for node in path { colour[node] = 2 }
        }
        return cycles
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    private func json(_ groups: [Group], _ cycles: [Cycle], leaked: Int, runtimeGoroutines: Int, end: UInt64) -> String {
        let groupItems = groups.map { group in
            JSON.object([
                ("count", String(group.goroutines.count)),
                ("reason", JSON.quote(ParkReasonName.name(group.key.reason))),
                ("waitReason", JSON.quote(waitReason(group))),
                ("blockedAt", JSON.array(shownFrames(group.key.blockingStack).map { JSON.quote(FrameNames.readableFrame($0)) })),
                ("blockedAtFull", JSON.array(shownFrames(group.key.blockingStack).map(JSON.quote))),
                ("createdAt", JSON.array(shownFrames(group.key.creationStack).map { JSON.quote(FrameNames.readableFrame($0)) })),
                ("createdAtFull", JSON.array(shownFrames(group.key.creationStack).map(JSON.quote))),
                ("goroutines", JSON.array(group.goroutines.sorted().map { String($0) })),
                ("blockedForNs", String(group.earliestPark == .max ? 0 : Int64(bitPattern: end) &- group.earliestPark)),
            ])
        }
        let cycleItems = cycles.map { cycle in
            JSON.object([
                ("goroutines", JSON.array(cycle.links.map { String($0.goroutine) })),
                ("edges", JSON.array(cycle.links.enumerated().map { index, link in
                    JSON.object([
                        ("goroutine", String(link.goroutine)),
                        ("waitsFor", String(cycle.links[(index + 1) % cycle.links.count].goroutine)),
                        ("object", JSON.quote(hex(link.object))),
                    ])
                })),
            ])
        }
        return JSON.object([
            ("leaked", String(leaked)), ("groups", JSON.array(groupItems)), ("cycles", JSON.array(cycleItems)),
            ("runtimeGoroutines", String(runtimeGoroutines)),
        ])
    }

    private func text(_ groups: [Group], _ cycles: [Cycle], leaked: Int, runtimeGoroutines: Int, end: UInt64) -> String {
        let apart = runtimeGoroutines == 0 ? ""
            : "(not counted: \(runtimeGoroutines) goroutine\(runtimeGoroutines == 1 ? "" : "s") of the runtime's own, also blocked)\n"
        guard leaked > 0 else { return "no leaked goroutines\n" + apart }
        var out = "\(leaked) leaked goroutine\(leaked == 1 ? "" : "s") in \(groups.count) group\(groups.count == 1 ? "" : "s")\n" + apart
        for group in groups {
            let ids = group.goroutines.sorted()
            let shown = ids.prefix(maxIDs).map { "g\($0)" }.joined(separator: ", ") + (ids.count > maxIDs ? ", …" : "")
            let blocked = group.earliestPark == .max ? "?" : seconds(UInt64(bitPattern: Int64(bitPattern: end) &- group.earliestPark))
            out += "\n\(ids.count) goroutine\(ids.count == 1 ? "" : "s") [\(waitReason(group)), blocked up to \(blocked)]: \(shown)\n"
            out += "  blocked at:\n" + frames(group.key.blockingStack)
            out += "  created at:\n" + frames(group.key.creationStack)
        }
        if !cycles.isEmpty {
            out += "\n\(cycles.count) deadlock cycle\(cycles.count == 1 ? "" : "s"):\n"
            for cycle in cycles {
                let links = cycle.links.enumerated().map { index, link in
                    "g\(link.goroutine) waits for \(hex(link.object)) held by g\(cycle.links[(index + 1) % cycle.links.count].goroutine)"
                }
                out += "  " + links.joined(separator: "; ") + "\n"
            }
        }
        return out
    }

    /// Go's wording of a wait reason (runtime/runtime2.go `waitReasonStrings`).
    func waitReason(_ group: Group) -> String {
        switch ParkReasonName.name(group.key.reason) {
        case "chan-receive": return "chan receive"
        case "chan-send": return "chan send"
        case "select": return "select"
        case "mutex": return "sync.Mutex.Lock"
        case "rwmutex":
            // The runtime parks readers and writers with one reason; the user's call says which.
            let entry = host.userFrames(ofStack: group.key.blockingStack).first ?? ""
            return entry.contains("RWMutex.readLock") ? "sync.RWMutex.RLock" : "sync.RWMutex.Lock"
        case "waitgroup": return "sync.WaitGroup.Wait"
        case "cond": return "sync.Cond.Wait"
        case "sleep": return "sleep"
        case "io": return "IO wait"
        case "syscall": return "syscall"
        case let other: return other
        }
    }

    /// A leak's stack from the user's frame down: the runtime's call (`Channel.receive()`) is in
    /// `waitReason`, and the first frame shown is the program's own.
    private func shownFrames(_ stack: UInt64) -> [String] {
        host.userFrames(ofStack: stack, keepRuntimeEntry: false)
    }

    private func frames(_ stack: UInt64) -> String {
        let frames = shownFrames(stack).map { host.wantsFullNames ? $0 : FrameNames.readableFrame($0) }
        return frames.isEmpty ? "    (no stack)\n" : frames.map { "    \($0)\n" }.joined()
    }

    private func seconds(_ nanoseconds: UInt64) -> String {
        let value = Double(nanoseconds) / 1e9
        return value >= 1 ? "\((value * 1000).rounded() / 1000) s" : "\((value * 1e6).rounded() / 1000) ms"
    }
}

@_cdecl("gotrace_plugin_v1")
public func gotracePluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: LeakAnalyzer.self) }
