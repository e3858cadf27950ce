// The flamegraph analyzer: profiles built from a trace's stacks, written as folded stacks, an SVG flame
// graph, speedscope JSON, pprof, or a Chrome/Perfetto timeline. `gotrace export` drives it.
//
// Design note
// -----------
// Profiles (`--option flamegraph.profile=`):
//   cpu    one sample per `cpu-sample` event, by its stack; values samples/count and cpu/nanoseconds
//          (count × the sampling period, 1 s / `cpu-rate`, since the trace does not record the rate).
//   block  off-CPU time: from the transition into WAITING (a park, or a snapshot of a goroutine already
//          parked when tracing began) to the transition out of it (unpark, end, or the final snapshot), or
//          to the end of the trace; weighted by those nanoseconds, one contention per wait. The blocking
//          stack is the park's; the park reason is the root frame (`[chan-receive]`), so waits of different
//          kinds never merge. Yields and preemptions are not waits (the model makes them RUNNABLE).
//   spawn  one sample per `spawn` event, by its creation stack.
// Accumulation is by (reason, stack id) — a handful of integers per event, no symbolization while
// streaming; stacks are resolved once each, in `finish`. The wait's start, reason and park stack come with
// the transition out of WAITING (the host's goroutine model tracks them; ABI 1.2's `transition_from_stacks`),
// and the waits still open at the end from the host's goroutine table. Memory: one record per distinct
// (reason, stack) — except the speedscope block export, which also keeps every wait (at most
// `maxSpans`) for its time-ordered tracks, and the Chrome timeline, which is written while streaming.
//
// Frames: stacks are return addresses, innermost first; each is resolved through the host (`frame`, ABI
// 1.1: the symbol at address − 1) to its demangled function, or `module+0xoffset`, or `0xaddress`. By default
// the runtime's own frames are trimmed from both ends of a stack — the park machinery at the leaf
// (Scheduler.park, switchToScheduler, Channel.receive, …) and the goroutine entry at the root (trampoline,
// goroutineMain) — so the leaf is the user's function that blocked, spawned or ran. `runtime-frames=true`
// keeps them. A stack that is all runtime is kept whole.

import GoProfile
import GoTracePluginKit

public final class FlamegraphAnalyzer: Analyzer {
    public static let name = "flamegraph"
    public static let version = "1.0.0"
    public static let summary = "flame graphs and profiles (cpu, block, spawn) as folded, svg, speedscope, pprof or chrome"
    public static let options = [
        AnalyzerOption("profile", help: "cpu, block or spawn", default: "block"),
        AnalyzerOption("format", help: "folded, svg, speedscope, pprof or chrome", default: "svg"),
        AnalyzerOption("output", help: "file name in the output directory", default: "flamegraph-<profile>.<ext>"),
        AnalyzerOption("inverted", help: "svg: icicle graph, roots at the top (true/false)", default: "false"),
        AnalyzerOption("title", help: "svg: title", default: nil),
        AnalyzerOption("cpu-rate", help: "cpu: the sampling rate in Hz the trace was recorded with", default: "99"),
        AnalyzerOption("runtime-frames", help: "keep the runtime's frames at both ends of stacks (true/false)",
                       default: "false"),
    ]

    enum ProfileKind: String { case cpu, block, spawn }
    enum Format: String { case folded, svg, speedscope, pprof, chrome }

    static let extensions: [Format: String] = [
        .folded: "folded", .svg: "svg", .speedscope: "speedscope.json", .pprof: "pb.gz", .chrome: "trace.json",
    ]
    /// Waits kept for speedscope's time-ordered block tracks (32 bytes each: 64 MiB at most).
    static let maxSpans = 2_000_000
    /// Goroutines given a time-ordered track in speedscope (the ones blocked longest); more tracks make the
    /// file larger without making it more readable.
    static let maxTracks = 16

    let host: AnalyzerHost
    let profile: ProfileKind
    let format: Format
    let output: String
    let inverted: Bool
    let title: String?
    let cpuPeriodNs: Int64
    let keepRuntimeFrames: Bool
    let cpuSampleCode: UInt8?

    struct WaitKey: Hashable {
        var reason: UInt8
        var stack: UInt64
    }

    struct Span {
        var goroutine: UInt64
        var start: UInt64
        var end: UInt64
        var key: WaitKey
    }

    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) var blocked: [WaitKey: (nanoseconds: UInt64, count: Int64)] = [:]
    @exclusivity(unchecked) var spans: [Span] = []
    @exclusivity(unchecked) var spansDropped = 0
    /// cpu and spawn: samples per stack.
    @exclusivity(unchecked) var counts: [UInt64: Int64] = [:]
    @exclusivity(unchecked) var chrome: ChromeTimeline?
    @exclusivity(unchecked) var lastTime: UInt64 = 0

    public init(host: AnalyzerHost) throws(AnalyzerError) {
        self.host = host
        guard let profile = ProfileKind(rawValue: host.option("profile") ?? "block") else {
            throw .invalidArgument("profile must be cpu, block or spawn, not \"\(host.option("profile") ?? "")\"")
        }
        guard let format = Format(rawValue: host.option("format") ?? "svg") else {
            throw .invalidArgument("format must be folded, svg, speedscope, pprof or chrome, not \"\(host.option("format") ?? "")\"")
        }
        self.profile = profile
        self.format = format
        output = host.option("output") ?? "flamegraph-\(profile.rawValue).\(FlamegraphAnalyzer.extensions[format]!)"
        inverted = try host.flag("inverted")
        keepRuntimeFrames = try host.flag("runtime-frames")
        title = host.option("title")
        guard let rate = Int64(host.option("cpu-rate") ?? "99"), rate > 0 else {
            throw .invalidArgument("cpu-rate must be a positive number of Hz")
        }
        cpuPeriodNs = 1_000_000_000 / rate
        cpuSampleCode = host.kindCode(named: "cpu-sample")
        guard host.hasOutputDirectory else { throw .invalidArgument("the flamegraph analyzer writes a file: pass -o DIR") }
        if format == .chrome { chrome = ChromeTimeline(host: host, output: output) }
    }

    public func consume(_ batch: EventBatch) throws(AnalyzerError) {
        if let last = batch.events.last { lastTime = last.time_ns }
        if let chrome {
            try chrome.consume(batch)
            return
        }
        switch profile {
        case .block:
            // A wait ends where a transition leaves WAITING: it carries when the wait began and why, and the
            // batch where the goroutine parked (ABI 1.2), so nothing per goroutine is kept here.
            for (index, transition) in batch.transitions.enumerated() where transition.from == FlamegraphAnalyzer.waitingState {
                let key = WaitKey(reason: transition.reason, stack: batch.fromStack(ofTransition: index))
                addWait(key, goroutine: transition.goroutine, since: transition.since_ns, until: transition.time_ns)
            }
        case .spawn:
            for event in batch.events where event.kind == KindCode.spawn { counts[event.arguments.2, default: 0] += 1 }
        case .cpu:
            guard let cpuSampleCode else { return }
            for event in batch.events where event.kind == cpuSampleCode { counts[event.arguments.1, default: 0] += 1 }
        }
    }

    private static let waitingState = UInt8(GOTRACE_G_WAITING.rawValue)
    private func addWait(_ key: WaitKey, goroutine: UInt64, since: UInt64, until time: UInt64) {
        let since = since == UInt64.max ? time : TraceTime.clampedToTrace(since)
        let duration = time >= since ? time - since : 0
        blocked[key, default: (0, 0)].nanoseconds += duration
        blocked[key, default: (0, 0)].count += 1
        if format == .speedscope {
            if spans.count < FlamegraphAnalyzer.maxSpans {
                spans.append(Span(goroutine: goroutine, start: since, end: max(time, since), key: key))
            } else {
                spansDropped += 1
            }
        }
    }

    public func finish() throws(AnalyzerError) {
        let end = max(lastTime, host.traceInfo.end_ns)
        if let chrome {
            try chrome.finish(endNs: end)
            host.setMetric("bytes", Int64(chrome.bytesWritten))
            if host.wantsJSON {
                try host.writeJSON("{\"format\": \"chrome\", \"bytes\": \(chrome.bytesWritten)}")
            } else {
                try host.writeText("chrome timeline: \(chrome.bytesWritten) bytes\n")
            }
            return
        }
        if profile == .block {
            // Goroutines still blocked when the trace ends count up to its end, in id order (the host's).
            host.forEachGoroutine { info in
                guard info.state == FlamegraphAnalyzer.waitingState else { return }
                addWait(WaitKey(reason: info.reason, stack: info.state_stack), goroutine: info.id,
                        since: info.state_since_ns, until: end)
            }
        }
        var builder = ProfileBuilder(host: host, keepRuntimeFrames: keepRuntimeFrames, profile: makeProfile(end: end))
        switch profile {
        case .block:
            for (key, value) in blocked.sorted(by: { ($0.key.reason, $0.key.stack) < ($1.key.reason, $1.key.stack) }) {
                let root = "[" + ParkReasonName.name(key.reason) + "]"
                builder.add(stack: key.stack, root: root, values: [Int64(value.nanoseconds), value.count])
            }
            if format == .speedscope { addTracks(&builder) }
        case .spawn:
            for (stack, count) in counts.sorted(by: { $0.key < $1.key }) { builder.add(stack: stack, root: nil, values: [count]) }
        case .cpu:
            for (stack, count) in counts.sorted(by: { $0.key < $1.key }) {
                builder.add(stack: stack, root: nil, values: [count, count * cpuPeriodNs])
            }
        }
        let made = builder.profile
        let bytes: [UInt8]
        switch format {
        case .folded: bytes = FoldedStacks.encode(made)
        case .pprof: bytes = PprofEncoder.encode(made)
        case .speedscope: bytes = SpeedscopeEncoder.encode(made)
        case .svg:
            var options = FlameGraphSVG.Options()
            options.title = title ?? made.name
            options.inverted = inverted
            options.unit = made.sampleTypes[made.primaryValue].unit
            bytes = FlameGraphSVG.render(FlameNode.tree(FoldedStacks.fold(made)), options: options)
        case .chrome: bytes = []
        }
        try host.writeFile(output, bytes)
        host.setMetric("samples", Int64(made.samples.count))
        host.setMetric("total", made.total)
        if host.wantsJSON {
            try host.writeJSON("{\"profile\": \"\(profile.rawValue)\", \"format\": \"\(format.rawValue)\", "
                               + "\"stacks\": \(made.samples.count), \"total\": \(made.total)}")
        } else {
            let unit = made.sampleTypes[made.primaryValue].unit
            try host.writeText("\(profile.rawValue) profile: \(made.samples.count) stacks, total \(made.total) \(unit)\n")
        }
    }

    private func makeProfile(end: UInt64) -> Profile {
        let info = host.traceInfo
        var made: Profile
        switch profile {
        case .cpu:
            made = Profile(name: "cpu", sampleTypes: [ValueType("samples", "count"), ValueType("cpu", "nanoseconds")])
            made.periodType = ValueType("cpu", "nanoseconds")
            made.period = cpuPeriodNs
        case .block:
            made = Profile(name: "block", sampleTypes: [ValueType("delay", "nanoseconds"), ValueType("contentions", "count")])
            made.periodType = ValueType("contentions", "count")
            made.period = 1
        case .spawn:
            made = Profile(name: "spawn", sampleTypes: [ValueType("goroutines", "count")])
            made.periodType = ValueType("goroutines", "count")
            made.period = 1
        }
        made.timeNanos = info.start_wall_ns
        made.durationNanos = Int64(end)
        return made
    }

    /// speedscope's time-ordered view of blocking: one track per goroutine among those blocked longest.
    private func addTracks(_ builder: inout ProfileBuilder) {
        var perGoroutine: [UInt64: UInt64] = [:]
        for span in spans { perGoroutine[span.goroutine, default: 0] += span.end - span.start }
        let chosen = perGoroutine.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(FlamegraphAnalyzer.maxTracks)
        var frames: [WaitKey: [Int]] = [:]
        for (goroutine, _) in chosen {
            var track: [ProfileSpan] = []
            for span in spans where span.goroutine == goroutine {
                let stack = frames[span.key] ?? {
                    let made = builder.functions(stack: span.key.stack, root: "[" + ParkReasonName.name(span.key.reason) + "]")
                    frames[span.key] = made
                    return made
                }()
                track.append(ProfileSpan(start: span.start, end: span.end, frames: stack))
            }
            builder.profile.tracks.append((name: "g\(goroutine) blocked (time order)", spans: track))
        }
    }
}

@_cdecl("gotrace_plugin_v1")
public func gotracePluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: FlamegraphAnalyzer.self) }
