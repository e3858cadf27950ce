import CGoTracePlugin
import Testing
@testable import GoTraceAnalysis

/// The host's goroutine model on its own: the transitions it derives from scheduling events, and beside each
/// the stack of the state it leaves (the batch's `transition_from_stacks`, ABI 1.2), which the plugins use
/// instead of keeping a park stack per goroutine. Expected values are read off the event sequence by hand
/// (docs/trace-format.md's argument order: spawn(parent, child, stack), park(g, reason, stack),
/// unpark(g, waker, stack), syscall-enter(g, stack), snapshot(g, state, reason, stack)).
@Suite struct GoroutineModelTests {
    private static func event(_ kind: UInt8, at time: UInt64, _ arguments: UInt64...) -> gotrace_event {
        var event = gotrace_event()
        event.kind = kind
        event.argument_count = UInt8(arguments.count)
        event.time_ns = time
        let padded = arguments + Array(repeating: 0, count: 6 - arguments.count)
        withUnsafeMutableBytes(of: &event.arguments) { raw in
            for index in 0..<6 { raw.storeBytes(of: padded[index], toByteOffset: index * 8, as: UInt64.self) }
        }
        return event
    }

    /// (goroutine, from, to, reason, since, fromStack) for each transition the events cause.
    private static func transitions(_ events: [gotrace_event]) -> [[UInt64]] {
        let model = GoroutineModel()
        var buffer = TransitionBuffer(capacity: events.count)
        defer { buffer.deallocate() }
        for (index, event) in events.enumerated() {
            withUnsafePointer(to: event) { model.apply($0, index: UInt32(index), into: &buffer) }
        }
        return zip(buffer.buffer, buffer.fromStackBuffer).map { transition, fromStack in
            [transition.goroutine, UInt64(transition.from), UInt64(transition.to), UInt64(transition.reason),
             transition.since_ns, fromStack]
        }
    }

    static let (unknown, runnable, running, waiting, syscall, dead): (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 1, 2, 3, 4, 5)

    @Test("a park's stack goes with the transition out of WAITING, a system call's with the one out of SYSCALL")
    func fromStacks() {
        let none = UInt64.max
        let rows = Self.transitions([
            Self.event(16, at: 100, 1, 7, 70),      // spawn g7 by g1 at stack 70
            Self.event(17, at: 110, 7),             // start g7
            Self.event(18, at: 120, 7, 0, 71),      // park g7 (chan-receive) at stack 71
            Self.event(19, at: 150, 7, 1, 72),      // unpark g7 by g1 at stack 72
            Self.event(17, at: 160, 7),             // start g7
            Self.event(27, at: 170, 7, 73),         // syscall-enter g7 at stack 73
            Self.event(28, at: 190, 7),             // syscall-exit g7
            Self.event(18, at: 200, 7, 10, 74),     // park g7 (yield): runnable, not waiting
            Self.event(17, at: 210, 7),             // start g7
            Self.event(20, at: 220, 7),             // end g7
        ])
        #expect(rows == [
            [7, Self.unknown, Self.runnable, 0, none, 0],
            [7, Self.runnable, Self.running, 0, 100, 0],
            [7, Self.running, Self.waiting, 0, 110, 0],
            [7, Self.waiting, Self.runnable, 0, 120, 71],
            [7, Self.runnable, Self.running, 0, 150, 0],
            [7, Self.running, Self.syscall, 0, 160, 0],
            [7, Self.syscall, Self.running, 0, 170, 73],
            [7, Self.running, Self.runnable, 10, 190, 0],
            [7, Self.runnable, Self.running, 0, 200, 0],
            [7, Self.running, Self.dead, 0, 210, 0],
        ])
    }

    @Test("a goroutine parked before the trace began: the snapshot's stack is its park stack")
    func snapshotStack() {
        let rows = Self.transitions([
            Self.event(29, at: 0, 9, 2, 3, 80),    // snapshot g9 waiting (mutex) at stack 80
            Self.event(19, at: 500, 9, 1, 81),     // unpark g9 by g1
        ])
        #expect(rows == [
            [9, Self.unknown, Self.waiting, 3, UInt64.max, 0],
            [9, Self.waiting, Self.runnable, 3, 0, 80],
        ])
    }
}
