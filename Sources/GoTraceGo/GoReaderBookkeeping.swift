// What both Go readers keep the same way: the tick clock and the set of the runtime's own goroutines.

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

/// Goroutines the Go runtime runs for itself (`GoTraceReader.isSystemEntry`): a flag per dense goroutine id,
/// since the filter runs for every mapped event (a Set lookup measured ~5%), and a set of all.
struct GoSystemGoroutines {
    private var ids: Set<UInt64> = []
    private var flags: [Bool] = []

    @inline(__always)
    func contains(_ goroutine: UInt64) -> Bool {
        if goroutine < UInt64(flags.count) { return flags[Int(goroutine)] }
        return goroutine >= 1 << 20 && ids.contains(goroutine)
    }

    mutating func insert(_ goroutine: UInt64) {
        ids.insert(goroutine)
        guard goroutine < 1 << 20 else { return }
        if Int(goroutine) >= flags.count {
            flags.append(contentsOf: repeatElement(false, count: Int(goroutine) + 1 - flags.count))
        }
        flags[Int(goroutine)] = true
    }
}
