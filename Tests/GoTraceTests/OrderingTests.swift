import GotraceTestSupport
import Testing
@testable import GoTrace

/// The merge across Ms: non-decreasing timestamps, deterministic ties, lazy chunk decoding.
@Suite struct OrderingTests {
    @Test func interleavedMachinesComeOutInTimestampOrder() {
        var trace = TraceBuilder()
        // Chunks are appended in an order unrelated to time, as flushes from different Ms would be.
        let plan: [(machine: UInt64, sequence: UInt64, ticks: [UInt64])] = [
            (3, 0, [5, 50, 500]),
            (1, 0, [1, 10, 100]),
            (2, 1, [900, 901]),
            (1, 1, [600, 700]),
            (2, 0, [2, 20, 200]),
        ]
        for chunk in plan {
            let buffer = TraceBuffer(baseTicks: chunk.ticks[0] - 1)
            for ticks in chunk.ticks { buffer.emit(.start, at: ticks, chunk.machine) }
            trace.seal(buffer, machine: chunk.machine, sequence: chunk.sequence)
        }
        trace.finish()
        let (events, reader) = readAll(trace.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(events.map(\.ticks) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 600, 700, 900, 901])
    }

    @Test func tiesAreBrokenByMachineThenStreamPosition() {
        var trace = TraceBuilder()
        for machine: UInt64 in [2, 1] {
            let buffer = TraceBuffer()
            buffer.emit(.start, at: 7, machine * 10)
            buffer.emit(.start, at: 7, machine * 10 + 1)
            trace.seal(buffer, machine: machine, sequence: 0)
        }
        let (events, _) = readAll(trace.bytes)
        #expect(events.map(\.goroutine) == [10, 11, 20, 21])
    }

    @Test func clockSteppingBackIsClampedNeverReportedOutOfOrder() {
        var trace = TraceBuilder()
        let buffer = TraceBuffer()
        buffer.emit(.start, at: 1_000, 1)
        trace.seal(buffer, machine: 1, sequence: 0)
        // A later chunk of the same M whose clock reads earlier (a TSC from another core, say).
        let stepped = TraceBuffer(baseTicks: 0)
        stepped.emit(.start, at: 400, 2)
        trace.seal(stepped, machine: 1, sequence: 1)
        // Within a chunk, a decreasing timestamp becomes a zero delta at the writer.
        let within = TraceBuffer(baseTicks: 0)
        within.emit(.start, at: 2_000, 3)
        within.emit(.start, at: 1_500, 4)
        trace.seal(within, machine: 2, sequence: 0)
        let (events, reader) = readAll(trace.bytes)
        #expect(events.map(\.ticks) == [1_000, 1_000, 2_000, 2_000])
        #expect(reader.clampedTimestamps == 1)
    }

    @Test func contextAttachesProcAndGoroutineToEventsThatDoNotNameThem() {
        let buffer = TraceBuffer()
        buffer.emit(.procStart, at: 1, 4)
        buffer.emit(.start, at: 2, 9)
        buffer.emit(.steal, at: 3, 4, 1, 2)
        buffer.emit(.park, at: 4, 9, UInt64(ParkReason.sleep.rawValue), 0)
        buffer.emit(.steal, at: 5, 4, 2, 1)
        buffer.emit(.procStop, at: 6, 4)
        buffer.emit(.eventsLost, at: 7, 0)
        var trace = TraceBuilder()
        trace.seal(buffer, machine: 1, sequence: 0)
        let (events, _) = readAll(trace.bytes)
        #expect(events.map(\.proc) == [4, 4, 4, 4, 4, 4, nil])
        #expect(events.map(\.goroutine) == [nil, 9, 9, 9, nil, nil, nil])
    }

    @Test func manyMachinesManyChunksStayOrdered() {
        var trace = TraceBuilder()
        var generator = SeededGenerator(state: 42)
        var sealed: [(UInt64, UInt64, TraceBuffer)] = []
        for machine in 1...16 {
            var ticks: UInt64 = 0
            for sequence in 0..<4 {
                let buffer = TraceBuffer(baseTicks: ticks)
                for _ in 0..<50 {
                    ticks += UInt64.random(in: 0...30, using: &generator)
                    buffer.emit(.start, at: ticks, UInt64(machine))
                }
                sealed.append((UInt64(machine), UInt64(sequence), buffer))
            }
        }
        sealed.shuffle(using: &generator)
        for (machine, sequence, buffer) in sealed { trace.seal(buffer, machine: machine, sequence: sequence) }
        let (events, reader) = readAll(trace.bytes)
        #expect(events.count == 16 * 4 * 50)
        #expect(reader.clampedTimestamps == 0)
        #expect(zip(events, events.dropFirst()).allSatisfy { first, second in
            (first.ticks, first.machine) <= (second.ticks, second.machine)
        })
    }
}
