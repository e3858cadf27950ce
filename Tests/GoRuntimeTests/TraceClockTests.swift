import CGoRuntime
import GoRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The trace's clock (Tracer.swift, "Timestamps"): on a machine whose kernel clocksource is the TSC, a tick is 16
/// TSC cycles; otherwise a nanosecond. The expected rate is measured here, by reading the TSC across 50 ms of
/// CLOCK_MONOTONIC, not taken from the tracer's own calibration.
@Suite struct TraceClockTests {
    @Test("a recording's clock frequency is the TSC's ÷ 16 (or nanoseconds without a TSC clocksource)")
    func clockFrequencyIsSixteenthOfTheTSC() async throws {
        // A separate process: tracing is process-wide, and other tests run meanwhile.
        await #expect(processExitsWith: .exitCode(0)) {
            let path = "/tmp/gotrace-clock-\(getpid()).gtrace"
            try? Trace.start(to: path)
            Runtime.run(maxProcs: 1) { Runtime.sleep(for: .milliseconds(5)) }
            Trace.stop()
            defer { unlink(path) }
            // The file header's clock frequency: 8 bytes, little-endian, at offset 16 (docs/trace-format.md §3).
            guard let file = fopen(path, "rb") else { exit(3) }
            var header = [UInt8](repeating: 0, count: 48)
            let read = fread(&header, 1, 48, file)
            fclose(file)
            guard read == 48 else { exit(4) }
            let frequency = (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[16 + $1]) << (8 * UInt64($1)) }

            var clocksource = [UInt8](repeating: 0, count: 64)
            var sourceLength = 0
            if let source = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r") {
                sourceLength = fread(&clocksource, 1, 64, source)
                fclose(source)
            }
            guard String(decoding: clocksource[..<sourceLength], as: UTF8.self).hasPrefix("tsc") else {
                exit(frequency == 1_000_000_000 ? 0 : 6)
            }

            // The TSC's rate: the tightest of three 50 ms measurements (a descheduled thread only lengthens one).
            var best = (cycles: UInt64(0), nanoseconds: Int64.max, width: Int64.max)
            for _ in 0..<3 {
                let before = gort_nanotime()
                let startCycles = gort_cputicks()
                let startAfter = gort_nanotime()
                usleep(50_000)
                let endBefore = gort_nanotime()
                let endCycles = gort_cputicks()
                let after = gort_nanotime()
                let width = (startAfter - before) + (after - endBefore)
                if width < best.width {
                    best = (endCycles - startCycles, (endBefore + after) / 2 - (before + startAfter) / 2, width)
                }
            }
            let tscPerSecond = Double(best.cycles) * 1e9 / Double(best.nanoseconds)
            let ratio = tscPerSecond / Double(frequency)
            exit(ratio > 15.84 && ratio < 16.16 ? 0 : 7)
        }
    }
}
