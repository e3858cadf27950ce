import Foundation
import GotraceTestSupport
import Testing
@testable import GoTrace

/// `EventAccounting` and `gotrace stat --check`: a trace whose life cycles add up passes; each kind of hole a
/// lost event leaves is reported, and the command fails loudly (status 4) on it.
@Suite struct EventAccountingTests {
    /// One M's events. `.spawn(parent, child)`, `.start(g)`, `.park(g)`, `.unpark(g)`, `.end(g)`,
    /// `.snapshot(g, state)` — ticks advance by 10 per event.
    enum Step {
        case spawn(UInt64, UInt64), start(UInt64), park(UInt64), unpark(UInt64), end(UInt64)
        case snapshot(UInt64, GoroutineState)
    }

    /// A complete trace of `steps` on M 1; `finished: false` leaves out the end chunk.
    static func trace(_ steps: [Step], finished: Bool = true) -> [UInt8] {
        var builder = TraceBuilder()
        let buffer = TraceBuffer()
        var ticks: UInt64 = 10
        for step in steps {
            switch step {
            case .spawn(let parent, let child): _ = buffer.emit(.spawn, at: ticks, parent, child, 0)
            case .start(let g): _ = buffer.emit(.start, at: ticks, g)
            case .park(let g): _ = buffer.emit(.park, at: ticks, g, UInt64(ParkReason.chanReceive.rawValue), 0)
            case .unpark(let g): _ = buffer.emit(.unpark, at: ticks, g, 1, 0)
            case .end(let g): _ = buffer.emit(.end, at: ticks, g)
            case .snapshot(let g, let state):
                _ = buffer.emit(.snapshot, at: ticks, g, UInt64(state.rawValue), UInt64(ParkReason.chanReceive.rawValue), 0, 0)
            }
            ticks += 10
        }
        builder.seal(buffer, machine: 1, sequence: 0)
        if finished { builder.finish() }
        return builder.bytes
    }

    static func check(_ bytes: [UInt8]) -> EventAccounting.Report {
        let reader = TraceReader(bytes: bytes)
        var accounting = EventAccounting()
        while let event = reader.next() { accounting.observe(event) }
        return accounting.finish(complete: reader.isComplete, endChunk: reader.endChunk, eventsRead: reader.eventsRead,
                                 eventChunks: reader.eventChunkCount, droppedEvents: reader.droppedEvents,
                                 corruptChunks: reader.corruptChunkCount)
    }

    /// g1 (predates the trace, running) spawns g2 and g3; g2 parks, is woken and ends; g3 parks and is still
    /// parked at the end; g1 is in the final snapshot.
    static let balanced: [Step] = [
        .snapshot(1, .running),
        .spawn(1, 2), .spawn(1, 3),
        .park(1), .start(2), .park(2), .start(3), .park(3), .unpark(2), .unpark(1), .start(2), .end(2), .start(1),
        .snapshot(1, .running), .snapshot(3, .waiting),
    ]

    @Test func balancedLifeCyclesPass() {
        let report = Self.check(Self.trace(Self.balanced))
        #expect(report.passed, "\(report.mismatches)")
        #expect(report.spawned == 2 && report.ended == 1 && report.liveInFinalSnapshot == 1)
        #expect(report.parks == 3 && report.unparks == 2 && report.parkedAtEnd == 1)
    }

    @Test func aLostUnparkIsAStartOfAParkedGoroutine() {
        var steps = Self.balanced
        steps.remove(at: 8)  // .unpark(2)
        let report = Self.check(Self.trace(steps))
        #expect(!report.passed)
        #expect(report.mismatches.contains { $0.contains("g2 started while waiting") }, "\(report.mismatches)")
    }

    @Test func aLostEndLeavesAGoroutineNeitherEndedNorInTheFinalSnapshot() {
        var steps = Self.balanced
        steps.remove(at: 11)  // .end(2)
        let report = Self.check(Self.trace(steps))
        #expect(report.mismatches.contains { $0.contains("g2 is running at the end but neither ended nor in the final snapshot") },
                "\(report.mismatches)")
    }

    @Test func aParkThatIsNeverUnparkedMustBeInTheFinalSnapshot() {
        var steps = Self.balanced
        steps.removeLast()  // .snapshot(3, .waiting)
        let report = Self.check(Self.trace(steps))
        #expect(report.mismatches == ["g3 parked and never unparked, and is not in the final snapshot"])
        // …and shown waiting there, not runnable.
        let wrongState = Array(Self.balanced.dropLast()) + [.snapshot(3, .runnable)]
        #expect(Self.check(Self.trace(wrongState)).mismatches == [
            "g3 parked and never unparked, but the final snapshot says runnable",
        ])
    }

    @Test func anIncompleteTraceCannotReconcile() {
        let report = Self.check(Self.trace(Self.balanced, finished: false))
        #expect(report.mismatches.first?.hasPrefix("the trace is incomplete") == true)
    }

    @Test func endChunkTotalsMustMatchWhatWasRead() {
        var builder = TraceBuilder()
        let buffer = TraceBuffer()
        _ = buffer.emit(.spawn, at: 10, 0, 2, 0)
        _ = buffer.emit(.start, at: 20, 2)
        _ = buffer.emit(.end, at: 30, 2)
        builder.seal(buffer, machine: 1, sequence: 0)
        builder.events += 5  // as if a chunk of 5 events never reached the file
        builder.chunks += 1
        builder.finish()
        let report = Self.check(builder.bytes)
        #expect(report.mismatches == [
            "the end chunk counts 8 events, 3 were read",
            "the end chunk counts 2 event chunks, the file holds 1",
        ])
    }

    @Test
    func statCheckFailsLoudlyOnADeliberateMismatch() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        var steps = Self.balanced
        steps.remove(at: 8)  // .unpark(2): a lost event
        let broken = temporaryTracePath()
        let good = temporaryTracePath()
        defer {
            try? FileManager.default.removeItem(atPath: broken)
            try? FileManager.default.removeItem(atPath: good)
        }
        try Data(Self.trace(steps)).write(to: URL(fileURLWithPath: broken))
        try Data(Self.trace(Self.balanced)).write(to: URL(fileURLWithPath: good))

        let failed = try run(gotrace, ["stat", "--check", broken])
        #expect(failed.status == 4)
        #expect(failed.standardError.hasPrefix("gotrace stat: CHECK FAILED: "), "\(failed.standardError)")
        #expect(failed.standardError.contains("g2 started while waiting"))
        #expect(failed.standardOutput.contains("check:                  FAILED"))

        let passed = try run(gotrace, ["stat", "--check", "--format", "json", good])
        #expect(passed.status == 0, "\(passed.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(passed.standardOutput.utf8)) as? [String: Any])
        let check = try #require(json["check"] as? [String: Any])
        #expect(check["passed"] as? Bool == true)
        #expect(check["mismatchCount"] as? Int == 0)
        #expect(check["parkedAtEnd"] as? Int == 1)
        // Without --check the key is absent (the document is otherwise unchanged).
        let plain = try run(gotrace, ["stat", "--format", "json", good])
        #expect(!plain.standardOutput.contains("\"check\""))
    }

    /// The soak workload, briefly: a real recording of every kind of activity reconciles exactly.
    @Test
    func shortSoakReconciles() throws {
        let gotrace = try #require(BuiltProducts.path("gotrace"))
        let scenarios = try #require(BuiltProducts.path("TraceScenarios"))
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let recorded = try run(gotrace, ["record", "-o", trace, "--", scenarios, "soak", "3"])
        #expect(recorded.status == 0, "\(recorded.standardError)")
        #expect(recorded.standardOutput.contains("soak done: 3 s"))
        let checked = try run(gotrace, ["stat", "--check", "--format", "json", trace])
        #expect(checked.status == 0, "\(checked.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8)) as? [String: Any])
        let check = try #require(json["check"] as? [String: Any])
        #expect(check["passed"] as? Bool == true, "\(check)")
        #expect((check["spawned"] as? Int ?? 0) > 1_000)
        #expect((check["parks"] as? Int ?? 0) > 10_000)
        #expect(check["droppedEvents"] as? Int == 0)
    }
}
