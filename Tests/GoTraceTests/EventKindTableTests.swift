import Testing
@testable import GoTrace

@Suite struct EventKindTableTests {
    @Test func namesAreTheDocumentedSpellings() {
        let required = [
            "spawn", "start", "park", "unpark", "end", "steal", "preempt", "stack-grow", "stack-shrink",
            "proc-start", "proc-stop", "syscall-enter", "syscall-exit", "snapshot", "region-begin", "region-end",
            "log", "cpu-sample", "string", "stack",
        ]
        let names = Set(EventKindSpec.builtIn.map(\.name))
        for name in required { #expect(names.contains(name), "missing kind \(name)") }
    }

    @Test func codesAndNamesAreUniqueAndFitTheKindByte() {
        let specs = EventKindSpec.builtIn
        #expect(Set(specs.map(\.kind.rawValue)).count == specs.count)
        #expect(Set(specs.map(\.name)).count == specs.count)
        for spec in specs {
            #expect(spec.kind.rawValue <= EventKind.maxCode && spec.kind.rawValue != 0)
            #expect(EventKindSpec.builtInByCode[Int(spec.kind.rawValue)] == spec)
        }
    }

    @Test func argumentShapesMatchTheIssue() {
        #expect(EventKind.spawn.spec?.arguments.map(\.name) == ["parent", "child", "stack"])
        #expect(EventKind.park.spec?.arguments.map(\.role) == [.goroutine, .parkReason, .stackID])
        #expect(EventKind.unpark.spec?.arguments.map(\.name) == ["goroutine", "waker", "stack"])
        #expect(EventKind.steal.spec?.arguments.map(\.role) == [.proc, .proc, .number])
        #expect(EventKind.snapshot.spec?.arguments.map(\.name) == ["goroutine", "state", "reason", "stack", "waited"])
        #expect(EventKind.log.spec?.arguments.map(\.role) == [.goroutine, .stringID, .stringID])
        #expect(EventKind.cpuSample.spec?.hasStack == true)
        #expect(EventKind.procStart.spec?.hasStack == false)
        // Every kind but the two definitions can be written by the fixed-arity fast path.
        for spec in EventKindSpec.builtIn where spec.kind != .string && spec.kind != .stack {
            #expect(spec.isFixedArity && spec.arguments.count <= 5, "\(spec.name)")
        }
    }

    @Test func parkReasonTableHasTheIssuesReasonsInOrder() {
        #expect(ParkReason.allCases.map(\.name) == [
            "chan-receive", "chan-send", "select", "mutex", "rwmutex", "waitgroup", "cond", "sleep", "io",
            "syscall", "yield", "preempted", "other",
        ])
        #expect(PreemptKind.allCases.count == 4)
    }

    @Test func kindTableRoundTrips() {
        let decoded = KindTableCodec.decode(KindTableCodec.encode(EventKindSpec.builtIn))
        #expect(decoded == EventKindSpec.builtIn)
    }

    @Test func kindTableDecoderRejectsDamage() {
        let encoded = KindTableCodec.encode(EventKindSpec.builtIn)
        for cut in stride(from: 0, to: encoded.count, by: 7) {
            #expect(KindTableCodec.decode(Array(encoded.prefix(cut))) == nil)
        }
        #expect(KindTableCodec.decode([0xff, 0xff, 0xff, 0xff, 0x0f]) == nil)
    }
}
