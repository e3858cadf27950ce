import GoTrace
import GoTraceShared
import Testing

/// The plugin kit's wire codes (`KindCode`, `ParkReasonName`, `PreemptKindCode`) are the trace format's own
/// (GoTraceFormat/EventKind.swift): the kit does not depend on the format module, so this is where a new or
/// renumbered kind would be caught.
@Suite struct WireCodeTests {
    @Test("every KindCode is its EventKind's wire code")
    func kindCodes() {
        let pairs: [(UInt8, EventKind)] = [
            (KindCode.spawn, .spawn), (KindCode.start, .start), (KindCode.park, .park), (KindCode.unpark, .unpark),
            (KindCode.end, .end), (KindCode.preempt, .preempt), (KindCode.syscallEnter, .syscallEnter),
            (KindCode.syscallExit, .syscallExit), (KindCode.snapshot, .snapshot),
        ]
        for (code, kind) in pairs { #expect(code == kind.rawValue, "\(kind)") }
    }

    @Test("park reasons: the kit names every format reason as the format spells it, and its constants match")
    func parkReasons() {
        #expect(ParkReasonName.knownCount == ParkReason.allCases.count)
        for reason in ParkReason.allCases { #expect(ParkReasonName.name(reason.rawValue) == reason.name) }
        #expect(ParkReasonName.name(UInt8(ParkReason.allCases.count)) == "reason-\(ParkReason.allCases.count)")
        let pairs: [(UInt8, ParkReason)] = [
            (ParkReasonName.chanReceive, .chanReceive), (ParkReasonName.mutex, .mutex),
            (ParkReasonName.rwmutex, .rwmutex), (ParkReasonName.sleep, .sleep), (ParkReasonName.yield, .yield),
            (ParkReasonName.preempted, .preempted),
        ]
        for (code, reason) in pairs { #expect(code == reason.rawValue, "\(reason)") }
    }

    @Test("a preempt event counts as a preemption exactly when the format calls its kind honoured")
    func preemptKinds() {
        for kind in PreemptKind.allCases {
            #expect(PreemptKindCode.isHonoured(UInt64(kind.rawValue)) == kind.name.hasPrefix("honoured"), "\(kind)")
        }
        #expect(!PreemptKindCode.isHonoured(UInt64(PreemptKind.allCases.count)))
    }
}
