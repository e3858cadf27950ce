import GoTrace
import Testing
@testable import gotrace

/// `gotrace top`'s model (TopModel.swift) on chunks built by hand: each M's chunks reach it in the order that
/// M flushed them, not in time order across Ms.
@Suite struct TopModelTests {
    /// One events chunk of machine `machine`, as the runtime's writer seals it (raw, as on `gotrace record`'s
    /// pipe): `events` are (kind, ticks, arguments), in time order.
    static func chunk(machine: UInt64, sequence: UInt64, _ events: [(EventKind, UInt64, [UInt64])]) -> TraceStreamFramer.Unit {
        let buffer = TraceBuffer(baseTicks: 0)
        for (kind, ticks, arguments) in events {
            #expect(buffer.emit(kind, at: ticks, arguments: arguments.map { .number($0) }))
        }
        let bytes = buffer.sealChunk(machine: machine, sequence: sequence)
        guard case .success(let (header, _)) = ChunkHeader.decode(bytes[...]) else {
            Issue.record("a sealed chunk does not decode")
            return .chunk(bytes: bytes, header: ChunkHeader(type: .events))
        }
        return .chunk(bytes: bytes, header: header)
    }

    static let chanReceive = UInt64(ParkReason.chanReceive.rawValue)

    @Test("a goroutine's park that arrives before its spawn keeps it blocked")
    func parkBeforeSpawnAcrossMachines() {
        var model = TopModel()
        let header = FileHeader(ticksPerSecond: 1_000_000_000, startTicks: 0, startWallTimeNanoseconds: 0)
        model.consume(.fileHeader(bytes: header.encoded(), header: header))
        // M1 ran g5 and parked it at 200; M0, which spawned g5 at 100, flushed its chunk later.
        model.consume(Self.chunk(machine: 1, sequence: 0, [(.start, 150, [5]), (.park, 200, [5, Self.chanReceive, 0])]))
        model.consume(Self.chunk(machine: 0, sequence: 0, [(.spawn, 100, [1, 5, 0]), (.start, 300, [1])]))
        let frame = model.takeFrame()
        #expect(frame.goroutinesByState[.waiting] == 1, "\(frame.goroutinesByState)")
        #expect(frame.blockingSites.map(\.reason) == ["chan-receive"], "\(frame.blockingSites)")
        #expect(model.problems.isEmpty, "\(model.problems)")
    }

    @Test("a goroutine that ended stays ended when an earlier event of it arrives late")
    func endBeforeEarlierEvent() {
        var model = TopModel()
        let header = FileHeader(ticksPerSecond: 1_000_000_000, startTicks: 0, startWallTimeNanoseconds: 0)
        model.consume(.fileHeader(bytes: header.encoded(), header: header))
        model.consume(Self.chunk(machine: 1, sequence: 0, [(.start, 150, [5]), (.end, 200, [5])]))
        model.consume(Self.chunk(machine: 0, sequence: 0, [(.spawn, 100, [1, 5, 0]), (.unpark, 120, [5, 1, 0])]))
        let frame = model.takeFrame()
        #expect(frame.goroutinesByState.values.reduce(0, +) == 0, "\(frame.goroutinesByState)")
    }
}
