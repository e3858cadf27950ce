import GoTrace
import Testing

/// The end chunk's optional end signal (docs/trace-format.md 5.3): written only when there is one, read
/// back by the reader and `TraceSummary`, and absent — as older writers leave it — meaning 0.
struct EndSignalTests {
    private func trace(endSignal: UInt64) -> [UInt8] {
        var builder = TraceBuilder()
        let buffer = TraceBuffer(baseTicks: 0)
        _ = buffer.emit(.spawn, at: 10, 0, 1, 0)
        builder.seal(buffer, machine: 1, sequence: 0)
        return builder.bytes + EndChunk(events: 1, chunks: 1, droppedEvents: 0, endWallTimeNanoseconds: 5,
                                        endSignal: endSignal).encoded()
    }

    @Test func aSignalIsRecordedAndReadBack() {
        let (events, reader) = readAll(trace(endSignal: 15))
        #expect(events.count == 1)
        #expect(reader.isComplete)
        #expect(reader.endChunk?.endSignal == 15)
        #expect(reader.endChunk?.endWallTimeNanoseconds == 5)
        #expect(TraceSummary(reading: TraceReader(bytes: trace(endSignal: 15))).endSignal == 15)
    }

    @Test func noSignalWritesTheOlderLayout() {
        let withSignal = EndChunk(events: 1, chunks: 1, droppedEvents: 0, endWallTimeNanoseconds: 5, endSignal: 2)
        let without = EndChunk(events: 1, chunks: 1, droppedEvents: 0, endWallTimeNanoseconds: 5)
        // Exactly one varint more with a signal; without one, the four fields older readers know.
        #expect(withSignal.encoded().count == without.encoded().count + 1)
        let (_, reader) = readAll(trace(endSignal: 0))
        #expect(reader.isComplete)
        #expect(reader.endChunk?.endSignal == 0)
        #expect(TraceSummary(reading: TraceReader(bytes: trace(endSignal: 0))).endSignal == nil)
    }
}
