import GoTracePluginKit
import Testing

/// Times before a flight-recorder window's start travel as two's complement (TraceTime.swift's design note).
@Suite struct TraceTimeTests {
    @Test("a time before the trace's start reads back negative; unknown stays unknown")
    func signed() {
        #expect(TraceTime.signed(UInt64.max) == nil)
        #expect(TraceTime.signed(0) == 0)
        #expect(TraceTime.signed(1_500) == 1_500)
        #expect(TraceTime.signed(UInt64(bitPattern: -2_000_000_000)) == -2_000_000_000)
        // A wait that began 2 s before the start and ended 3 s after it lasted 5 s, computed either way.
        let since = UInt64(bitPattern: -2_000_000_000), end: UInt64 = 3_000_000_000
        #expect(end &- since == 5_000_000_000)
    }

    @Test("placing a time on the trace's time line clamps one before the start to 0, and keeps unknown")
    func clamped() {
        #expect(TraceTime.clampedToTrace(UInt64(bitPattern: -5)) == 0)
        #expect(TraceTime.clampedToTrace(42) == 42)
        #expect(TraceTime.clampedToTrace(UInt64.max) == UInt64.max)
    }
}
