// The html-report analyzer: what the HTML report (`gotrace report --html`, `gotrace view`) shows beyond the
// leak and latency analyzers' documents — run summary, top CPU and blocking functions, the cpu and block
// flame graphs (drawn by GoProfile's `FlameGraphSVG`, the SVG export's renderer), and the timeline —
// gathered in the report's one streaming pass and written as one JSON document the host embeds in the page
// (`ReportPage` in GoProfile).
//
// Design note
// -----------
// The timeline must stay small and quick to draw whatever the trace's size, so it is kept at levels of detail:
//   1. P lanes, aggregated: per P, buckets of `bucketNs` holding busy nanoseconds and the goroutine that ran
//      longest in the bucket. The bucket width is unknown while streaming (so is the trace's length): it
//      starts at 1 µs and doubles, merging neighbours, whenever a slice ends past `maxBuckets` buckets. At
//      the end the finest level is merged 4:1 into coarser ones (`levels` of them), which the page picks
//      from by zoom.
//   2. P lanes, exact: the first `maxSlices` running slices (P, goroutine, start, end) — full detail for the
//      start of the trace (`detailEndNs` says how far); the page uses them when zoomed in that far.
//   3. Goroutine lanes: running / runnable / blocked (reason, blocking stack) spans of the first
//      `maxTracked` goroutines seen, at most `maxSpans` spans in all, plus every goroutine still blocked at
//      the end (its last wait), so leaked goroutines always have a lane.
//   4. Markers (spawn, steal, preempt, stack growth): at most `maxMarkers`, thinned evenly over the trace
//      (every `markerStride`-th of a kind); the counts in the summary are exact.
// Memory is those bounds plus one park-stack entry per blocked goroutine and one entry per distinct
// (reason, stack) and cpu stack — never proportional to the events.
// Rejected: keeping every slice and letting the page aggregate (a million-event trace would be a 100 MB page
// that takes seconds to parse), and SVG elements per slice (the DOM does not survive 100,000 of them; the
// page draws on a canvas).

import GoProfile
import GoTracePluginKit

public final class HTMLReportAnalyzer: Analyzer {
    public static let name = "html-report"
    public static let version = "1.0.0"
    public static let summary = "data for the HTML report: summary, top functions, flame graphs, timeline (gotrace report --html)"
    public static let options = [
        AnalyzerOption("max-slices", help: "exact P-lane slices kept", default: "60000"),
        AnalyzerOption("max-goroutines", help: "goroutines given a detailed lane", default: "400"),
    ]

    /// Finest-level buckets per P: 65,536 × 4 levels stays under ~2 MB of JSON per busy P.
    static let maxBuckets: UInt64 = 1 << 16
    static let levels = 4
    static let maxSpans = 60_000
    static let maxMarkers = 20_000
    static let topCount = 10
    /// Blocked-at-end goroutines added to the detailed lanes beyond the tracked ones.
    static let maxLeakedLanes = 64

    let host: AnalyzerHost
    let maxSlices: Int
    let maxTracked: Int
    let stealCode: UInt8?
    let stackGrowCode: UInt8?
    let cpuSampleCode: UInt8?

    struct Bucket {
        var busy: UInt64 = 0
        var top: UInt64 = 0
        var topNs: UInt64 = 0
    }

    struct Span {
        var state: UInt8
        var reason: UInt8
        var start: UInt64
        var end: UInt64
        var stack: UInt64
    }

    struct Tracked {
        var created: UInt64 = UInt64.max
        var creationStack: UInt64 = 0
        var spans: [Span] = []
    }

    struct Marker {
        var type: UInt8
        var time: UInt64
        var lane: UInt64
        var argument: UInt64
    }

    struct WaitKey: Hashable {
        var reason: UInt8
        var stack: UInt64
    }

    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) var bucketNs: UInt64 = 1_000
    @exclusivity(unchecked) var buckets: [UInt64: [Bucket]] = [:]
    @exclusivity(unchecked) var busyNs: [UInt64: UInt64] = [:]
    /// The P lanes' slices, shared with the summary analyzer so their busy times agree.
    @exclusivity(unchecked) var runningSlices = RunningSlices()
    @exclusivity(unchecked) var slices: [(proc: UInt64, goroutine: UInt64, start: UInt64, end: UInt64)] = []
    @exclusivity(unchecked) var detailEndNs: UInt64 = 0
    @exclusivity(unchecked) var slicesDropped = 0
    @exclusivity(unchecked) var tracked: [UInt64: Tracked] = [:]
    @exclusivity(unchecked) var trackedOrder: [UInt64] = []
    @exclusivity(unchecked) var spanCount = 0
    @exclusivity(unchecked) var blocked: [WaitKey: (nanoseconds: UInt64, count: Int64)] = [:]
    @exclusivity(unchecked) var cpuCounts: [UInt64: Int64] = [:]
    @exclusivity(unchecked) var kept: [[Marker]] = [[], [], [], []]
    @exclusivity(unchecked) var markerSeen = [0, 0, 0, 0]
    @exclusivity(unchecked) var markerStride = [1, 1, 1, 1]
    @exclusivity(unchecked) var created = 0
    @exclusivity(unchecked) var steals = 0
    @exclusivity(unchecked) var preemptions = 0
    @exclusivity(unchecked) var stackGrowths = 0
    @exclusivity(unchecked) var cpuSamples = 0
    @exclusivity(unchecked) var lastTime: UInt64 = 0

    public init(host: AnalyzerHost) throws(AnalyzerError) {
        self.host = host
        guard let slices = Int(host.option("max-slices") ?? "60000"), slices >= 0 else {
            throw .invalidArgument("max-slices must be a number")
        }
        guard let goroutines = Int(host.option("max-goroutines") ?? "400"), goroutines >= 0 else {
            throw .invalidArgument("max-goroutines must be a number")
        }
        maxSlices = slices
        maxTracked = goroutines
        stealCode = host.kindCode(named: "steal")
        stackGrowCode = host.kindCode(named: "stack-grow")
        cpuSampleCode = host.kindCode(named: "cpu-sample")
    }

    private static let runningState = UInt8(GOTRACE_G_RUNNING.rawValue)
    private static let waitingState = UInt8(GOTRACE_G_WAITING.rawValue)
    private static let deadState = UInt8(GOTRACE_G_DEAD.rawValue)

    public func consume(_ batch: EventBatch) throws(AnalyzerError) {
        if let last = batch.events.last { lastTime = last.time_ns }
        for event in batch.events {
            let a = event.arguments
            switch event.kind {
            case KindCode.spawn:
                created += 1
                mark(0, event.time_ns, a.0, a.1)
            case KindCode.preempt:
                // The timeline marks requests too; the count is of preemptions that happened.
                if PreemptKindCode.isHonoured(a.1) { preemptions += 1 }
                mark(2, event.time_ns, a.0, event.proc)
            case _ where event.kind == stealCode:
                steals += 1
                mark(1, event.time_ns, a.0, a.1)
            case _ where event.kind == stackGrowCode:
                stackGrowths += 1
                mark(3, event.time_ns, a.0, event.proc)
            case _ where event.kind == cpuSampleCode:
                cpuSamples += 1
                cpuCounts[a.1, default: 0] += 1
            default:
                break
            }
        }
        for (index, transition) in batch.transitions.enumerated() { apply(transition, batch.fromStack(ofTransition: index), batch) }
    }

    /// Keeps every `markerStride[type]`-th marker of a kind; when a kind's share of `maxMarkers` is full, every
    /// other kept one goes and the stride doubles — so the kept markers stay spread over the whole trace.
    private func mark(_ type: UInt8, _ time: UInt64, _ lane: UInt64, _ argument: UInt64) {
        let kind = Int(type)
        markerSeen[kind] += 1
        guard (markerSeen[kind] - 1) % markerStride[kind] == 0 else { return }
        if kept[kind].count >= HTMLReportAnalyzer.maxMarkers / 4 {
            kept[kind] = stride(from: 0, to: kept[kind].count, by: 2).map { kept[kind][$0] }
            markerStride[kind] *= 2
            guard (markerSeen[kind] - 1) % markerStride[kind] == 0 else { return }
        }
        kept[kind].append(Marker(type: type, time: time, lane: lane, argument: argument))
    }

    /// `fromStack`: the stack the goroutine entered the state it leaves with (the host's; ABI 1.2).
    private func apply(_ transition: gotrace_transition, _ fromStack: UInt64, _ batch: EventBatch) {
        let goroutine = transition.goroutine
        let time = transition.time_ns
        runningSlices.apply(transition, in: batch) { addSlice($0) }
        var parkStack: UInt64 = 0
        if transition.from == HTMLReportAnalyzer.waitingState {
            parkStack = fromStack
            let since = transition.since_ns == UInt64.max ? time : transition.since_ns
            let key = WaitKey(reason: transition.reason, stack: parkStack)
            blocked[key, default: (0, 0)].nanoseconds += time >= since ? time - since : 0
            blocked[key, default: (0, 0)].count += 1
        }
        // Detailed goroutine lanes.
        if tracked[goroutine] == nil {
            guard trackedOrder.count < maxTracked, spanCount < HTMLReportAnalyzer.maxSpans else { return }
            var made = Tracked()
            if transition.from == UInt8(GOTRACE_G_UNKNOWN.rawValue) { made.created = time }
            made.creationStack = transition.creation_stack
            tracked[goroutine] = made
            trackedOrder.append(goroutine)
        }
        let from = transition.from
        if from == HTMLReportAnalyzer.runningState || from == HTMLReportAnalyzer.waitingState
            || from == UInt8(GOTRACE_G_RUNNABLE.rawValue) || from == UInt8(GOTRACE_G_SYSCALL.rawValue),
            spanCount < HTMLReportAnalyzer.maxSpans, transition.since_ns != UInt64.max {
            let reason = from == HTMLReportAnalyzer.waitingState ? transition.reason : 0
            tracked[goroutine]!.spans.append(Span(state: from, reason: reason, start: transition.since_ns, end: time,
                                                  stack: parkStack))
            spanCount += 1
        }
        if tracked[goroutine]!.creationStack == 0 { tracked[goroutine]!.creationStack = transition.creation_stack }
    }

    private func addSlice(_ slice: RunningSlices.Slice) {
        let (proc, goroutine, start, end) = (slice.proc, slice.goroutine, slice.start, slice.end)
        busyNs[proc, default: 0] += end - start
        if slices.count < maxSlices {
            slices.append((proc, goroutine, start, end))
            detailEndNs = max(detailEndNs, end)
        } else {
            slicesDropped += 1
        }
        while end / bucketNs >= HTMLReportAnalyzer.maxBuckets { coarsen() }
        var lane = buckets[proc] ?? []
        buckets[proc] = nil  // keep the array uniquely referenced while it grows
        let last = Int(end / bucketNs)
        if lane.count <= last { lane.append(contentsOf: repeatElement(Bucket(), count: last + 1 - lane.count)) }
        var index = Int(start / bucketNs)
        while index <= last {
            let low = max(start, UInt64(index) * bucketNs)
            let high = min(end, UInt64(index + 1) * bucketNs)
            if high > low {
                let share = high - low
                lane[index].busy += share
                if share > lane[index].topNs {
                    lane[index].topNs = share
                    lane[index].top = goroutine
                }
            }
            index += 1
        }
        buckets[proc] = lane
    }

    /// Doubles the bucket width: neighbours merge.
    private func coarsen() {
        bucketNs *= 2
        for proc in Array(buckets.keys) {
            buckets[proc] = HTMLReportAnalyzer.merge(buckets[proc]!, by: 2)
        }
    }

    static func merge(_ lane: [Bucket], by factor: Int) -> [Bucket] {
        var merged: [Bucket] = []
        merged.reserveCapacity(lane.count / factor + 1)
        var index = 0
        while index < lane.count {
            var bucket = Bucket()
            for offset in index..<min(index + factor, lane.count) {
                let part = lane[offset]
                bucket.busy += part.busy
                if part.topNs > bucket.topNs {
                    bucket.topNs = part.topNs
                    bucket.top = part.top
                }
            }
            merged.append(bucket)
            index += factor
        }
        return merged
    }

    public func finish() throws(AnalyzerError) {
        let end = max(lastTime, host.traceInfo.end_ns)
        runningSlices.finish(at: end) { addSlice($0) }
        var alive = 0
        var leakedLanes = 0
        host.forEachGoroutine { info in
            guard info.state != HTMLReportAnalyzer.deadState else { return }
            alive += 1
            // Waits still open at the end count up to it, as in the block profile; in id order (the host's).
            guard info.state == HTMLReportAnalyzer.waitingState else { return }
            let since = info.state_since_ns == UInt64.max ? 0 : TraceTime.clampedToTrace(info.state_since_ns)
            let key = WaitKey(reason: info.reason, stack: info.state_stack)
            blocked[key, default: (0, 0)].nanoseconds += end >= since ? end - since : 0
            blocked[key, default: (0, 0)].count += 1
            let span = Span(state: HTMLReportAnalyzer.waitingState, reason: info.reason, start: since, end: end,
                            stack: info.state_stack)
            if tracked[info.id] != nil {
                tracked[info.id]!.spans.append(span)
            } else if leakedLanes < HTMLReportAnalyzer.maxLeakedLanes {
                leakedLanes += 1
                tracked[info.id] = Tracked(created: info.created_ns, creationStack: info.creation_stack, spans: [span])
                trackedOrder.append(info.id)
            }
        }
        var names = NameCache(host: host)
        var json = JSONWriter(capacity: 1 << 20)
        json.beginObject()
        json.key("version")
        json.value(1)
        json.key("durationNs")
        json.value(end)
        json.key("events")
        json.value(host.traceInfo.events)
        json.key("summary")
        writeSummary(&json, end: end, alive: alive)
        json.key("topCPU")
        json.beginArray()
        let cpuByFunction = aggregate(cpuCounts.map { (names.frames($0.key).last ?? "[no stack]", $0.value, "") })
        for entry in cpuByFunction.prefix(HTMLReportAnalyzer.topCount) {
            json.beginObject()
            json.key("function")
            json.value(entry.function)
            json.key("samples")
            json.value(entry.value)
            json.endObject()
        }
        json.endArray()
        json.key("topBlocking")
        json.beginArray()
        // As the summary: the runtime's own goroutines' waits (a debug server's listener) are no blocking site.
        let blockedByFunction = aggregate(blocked.filter { !host.isRuntimeStack($0.key.stack) }.map {
            (names.frames($0.key.stack).last ?? "[no stack]", Int64($0.value.nanoseconds), ParkReasonName.name($0.key.reason))
        })
        for entry in blockedByFunction.prefix(HTMLReportAnalyzer.topCount) {
            json.beginObject()
            json.key("function")
            json.value(entry.function)
            json.key("reason")
            json.value(entry.reason)
            json.key("blockedNs")
            json.value(entry.value)
            json.endObject()
        }
        json.endArray()
        json.key("flamegraphs")
        json.beginObject()
        json.key("cpu")
        if cpuCounts.isEmpty {
            json.null()
        } else {
            let stacks = cpuCounts.sorted { $0.key < $1.key }.map { (frames: names.frames($0.key), value: $0.value) }
            json.value(flameSVG(stacks, title: "CPU samples", unit: "samples", prefix: "cpu-"))
        }
        json.key("block")
        if blocked.isEmpty {
            json.null()
        } else {
            let stacks = blocked.sorted { ($0.key.reason, $0.key.stack) < ($1.key.reason, $1.key.stack) }.map {
                (frames: ["[" + ParkReasonName.name($0.key.reason) + "]"] + names.frames($0.key.stack),
                 value: Int64($0.value.nanoseconds))
            }
            json.value(flameSVG(stacks, title: "Blocked time (off-CPU)", unit: "nanoseconds", prefix: "block-"))
        }
        json.endObject()
        json.key("timeline")
        writeTimeline(&json, end: end, names: &names)
        json.endObject()
        let text = json.text
        try host.writeJSON(text)
        host.setMetric("bytes", Int64(text.utf8.count))
        if !host.wantsJSON {
            try host.writeText("html report data: \(trackedOrder.count) goroutine lanes, \(slices.count) exact slices, "
                               + "\(text.utf8.count) bytes\n")
        }
    }

    private func aggregate(_ entries: [(String, Int64, String)]) -> [(function: String, value: Int64, reason: String)] {
        var sums: [String: (value: Int64, reasons: [String: Int64])] = [:]
        for (function, value, reason) in entries {
            sums[function, default: (0, [:])].value += value
            sums[function, default: (0, [:])].reasons[reason, default: 0] += value
        }
        return sums.map { function, sum in
            let reason = sum.reasons.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
            return (function, sum.value, reason)
        }.sorted { ($0.value, $1.function) > ($1.value, $0.function) }
    }

    private func flameSVG(_ stacks: [(frames: [String], value: Int64)], title: String, unit: String, prefix: String) -> String {
        var options = FlameGraphSVG.Options()
        options.title = title
        options.unit = unit
        options.embedded = true
        options.idPrefix = prefix
        return String(decoding: FlameGraphSVG.render(FlameNode.tree(stacks), options: options), as: UTF8.self)
    }

    private func writeSummary(_ json: inout JSONWriter, end: UInt64, alive: Int) {
        let procs = busyNs.keys.sorted()
        var total: UInt64 = 0
        json.beginObject()
        json.key("procs")
        json.beginArray()
        for proc in procs {
            let busy = busyNs[proc]!
            total += busy
            json.beginObject()
            json.key("p")
            json.value(proc)
            json.key("busyNs")
            json.value(busy)
            json.key("busyPercent")
            json.encoded(percent(busy, end))
            json.endObject()
        }
        json.endArray()
        json.key("busyPercent")
        json.encoded(procs.isEmpty ? "0" : percent(total, end * UInt64(procs.count)))
        for (name, count) in [("goroutinesCreated", created), ("goroutinesAlive", alive), ("steals", steals),
                              ("preemptions", preemptions), ("stackGrowths", stackGrowths), ("cpuSamples", cpuSamples)] {
            json.key(name)
            json.value(count)
        }
        json.endObject()
    }

    private func percent(_ part: UInt64, _ whole: UInt64) -> String {
        guard whole > 0 else { return "0" }
        let tenths = (part * 1000 + whole / 2) / whole
        return "\(tenths / 10).\(tenths % 10)"
    }

    private func writeTimeline(_ json: inout JSONWriter, end: UInt64, names: inout NameCache) {
        let procs = buckets.keys.sorted()
        json.beginObject()
        json.key("endNs")
        json.value(end)
        json.key("procs")
        json.beginArray()
        for proc in procs { json.value(proc) }
        json.endArray()
        json.key("levels")
        json.beginArray()
        // Finest first; each level's lanes are flat [index, busyNs, goroutine, …] triples of non-empty buckets.
        var lanes = procs.map { buckets[$0]! }
        var width = bucketNs
        for level in 0..<HTMLReportAnalyzer.levels {
            if level > 0 {
                lanes = lanes.map { HTMLReportAnalyzer.merge($0, by: 4) }
                width *= 4
            }
            json.beginObject()
            json.key("bucketNs")
            json.value(width)
            json.key("lanes")
            json.beginArray()
            for lane in lanes {
                json.beginArray()
                for (index, bucket) in lane.enumerated() where bucket.busy > 0 {
                    json.value(index)
                    json.value(bucket.busy)
                    json.value(bucket.top)
                }
                json.endArray()
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.key("slices")
        json.beginArray()
        for slice in slices {
            json.value(slice.proc)
            json.value(slice.goroutine)
            json.value(slice.start)
            json.value(slice.end)
        }
        json.endArray()
        json.key("detailEndNs")
        json.value(slicesDropped == 0 ? end : detailEndNs)
        json.key("slicesDropped")
        json.value(slicesDropped)
        // Blocking and creation stacks, by index, so spans refer to them with a number.
        var stackIndex: [UInt64: Int] = [:]
        var stackList: [UInt64] = []
        func index(_ stack: UInt64) -> Int {
            if stack == 0 { return -1 }
            if let known = stackIndex[stack] { return known }
            stackIndex[stack] = stackList.count
            stackList.append(stack)
            return stackList.count - 1
        }
        json.key("goroutines")
        json.beginArray()
        for goroutine in trackedOrder {
            let lane = tracked[goroutine]!
            json.beginObject()
            json.key("id")
            json.value(goroutine)
            json.key("createdNs")
            if lane.created == UInt64.max { json.null() } else { json.value(lane.created) }
            json.key("createdAt")
            json.value(index(lane.creationStack))
            json.key("site")
            json.value(lane.creationStack == 0 ? "" : (names.frames(lane.creationStack).last ?? ""))
            json.key("spans")
            json.beginArray()
            for span in lane.spans {
                json.value(UInt64(span.state))
                json.value(UInt64(span.reason))
                json.value(span.start)
                json.value(span.end)
                json.value(index(span.stack))
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.key("stacks")
        json.beginArray()
        for stack in stackList {
            json.beginArray()
            for frame in host.userFrames(ofStack: stack) {
                json.value(host.wantsFullNames ? frame : FrameNames.readableFrame(frame))
            }
            json.endArray()
        }
        json.endArray()
        json.key("reasons")
        json.beginArray()
        for reason in 0..<ParkReasonName.knownCount { json.value(ParkReasonName.name(UInt8(reason))) }
        json.endArray()
        json.key("markers")
        json.beginArray()
        let markers = kept.joined().sorted { $0.time < $1.time }
        for marker in markers {
            json.value(UInt64(marker.type))
            json.value(marker.time)
            json.value(marker.lane == UInt64.max ? -1 : Int64(marker.lane))
            json.value(marker.argument == UInt64.max ? -1 : Int64(marker.argument))
        }
        json.endArray()
        json.key("markerStride")
        json.beginArray()
        for stride in markerStride { json.value(stride) }
        json.endArray()
        json.endObject()
    }
}

/// Function names of stacks, root first, the runtime's frames and the glue around them trimmed from both
/// ends by the kit's one classifier (`AnalyzerHost.frameName`, `StackTrimming.trimmingEnds`), as in the flame
/// graph export; each stack resolved once. Names are readable (`FrameNames.readable`) unless the report asks
/// for full names.
struct NameCache {
    let host: AnalyzerHost
    var cache: [UInt64: [String]] = [:]

    mutating func frames(_ stack: UInt64) -> [String] {
        if let known = cache[stack] { return known }
        let named = host.stack(stack).reversed().map(host.frameName)
        let names = StackTrimming.trimmingEnds(named, isRuntime: \.isRuntime).map(\.shown)
        cache[stack] = names
        return names
    }
}

@_cdecl("gotrace_plugin_v1")
public func gotracePluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: HTMLReportAnalyzer.self) }
