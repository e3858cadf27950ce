// Times the host hands to plugins, in nanoseconds from the trace's start.
//
// Design note
// -----------
// A time is a `uint64_t` from the trace's start, and `GOTRACE_NONE` (UInt64.max) means unknown. One kind of
// time may precede the start: when a goroutine entered its state (`state_since_ns`, a transition's
// `since_ns`), for a goroutine already waiting when a flight-recorder window begins — its `snapshot` says
// how long it had waited. Such a time is negative, stored as its two's complement, so `end &- since` is the
// real wait whichever side of the start it began. Analyzers that place a time on the trace's time line
// (spans, profiles of the trace) clamp it with `TraceTime.clampedToTrace`; those that report how long a
// goroutine has waited (the leak analyzer) compare with `TraceTime.signed`.

/// Reading the host's times (see the design note).
public enum TraceTime {
    /// The time as signed nanoseconds from the trace's start (negative before it); nil if unknown.
    @inlinable public static func signed(_ nanoseconds: UInt64) -> Int64? {
        nanoseconds == UInt64.max ? nil : Int64(bitPattern: nanoseconds)
    }

    /// The time, or the trace's start (0) if it precedes it; `UInt64.max` (unknown) stays unknown.
    @inlinable public static func clampedToTrace(_ nanoseconds: UInt64) -> UInt64 {
        nanoseconds != UInt64.max && Int64(bitPattern: nanoseconds) < 0 ? 0 : nanoseconds
    }
}
