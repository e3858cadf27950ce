// The latency analyzer: how long goroutines wait, and for what.
//
// Design note
// -----------
// Distributions, all from the host's transitions (so every analyzer agrees on the states):
//   scheduling  RUNNABLE → RUNNING   (woken or spawned until it runs: run-queue delay)
//   blocking    WAITING → RUNNABLE   (park until unpark), one distribution per park reason
//   syscall     SYSCALL → RUNNING
//   preemption  preempt(requested-*) → preempt(honoured-*), per goroutine, from the events
//   lifetime    spawn → end
// Each is an HdrHistogram: fixed memory whatever the number of samples (3 significant digits, 1 ns to
// 1 hour ≈ 270 KiB each), exact counts, percentiles within 0.1%. Per creation site (the spawn stack) the
// analyzer keeps scheduling, blocking (all reasons) and lifetime at 2 significant digits (≈ 35 KiB each,
// within 1%), because a program may have thousands of sites.
// Memory beyond the histograms: one entry per live goroutine (spawn time and site) and per pending
// preemption request — never per event.

import GoTracePluginKit
import Histogram

typealias Distribution = Histogram<UInt64>

/// The largest value recorded exactly; larger ones are clamped (and still counted).
let highestTrackable: UInt64 = 3_600_000_000_000

func makeDistribution(_ digits: SignificantDigits = .three) -> Distribution {
    Distribution(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackable, numberOfSignificantValueDigits: digits)
}

extension Histogram where Count == UInt64 {
    mutating func add(_ nanoseconds: UInt64) { _ = record(Swift.min(Swift.max(nanoseconds, 1), highestTrackable)) }

    /// The library's `mean`, term for term (so the same value to the last bit), with its iterator specialised
    /// here: the library's own runs generically and took ~9% of a `gotrace report`'s instructions, per
    /// distribution ~190 instructions per slot up to the largest value.
    var specialisedMean: Double {
        guard totalCount > 0 else { return 0 }
        var total: Double = 0
        for value in recordedValues() { total += Double(medianEquivalentForValue(value.value)) * Double(value.count) }
        return total / Double(totalCount)
    }
}

public final class LatencyAnalyzer: Analyzer {
    public static let name = "latency"
    public static let version = "1.0.0"
    public static let summary = "scheduling, blocking, syscall and preemption latency and goroutine lifetime percentiles"
    public static let options = [
        AnalyzerOption("sites", help: "creation sites listed (most goroutines first)", default: "10"),
        AnalyzerOption("chart", help: "file name of the SVG chart written to -o DIR", default: "latency.svg"),
    ]

    /// A class so that the per-transition update is one pointer load from the cache below, not a
    /// dictionary lookup and write-back (measured ~20% of a report with a lookup per transition).
    final class Site {
        // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
        // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
        @exclusivity(unchecked) var scheduling = makeDistribution(.two)
        @exclusivity(unchecked) var blocking = makeDistribution(.two)
        @exclusivity(unchecked) var lifetime = makeDistribution(.two)
        @exclusivity(unchecked) var goroutines: UInt64 = 0
    }

    let host: AnalyzerHost
    let siteLimit: Int
    let chartName: String
    @exclusivity(unchecked) var scheduling = makeDistribution()
    /// Indexed by park reason (a byte): no hashing per sample.
    @exclusivity(unchecked) var blocking = [Distribution?](repeating: nil, count: 256)
    /// Whether `blocking[reason]` exists. Asked per sample instead of `blocking[reason] == nil`, which copies
    /// and destroys the whole optional histogram through generic value witnesses (~10% of a report).
    @exclusivity(unchecked) var hasBlocking = [Bool](repeating: false, count: 256)
    @exclusivity(unchecked) var syscall = makeDistribution()
    @exclusivity(unchecked) var preemption = makeDistribution()
    @exclusivity(unchecked) var lifetime = makeDistribution()
    @exclusivity(unchecked) var sites: [UInt64: Site] = [:]
    /// The last site looked up: transitions of one batch mostly share a creation stack.
    @exclusivity(unchecked) var lastSiteStack: UInt64 = 0
    @exclusivity(unchecked) var lastSite: Site?

    /// The one before it: in ping-pong workloads transitions alternate between two goroutines' sites, and a
    /// one-entry cache then misses every time (measured ~5% of a report on a Go pingpong trace in hashing).
    @exclusivity(unchecked) var previousSiteStack: UInt64 = 0
    @exclusivity(unchecked) var previousSite: Site?

    @inline(__always)
    func site(_ stack: UInt64) -> Site {
        if let lastSite, lastSiteStack == stack { return lastSite }
        let found: Site
        if let previousSite, previousSiteStack == stack {
            found = previousSite
        } else if let known = sites[stack] {
            found = known
        } else {
            found = Site()
            sites[stack] = found
        }
        previousSiteStack = lastSiteStack
        previousSite = lastSite
        lastSiteStack = stack
        lastSite = found
        return found
    }
    /// Live goroutines: spawn time and creation stack.
    @exclusivity(unchecked) var spawned = IdTable<(time: UInt64, site: UInt64)>()
    @exclusivity(unchecked) var preemptRequested = IdTable<UInt64>()

    public init(host: AnalyzerHost) throws(AnalyzerError) {
        self.host = host
        guard let limit = Int(host.option("sites") ?? "10"), limit >= 0 else {
            throw .invalidArgument("sites must be a non-negative integer")
        }
        siteLimit = limit
        chartName = host.option("chart") ?? "latency.svg"
        guard !chartName.isEmpty, !chartName.contains("/") else { throw .invalidArgument("chart must be a plain file name") }
    }

    private static let runnable = GoroutineState.runnable.rawValue
    private static let running = GoroutineState.running.rawValue
    private static let waiting = GoroutineState.waiting.rawValue
    private static let syscallState = GoroutineState.syscall.rawValue
    private static let dead = GoroutineState.dead.rawValue

    public func consume(_ batch: EventBatch) throws(AnalyzerError) {
        for transition in batch.transitions {
            let duration = transition.since_ns == UInt64.max ? nil : transition.time_ns &- transition.since_ns
            switch (transition.from, transition.to) {
            case (LatencyAnalyzer.runnable, LatencyAnalyzer.running):
                if let duration {
                    scheduling.add(duration)
                    site(transition.creation_stack).scheduling.add(duration)
                }
            case (LatencyAnalyzer.waiting, LatencyAnalyzer.runnable):
                if let duration {
                    let reason = Int(transition.reason)
                    if !hasBlocking[reason] {
                        blocking[reason] = makeDistribution()
                        hasBlocking[reason] = true
                    }
                    blocking[reason]!.add(duration)
                    site(transition.creation_stack).blocking.add(duration)
                }
            case (LatencyAnalyzer.syscallState, LatencyAnalyzer.running):
                if let duration { syscall.add(duration) }
            default:
                break
            }
            if transition.to == LatencyAnalyzer.runnable && batch.events[Int(transition.event_index)].kind == KindCode.spawn {
                spawned[transition.goroutine] = (transition.time_ns, transition.stack_id)
                site(transition.stack_id).goroutines += 1
            } else if transition.to == LatencyAnalyzer.dead {
                guard let birth = spawned.removeValue(forKey: transition.goroutine) else { continue }
                lifetime.add(transition.time_ns &- birth.time)
                site(birth.site).lifetime.add(transition.time_ns &- birth.time)
            }
        }
        for event in batch.events where event.kind == KindCode.preempt || event.kind == KindCode.end {
            if event.kind == KindCode.end {
                // A request the goroutine never honoured must not outlive it: memory per live goroutine,
                // not per goroutine ever seen. In event order, so a request and the end in one batch pair up.
                if !preemptRequested.isEmpty { preemptRequested[event.arguments.0] = nil }
                continue
            }
            if !PreemptKindCode.isHonoured(event.arguments.1) {
                preemptRequested[event.arguments.0] = event.time_ns
            } else if let requested = preemptRequested.removeValue(forKey: event.arguments.0) {
                preemption.add(event.time_ns &- requested)
            }
        }
    }

    public func finish() throws(AnalyzerError) {
        let reasons = blocking.indices.filter { blocking[$0] != nil }.map { UInt8($0) }
        let topSites = sites.filter { $0.value.goroutines > 0 }.sorted {
            ($0.value.goroutines, $1.key) > ($1.value.goroutines, $0.key)
        }.prefix(siteLimit)
        // Each distribution is summarised once for the JSON and the text: a summary walks its histogram.
        let blockingSummaries = reasons.map { (ParkReasonName.name($0), Summary(blocking[Int($0)]!)) }
        let siteSummaries = topSites.map { stack, site in
            (stack, site.goroutines, Summary(site.scheduling), Summary(site.blocking), Summary(site.lifetime))
        }
        let (schedulingSummary, syscallSummary) = (Summary(scheduling), Summary(syscall))
        let (preemptionSummary, lifetimeSummary) = (Summary(preemption), Summary(lifetime))
        // The JSON document is written in text mode too: the HTML report (`gotrace report --html`) embeds it.
        do {
            let sitesJSON = siteSummaries.map { stack, goroutines, scheduling, blocking, lifetime in
                JSON.object([
                    ("createdAt", JSON.array(host.userFrames(ofStack: stack).map(JSON.quote))),
                    ("goroutines", String(goroutines)),
                    ("scheduling", scheduling.json), ("blocking", blocking.json), ("lifetime", lifetime.json),
                ])
            }
            try host.writeJSON(JSON.object([
                ("scheduling", schedulingSummary.json),
                ("blocking", JSON.object(blockingSummaries.map { ($0, $1.json) })),
                ("preemption", preemptionSummary.json), ("syscall", syscallSummary.json), ("lifetime", lifetimeSummary.json),
                ("sites", JSON.array(sitesJSON)),
            ]))
        }
        if !host.wantsJSON {
            var rows = [("scheduling", schedulingSummary)]
            rows += blockingSummaries.map { ("blocking " + $0, $1) }
            rows += [("syscall", syscallSummary), ("preemption", preemptionSummary), ("lifetime", lifetimeSummary)]
            var text = table(rows)
            for (stack, goroutines, scheduling, blocking, lifetime) in siteSummaries {
                // The user's line that spawned them, not the runtime's `go`.
                let frame = host.userFrames(ofStack: stack, keepRuntimeEntry: false).first ?? "(unknown site)"
                text += "\ncreated at \(frame) — \(goroutines) goroutines\n"
                text += table([("  scheduling", scheduling), ("  blocking", blocking), ("  lifetime", lifetime)])
            }
            try host.writeText(text)
        }
        if host.hasOutputDirectory {
            var series: [(String, Distribution)] = [("scheduling", scheduling)]
            series += reasons.map { ("blocking " + ParkReasonName.name($0), blocking[Int($0)]!) }
            series += [("syscall", syscall), ("preemption", preemption), ("lifetime", lifetime)]
            do throws(AnalyzerError) {
                try host.writeFile(chartName, Array(LatencyChart.svg(series.filter { $0.1.totalCount > 0 }).utf8))
            } catch {
                throw AnalyzerError("cannot write the latency chart", causedBy: error)
            }
        }
    }

    /// What the report says of one distribution.
    struct Summary {
        let count: UInt64
        /// Mean, p50, p90, p99, p99.9 and max; zeros when empty.
        let values: [UInt64]

        init(_ distribution: Distribution) {
            count = distribution.totalCount
            values = count == 0 ? Array(repeating: 0, count: 6)
                : [UInt64(distribution.specialisedMean.rounded())] + [50, 90, 99, 99.9].map { distribution.valueAtPercentile($0) }
                    + [distribution.max]
        }

        /// The JSON stats object; keys are part of the report's interface.
        var json: String {
            JSON.object([("count", String(count))] + zip(["meanNs", "p50Ns", "p90Ns", "p99Ns", "p999Ns", "maxNs"], values.map(String.init)))
        }
    }

    func table(_ rows: [(String, Summary)]) -> String {
        let width = max(12, rows.map(\.0.count).max() ?? 0)
        func pad(_ text: String, _ size: Int, left: Bool = false) -> String {
            let gap = String(repeating: " ", count: max(0, size - text.count))
            return left ? text + gap : gap + text
        }
        var out = pad("", width, left: true)
        for title in ["count", "mean", "p50", "p90", "p99", "p99.9", "max"] { out += pad(title, 11) }
        out += "\n"
        for (name, summary) in rows {
            out += pad(name, width, left: true) + pad(String(summary.count), 11)
            if summary.count > 0 {
                for value in summary.values { out += pad(Duration.format(value), 11) }
            }
            out += "\n"
        }
        return out
    }
}

enum Duration {
    /// 950ns, 12.3µs, 4.56ms, 1.23s.
    static func format(_ nanoseconds: UInt64) -> String {
        let value = Double(nanoseconds)
        func rounded(_ x: Double) -> String {
            let text = x >= 100 ? String(Int(x.rounded())) : String((x * 10).rounded() / 10)
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        if value < 1e3 { return "\(nanoseconds)ns" }
        if value < 1e6 { return rounded(value / 1e3) + "µs" }
        if value < 1e9 { return rounded(value / 1e6) + "ms" }
        return rounded(value / 1e9) + "s"
    }
}

@_cdecl("gotrace_plugin_v1")
public func gotracePluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: LatencyAnalyzer.self) }
