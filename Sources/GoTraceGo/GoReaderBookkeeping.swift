// What both Go readers keep the same way: the tick clock, and the mapped events waiting to be returned, with
// the iteration over them.

import CGoTracePlugin
import GoTrace

/// Ticks to nanoseconds since the trace's first tick (Go's conversion, in floating point).
struct GoTickClock {
    /// The smallest timestamp of the trace: time 0.
    var minTicks: UInt64 = 0
    private(set) var nanosecondsPerTick = 1e9 / Double(GoTraceReader.assumedTicksPerSecond)
    /// `nanosecondsPerTick` in fixed point (32 fractional bits); set with it.
    private var nanosecondsPerTickFixed: UInt64 = 0

    /// Sets the rate from a frequency (nil: keeps the one it has) and its fixed-point form from that rate.
    mutating func setFrequency(_ ticksPerSecond: UInt64?) {
        if let ticksPerSecond { nanosecondsPerTick = 1e9 / Double(ticksPerSecond) }
        let fixed = nanosecondsPerTick * 4_294_967_296
        nanosecondsPerTickFixed = fixed < 1.8e19 ? UInt64(fixed) : UInt64.max
    }

    @inline(__always)
    func nanoseconds(_ ticks: UInt64) -> UInt64 {
        let elapsed = ticks >= minTicks ? ticks - minTicks : 0
        if elapsed < 1 << 40 {
            // Fixed point: exact to well under a nanosecond for 2^40 ticks, and no floating-point conversion
            // per event.
            let product = elapsed.multipliedFullWidth(by: nanosecondsPerTickFixed)
            return product.high << 32 | product.low >> 32
        }
        let value = Double(elapsed) * nanosecondsPerTick
        return value >= 1.8e19 ? UInt64.max : UInt64(value)
    }
}

/// The mapped events one Go event became, waiting to be returned: at most two (Go 1.11–1.21) or three (Go
/// 1.22+); room for four. Safety: `events` is allocated here and freed by `deallocate()`, once, in the reader's
/// deinit; `append` checks `count` < 4 before each write and `index` < `count` holds before each read; one
/// thread.
struct GoPendingEvents {
    let events: UnsafeMutablePointer<GoMappedEvent> = {
        let pointer = UnsafeMutablePointer<GoMappedEvent>.allocate(capacity: 4)
        pointer.initialize(repeating: GoMappedEvent.empty, count: 4)
        return pointer
    }()
    var count = 0
    var index = 0

    @inline(__always)
    mutating func append(_ event: GoMappedEvent) {
        guard count < 4 else { return }
        events[count] = event
        count += 1
    }

    func deallocate() { events.deallocate() }
}

/// A Go reader's iteration and bookkeeping, written once: each reader has its own `fillPending` (order and map
/// until at least one event is pending, `pending` emptied first; false at the end); the reads over it, the
/// problems and the frames are shared.
protocol GoPendingSource: GoTraceSource {
    var pending: GoPendingEvents { get set }
    var eventsRead: UInt64 { get set }
    var eventView: GoTraceEventView { get }
    var problems: GoTraceProblems { get set }
    var frameTable: GoFrameTable { get }
    func fillPending() -> Bool
}

extension GoPendingSource {
    /// Problems as found; a fatal one (not a Go trace, unsupported version, unreadable file) stops reading.
    public var diagnostics: [TraceDiagnostic] { problems.diagnostics }

    /// Frames by synthetic address.
    public var frames: [UInt64: TraceFrame] { frameTable.frames }

    func fail(_ offset: Int, _ what: String) { problems.fail(offset, what) }

    func report(_ offset: Int, _ what: String) { problems.report(offset, what) }

    /// The next mapped event, or nil at the end. Definitions (strings, stacks) are not included: read
    /// `strings`, `stacks` and `frames` before iterating.
    @inline(__always)
    public func nextMapped() -> GoMappedEvent? {
        if pending.index >= pending.count, !fillPending() { return nil }
        pending.index += 1
        eventsRead += 1
        return pending.events[pending.index - 1]
    }

    /// Fills `buffer` from its start with the next mapped events; returns how many (0 at the end). The same
    /// events as `nextMapped()`, without a call per event (the analysis host's producer loop).
    @inline(__always)
    public func nextMapped(into buffer: UnsafeMutableBufferPointer<GoMappedEvent>) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var count = 0
        while count < buffer.count {
            if pending.index >= pending.count, !fillPending() { break }
            base[count] = pending.events[pending.index]
            pending.index += 1
            count += 1
        }
        eventsRead += UInt64(count)
        return count
    }

    /// The next event as `TraceEvent` (string and stack definitions first, at time 0), for dump and stat.
    public func next() -> TraceEvent? { eventView.next(from: self) }

    public func nextBatch(into batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: TraceDefinitionSink) -> Int {
        eventView.nextBatch(from: self, into: batch, definitions: definitions)
    }
}
