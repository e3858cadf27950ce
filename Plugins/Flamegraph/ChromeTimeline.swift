// The trace as a Chrome/Perfetto timeline, written while the events stream past.
//
// Tracks: process 1 "Ps" has one track per P, showing which goroutine ran on it (`X` slices named "G17",
// from its `start` to the `park`/`end`/honoured `preempt` that took it off); process 2 "goroutines" has one
// track per goroutine ("G17 spawned in worker()"), with its running slices and its blocked slices
// ("blocked: chan-receive", park to unpark). Instants (`i`): spawn on the parent's track, preempt and
// stack-grow on the goroutine's, steal on the thief P's. Slices still open when the trace ends are closed
// at its last event. A goroutine's name is its creation site: the innermost user frame of its spawn stack.
// Output is appended to the file every `flushBytes` (host `append_file`, ABI 1.1): a ten-million-event
// trace makes ~700 MB of JSON, which should not sit in memory. A host without it gets one write at the end.

import GoProfile
import GoTracePluginKit

final class ChromeTimeline {
    static let processorsPid: UInt64 = 1
    static let goroutinesPid: UInt64 = 2

    let host: AnalyzerHost
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) var writer = ChromeTraceWriter()
    struct Running {
        var start: UInt64
        var proc: UInt64
    }
    struct Blocked {
        var start: UInt64
        var reason: UInt8
    }
    @exclusivity(unchecked) var running: [UInt64: Running] = [:]
    @exclusivity(unchecked) var blocked: [UInt64: Blocked] = [:]
    @exclusivity(unchecked) var namedProcs: Set<UInt64> = []
    @exclusivity(unchecked) var namedGoroutines: Set<UInt64> = []
    @exclusivity(unchecked) var creationStacks: [UInt64: UInt64] = [:]
    @exclusivity(unchecked) var siteNames: [UInt64: String] = [:]
    @exclusivity(unchecked) var builder: ProfileBuilder
    @exclusivity(unchecked) private(set) var bytesWritten = 0
    let stealCode: UInt8?
    let stackGrowCode: UInt8?

    /// 8 MiB: large enough that the write calls cost nothing, small enough to bound memory.
    static let flushBytes = 8 << 20
    let output: String

    init(host: AnalyzerHost, output: String) {
        self.host = host
        self.output = output
        builder = ProfileBuilder(host: host, keepRuntimeFrames: false, profile: Profile(name: "sites", sampleTypes: []))
        stealCode = host.kindCode(named: "steal")
        stackGrowCode = host.kindCode(named: "stack-grow")
        writer.processName(pid: ChromeTimeline.processorsPid, "Ps", sortIndex: 1)
        writer.processName(pid: ChromeTimeline.goroutinesPid, "goroutines", sortIndex: 2)
    }

    private func site(_ stack: UInt64) -> String {
        if let known = siteNames[stack] { return known }
        let locations = builder.locations(stack: stack)
        let name = locations.last.map { builder.profile.functions[builder.profile.locations[$0].function].name } ?? "?"
        siteNames[stack] = name
        return name
    }

    private func nameGoroutine(_ goroutine: UInt64) {
        guard goroutine != UInt64.max, namedGoroutines.insert(goroutine).inserted else { return }
        var name = "G\(goroutine)"
        if let stack = creationStacks[goroutine], stack != 0 { name += " spawned in " + site(stack) }
        writer.threadName(pid: ChromeTimeline.goroutinesPid, tid: goroutine, name)
    }

    private func nameProc(_ proc: UInt64) {
        guard proc != UInt64.max, namedProcs.insert(proc).inserted else { return }
        writer.threadName(pid: ChromeTimeline.processorsPid, tid: proc, "P\(proc)")
    }

    func consume(_ batch: EventBatch) throws(AnalyzerError) {
        append(batch)
        if writer.byteCount >= ChromeTimeline.flushBytes && host.canAppendFiles {
            let bytes = writer.drain()
            try host.appendFile(output, bytes)
            bytesWritten += bytes.count
        }
    }

    private func append(_ batch: EventBatch) {
        for event in batch.events {
            let a = event.arguments
            switch event.kind {
            case KindCode.spawn:
                creationStacks[a.1] = a.2
                nameGoroutine(a.1)
                if a.0 != UInt64.max && a.0 != 0 {
                    nameGoroutine(a.0)
                    writer.instant("spawn G\(a.1)", category: "spawn", pid: ChromeTimeline.goroutinesPid, tid: a.0,
                                   at: event.time_ns, args: [("child", .number(a.1))])
                }
            case KindCode.start:
                stop(a.0, at: event.time_ns, why: "preempted")
                nameGoroutine(a.0)
                if let wait = blocked.removeValue(forKey: a.0) { closeBlocked(a.0, wait, at: event.time_ns) }
                running[a.0] = Running(start: event.time_ns, proc: event.proc)
            case KindCode.park:
                stop(a.0, at: event.time_ns, why: ParkReasonName.name(UInt8(truncatingIfNeeded: a.1)))
                let reason = UInt8(truncatingIfNeeded: a.1)
                if reason != 10 && reason != 11 { blocked[a.0] = Blocked(start: event.time_ns, reason: reason) }  // not yield/preempted
            case KindCode.unpark:
                if let wait = blocked.removeValue(forKey: a.0) { closeBlocked(a.0, wait, at: event.time_ns) }
            case KindCode.end:
                stop(a.0, at: event.time_ns, why: "end")
                if let wait = blocked.removeValue(forKey: a.0) { closeBlocked(a.0, wait, at: event.time_ns) }
            case KindCode.preempt:
                nameGoroutine(a.0)
                writer.instant("preempt", category: "preempt", pid: ChromeTimeline.goroutinesPid, tid: a.0, at: event.time_ns,
                               args: [("kind", .number(a.1))])
                if PreemptKindCode.isHonoured(a.1) { stop(a.0, at: event.time_ns, why: "preempted") }
            case _ where event.kind == stealCode:
                nameProc(a.0)
                writer.instant("steal \(a.2) from P\(a.1)", category: "steal", pid: ChromeTimeline.processorsPid, tid: a.0,
                               at: event.time_ns, args: [("victim", .number(a.1)), ("count", .number(a.2))])
            case _ where event.kind == stackGrowCode:
                nameGoroutine(a.0)
                writer.instant("stack-grow", category: "stack", pid: ChromeTimeline.goroutinesPid, tid: a.0, at: event.time_ns,
                               args: [("old", .number(a.1)), ("new", .number(a.2))])
            default:
                break
            }
        }
    }

    private func stop(_ goroutine: UInt64, at time: UInt64, why: String) {
        guard let slice = running.removeValue(forKey: goroutine) else { return }
        let name = "G\(goroutine)"
        if slice.proc != UInt64.max {
            nameProc(slice.proc)
            writer.complete(name, category: "running", pid: ChromeTimeline.processorsPid, tid: slice.proc, start: slice.start,
                            end: time, args: [("goroutine", .number(goroutine)), ("until", .text(why))])
        }
        writer.complete("running", category: "running", pid: ChromeTimeline.goroutinesPid, tid: goroutine, start: slice.start,
                        end: time, args: slice.proc == UInt64.max ? [("until", .text(why))]
                            : [("P", .number(slice.proc)), ("until", .text(why))])
    }

    private func closeBlocked(_ goroutine: UInt64, _ wait: Blocked, at time: UInt64) {
        writer.complete("blocked: " + ParkReasonName.name(wait.reason), category: "blocked",
                        pid: ChromeTimeline.goroutinesPid, tid: goroutine, start: wait.start, end: time)
    }

    func finish(endNs: UInt64) throws(AnalyzerError) {
        for goroutine in running.keys.sorted() { stop(goroutine, at: endNs, why: "end of trace") }
        for goroutine in blocked.keys.sorted() { closeBlocked(goroutine, blocked[goroutine]!, at: endNs) }
        blocked = [:]
        let bytes = writer.finish()
        if host.canAppendFiles {
            try host.appendFile(output, bytes)
        } else {
            try host.writeFile(output, bytes)
        }
        bytesWritten += bytes.count
    }
}
