// The summary analyzer: the one-screen view of a run ("the kitchen"): how busy the Ps were, how many
// goroutines were created and are alive at the end, steals, preemptions and stack growths, the functions
// that took the CPU samples and the places goroutines spent the most time blocked.
//
// Design note
// -----------
// Everything is a counter or a small map updated per transition, so the pass stays streaming:
// - P busy time: the running slices of GoTracePluginKit's `RunningSlices` (which the HTML report shares),
//   summed per P; slices still open at the end count up to it.
// - Blocking sites: the park stack is remembered per waiting goroutine (one entry per waiting goroutine,
//   dropped when it wakes); the WAITING → anything transition adds its span to (reason, park stack).
//   Goroutines still blocked at the end add (end − since) too, so a leak shows up as a top site. A stack
//   with no frame of the program's (`AnalyzerHost.isRuntimeStack`: the runtime's own goroutines, such as a
//   debug server's listener) is no site; its time is `runtimeBlockedNs`, as the HTML report leaves it out.
// - CPU: samples are counted per stack id; names are resolved once per distinct stack at the end.
// A site is named by the user's frame and the runtime call it made ("waitForever(_:) → Channel.receive()");
// names are readable (`FrameNames.readable`), in full with `full-names` and in JSON's `siteFull`.

import GoTracePluginKit

/// GOTRACE_NONE (UINT64_MAX): the C macro is not imported.
private let noValue = UInt64.max

public final class SummaryAnalyzer: Analyzer {
    public static let name = "summary"
    public static let version = "1.0.0"
    public static let summary = "one screen: Ps busy %, goroutines, steals, preemptions, top CPU functions, top blocking sites"
    public static let options = [
        AnalyzerOption("top", help: "rows in the top CPU functions and top blocking sites", default: "5"),
    ]

    let host: AnalyzerHost
    let top: Int
    let stealCode: UInt8?
    let stackGrowCode: UInt8?
    let cpuSampleCode: UInt8?
    let cpuStackArgument: Int?
    // Per-transition state in flat arrays: the summary runs on every report, so its pass must cost little
    // next to the decoder's (dictionaries here made `report` ~60% slower on a Go ping-pong trace).
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) var runningSlices = RunningSlices()
    /// Busy nanoseconds by P id (P ids are small and dense).
    @exclusivity(unchecked) var busyByProc: [UInt64] = []
    @exclusivity(unchecked) var procSeen: [Bool] = []
    @exclusivity(unchecked) var created = 0
    @exclusivity(unchecked) var steals = 0
    @exclusivity(unchecked) var preemptions = 0
    @exclusivity(unchecked) var stackGrowths = 0
    @exclusivity(unchecked) var cpuSamplesByStack: [UInt64: Int] = [:]
    struct Site: Hashable {
        var reason: UInt8
        var stack: UInt64
    }
    /// Blocked time per site: totals in an array, found through a dictionary behind a two-entry cache
    /// (producer/consumer traffic alternates between two sites).
    @exclusivity(unchecked) var siteIndex: [Site: Int] = [:]
    @exclusivity(unchecked) var siteTotals: [UInt64] = []
    @exclusivity(unchecked) var sites: [Site] = []
    @exclusivity(unchecked) var recentSites: [(site: Site, index: Int)] = []

    public init(host: AnalyzerHost) throws(AnalyzerError) {
        self.host = host
        guard let top = Int(host.option("top") ?? "5"), top > 0 else {
            throw .invalidArgument("top must be a positive integer")
        }
        self.top = top
        stealCode = host.kindCode(named: "steal")
        stackGrowCode = host.kindCode(named: "stack-grow")
        cpuSampleCode = host.kindCode(named: "cpu-sample")
        cpuStackArgument = cpuSampleCode.flatMap { host.argumentIndex(kind: $0, named: "stack") }
    }

    public func consume(_ batch: EventBatch) throws(AnalyzerError) {
        for event in batch.events {
            switch event.kind {
            case KindCode.spawn:
                created += 1
            case KindCode.preempt:
                if event.argument_count > 1, PreemptKindCode.isHonoured(event.argument(1)) { preemptions += 1 }
            case _ where event.kind == stealCode:
                steals += 1
            case _ where event.kind == stackGrowCode:
                stackGrowths += 1
            case _ where event.kind == cpuSampleCode:
                if let cpuStackArgument { cpuSamplesByStack[event.argument(cpuStackArgument), default: 0] += 1 }
            default:
                break
            }
        }
        let waiting = UInt8(GOTRACE_G_WAITING.rawValue)
        for (index, transition) in batch.transitions.enumerated() {
            runningSlices.apply(transition, in: batch) { addBusy($0) }
            if transition.from == waiting {
                let span = transition.since_ns == noValue ? 0 : transition.time_ns &- transition.since_ns
                addBlocked(Site(reason: transition.reason, stack: batch.fromStack(ofTransition: index)), span)
            }
        }
    }

    private func addBusy(_ slice: RunningSlices.Slice) {
        // P ids are small (one per core); a larger one is not a P this runtime or Go's would number.
        guard slice.proc < 4096 else { return }
        let proc = Int(slice.proc)
        let span = slice.end - slice.start
        if proc >= busyByProc.count {
            busyByProc.append(contentsOf: repeatElement(0, count: proc + 1 - busyByProc.count))
            procSeen.append(contentsOf: repeatElement(false, count: proc + 1 - procSeen.count))
        }
        busyByProc[proc] &+= span
        procSeen[proc] = true
    }

    private func addBlocked(_ site: Site, _ span: UInt64) {
        for entry in recentSites where entry.site == site {
            siteTotals[entry.index] &+= span
            return
        }
        let index: Int
        if let known = siteIndex[site] {
            index = known
        } else {
            index = sites.count
            sites.append(site)
            siteTotals.append(0)
            siteIndex[site] = index
        }
        siteTotals[index] &+= span
        if recentSites.count == 2 { recentSites.removeFirst() }
        recentSites.append((site, index))
    }

    public func finish() throws(AnalyzerError) {
        let info = host.traceInfo
        let end = info.end_ns
        runningSlices.finish(at: end) { addBusy($0) }
        var alive = 0
        host.forEachGoroutine { goroutine in
            let state = goroutine.state
            guard state != UInt8(GOTRACE_G_DEAD.rawValue), state != UInt8(GOTRACE_G_UNKNOWN.rawValue) else { return }
            alive += 1
            // Clamped: the summary covers the trace's own time, not a wait before a flight-recorder window.
            let since = TraceTime.clampedToTrace(goroutine.state_since_ns)
            guard since != noValue, end >= since else { return }
            let span = end - since
            if state == UInt8(GOTRACE_G_WAITING.rawValue) {
                addBlocked(Site(reason: goroutine.reason, stack: goroutine.state_stack), span)
            }
        }
        let procs = procSeen.indices.filter { procSeen[$0] }.map { UInt64($0) }
        var busyNs: [UInt64: UInt64] = [:]
        for proc in procs { busyNs[proc] = busyByProc[Int(proc)] }
        let busyTotal = busyNs.values.reduce(0, +)
        let capacity = Double(end) * Double(max(procs.count, 1))
        let busyPercent = capacity > 0 ? min(100, 100 * Double(busyTotal) / capacity) : 0

        let cpuTotal = cpuSamplesByStack.values.reduce(0, +)
        // Rows are added up by the name shown (text with --full-names: the full one), so the specialisations
        // of one function are one row; the full name kept is the largest contributor's.
        let byFullName = host.wantsFullNames && !host.wantsJSON
        var cpuByFunction: [String: (full: String, samples: Int, largest: Int)] = [:]
        for (stack, count) in cpuSamplesByStack.sorted(by: { $0.key < $1.key }) {
            let full = host.frames(ofStack: stack).first.map(FrameNames.functionPart) ?? "(no stack)"
            let key = byFullName ? full : FrameNames.readable(full)
            var row = cpuByFunction[key, default: (full, 0, 0)]
            row.samples += count
            if count > row.largest { (row.full, row.largest) = (full, count) }
            cpuByFunction[key] = row
        }
        let topCPU = cpuByFunction.map { (function: $0.key, full: $0.value.full, samples: $0.value.samples) }
            .sorted { ($0.samples, $1.function) > ($1.samples, $0.function) }.prefix(top)
        // Stacks that differ only in return offsets name the same site: add them up by name.
        var bySite: [String: (site: String, full: String, reason: String, ns: UInt64, largest: UInt64)] = [:]
        var runtimeBlockedNs: UInt64 = 0
        for (index, site) in sites.enumerated() {
            let ns = siteTotals[index]
            // The runtime's own goroutines (a debug server's listener) wait where the program does not.
            if host.isRuntimeStack(site.stack) {
                runtimeBlockedNs &+= ns
                continue
            }
            let name = siteName(site.stack)
            let shown = byFullName ? name.full : name.readable
            let reason = ParkReasonName.name(site.reason)
            var row = bySite[reason + "\u{0}" + shown, default: (shown, name.full, reason, 0, 0)]
            row.ns += ns
            if ns > row.largest { (row.full, row.largest) = (name.full, ns) }
            bySite[reason + "\u{0}" + shown] = row
        }
        // A total order: ties on time go by site, then reason (dictionary order differs per process).
        let topBlocking = bySite.values.sorted { ($0.ns, $1.site, $1.reason) > ($1.ns, $0.site, $0.reason) }.prefix(top)

        if host.wantsJSON {
            let procObjects = procs.map { proc in
                JSON.object([("proc", String(proc)), ("busyNs", String(busyNs[proc]!)),
                             ("busyPercent", Self.percent(Double(busyNs[proc]!), Double(end)))])
            }
            try host.writeJSON(JSON.object([
                ("durationNs", String(end)),
                ("procs", JSON.array(procObjects)),
                ("busyPercent", format1(busyPercent)),
                ("goroutinesCreated", String(created)),
                ("goroutinesAlive", String(alive)),
                ("steals", String(steals)),
                ("preemptions", String(preemptions)),
                ("stackGrowths", String(stackGrowths)),
                ("cpuSamples", String(cpuTotal)),
                ("topCPU", JSON.array(topCPU.map {
                    JSON.object([("function", JSON.quote($0.function)), ("functionFull", JSON.quote($0.full)),
                                 ("samples", String($0.samples)), ("percent", Self.percent(Double($0.samples), Double(cpuTotal)))])
                })),
                ("topBlocking", JSON.array(topBlocking.map {
                    JSON.object([("site", JSON.quote($0.site)), ("siteFull", JSON.quote($0.full)), ("reason", JSON.quote($0.reason)),
                                 ("blockedNs", String($0.ns))])
                })),
                ("runtimeBlockedNs", String(runtimeBlockedNs)),
            ]))
            return
        }
        var text = "duration \(Self.duration(end)), \(procs.count) P\(procs.count == 1 ? "" : "s") busy \(format1(busyPercent))%"
        if procs.count > 1 {
            text += " (" + procs.map { "p\($0) \(format1(100 * Double(busyNs[$0]!) / Double(max(end, 1))))%" }.joined(separator: ", ") + ")"
        }
        text += "\ngoroutines: \(created) created, \(alive) alive at the end; \(steals) steals, \(preemptions) preemptions, \(stackGrowths) stack growths\n"
        if cpuTotal > 0 {
            text += "\ntop CPU functions (\(cpuTotal) samples):\n"
            for row in topCPU {
                text += "  \(Self.padLeft(format1(100 * Double(row.samples) / Double(cpuTotal)) + "%", 7))  \(row.function)\n"
            }
        }
        if !topBlocking.isEmpty {
            text += "\ntop blocking sites:\n"
            for row in topBlocking {
                text += "  \(Self.padLeft(Self.duration(row.ns), 10))  [\(row.reason)] \(row.site)\n"
            }
        }
        if runtimeBlockedNs > 0 {
            text += "  (not listed: \(Self.duration(runtimeBlockedNs)) blocked in the runtime's own goroutines)\n"
        }
        try host.writeText(text)
    }

    /// Where a stack blocked, as the user reads it: the user's frame first, then the runtime call it made
    /// ("waitForever(_:) → Channel.receive()"), readable and in full. The runtime's own frames are never the
    /// site, however the compiler specialised them (`StackTrimming.classify`).
    private func siteName(_ stack: UInt64) -> (readable: String, full: String) {
        guard stack != 0 else { return ("(no stack)", "(no stack)") }
        let frames = host.userFrames(ofStack: stack)
        guard let first = frames.first else { return ("(no stack)", "(no stack)") }
        var named = [first]
        if let user = frames.firstIndex(where: { StackTrimming.classify($0) == .user }) {
            named = user > 0 ? [frames[user], frames[user - 1]] : [frames[user]]
        }
        let full = named.map(FrameNames.functionPart)
        return (full.map(FrameNames.readable).joined(separator: " → "), full.joined(separator: " → "))
    }

    static func percent(_ part: Double, _ whole: Double) -> String {
        whole > 0 ? format1(100 * part / whole) : "0"
    }

    static func duration(_ ns: UInt64) -> String {
        let value = Double(ns)
        if value >= 1e9 { return format1(value / 1e9) + " s" }
        if value >= 1e6 { return format1(value / 1e6) + " ms" }
        if value >= 1e3 { return format1(value / 1e3) + " µs" }
        return "\(ns) ns"
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// One decimal, without Foundation.
func format1(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    let sign = tenths < 0 ? "-" : ""
    return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
}

@_cdecl("gotrace_plugin_v1")
public func gotracePluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: SummaryAnalyzer.self) }
