import Foundation
import GoSymbolize
import GoTraceShared
import GotraceTestSupport
import Testing

/// Readable names and the one frame classifier against names from a release build of a separate package
/// (Tests/Fixtures/FrameNames/release-names.tsv): the expected names are `swift demangle --simplified`'s, the
/// expected owners are read from the mangling — neither comes from the code under test.
@Suite struct FrameNamesTests {
    struct Row {
        var mangled: String
        var simplified: String
        var owner: StackTrimming.FrameClass
    }

    static func rows() throws -> [Row] {
        // Tests/GoTracePluginKitTests/FrameNamesTests.swift → the package root, two folders up.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let path = root + "/Tests/Fixtures/FrameNames/release-names.tsv"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(fields.count == 4, "\(line)")
            let owner: StackTrimming.FrameClass = switch fields[3] {
            case "runtime": .runtime
            case "user": .user
            default: .glue
            }
            return Row(mangled: fields[0], simplified: fields[2], owner: owner)
        }
    }

    @Test("the fixture covers every kind of name a release build makes")
    func fixtureCoverage() throws {
        let rows = try FrameNamesTests.rows()
        #expect(rows.count >= 60)
        for suffix in ["Tg5", "Tf4", "Tm", "TR", "TA", "fU_"] {
            #expect(rows.contains { $0.mangled.contains(suffix) }, "no \(suffix) name")
        }
        for owner in [StackTrimming.FrameClass.runtime, .user, .glue] {
            #expect(rows.contains { $0.owner == owner })
        }
    }

    @Test("readable names are what `swift demangle --simplified` prints, from the runtime demangler's full names")
    func readableMatchesSimplified() throws {
        for row in try FrameNamesTests.rows() {
            let full = Demangler.demangle(row.mangled)
            #expect(full != row.mangled, "the runtime cannot demangle \(row.mangled)")
            // Where the toolchain prints an empty context (a closure in top-level code: `closure #1 in `) we
            // name the function that code runs as.
            let expected = row.simplified.hasSuffix(" in ") ? row.simplified + "main" : row.simplified
            #expect(FrameNames.readable(full) == expected, "\(row.mangled)\n  full: \(full)")
        }
    }

    @Test("the classifier puts every specialised, merged or closure name with its owner")
    func classifierMatchesMangling() throws {
        for row in try FrameNamesTests.rows() {
            let full = Demangler.demangle(row.mangled)
            #expect(StackTrimming.classify(function: full, module: "NamesProbe") == row.owner, "\(full)")
            #expect(StackTrimming.classify(full + " + 0x10 (NamesProbe) at /tmp/main.swift:3") == row.owner, "\(full)")
        }
    }

    @Test("a release build's blocking stack: the runtime's specialised frames trimmed, the user's frame first")
    func releaseStackTrimming() {
        // The stack of `Runtime.sleep(for:)` in top-level code as the release build's report resolved it.
        let stack = [
            "function signature specialization <Arg[2] = Dead> of GoRuntime.Scheduler.(tracePark in _B264456411470FAE72662D176CFF26C1)(GoRuntime.Goroutine, GoRuntime.WaitReason) -> () + 0x2a (NamesProbe)",
            "function signature specialization <Arg[1] = Dead> of static GoRuntime.Runtime.sleep(for: Swift.Duration) -> () + 0x95 (NamesProbe)",
            "closure #1 () -> () in NamesProbe + 0x2f1 (NamesProbe) at /tmp/names-probe/Sources/NamesProbe/main.swift:41",
            "merged reabstraction thunk helper from @callee_guaranteed () -> () to @escaping @callee_guaranteed () -> (@out ()) + 0x14 (NamesProbe)",
            "gort_context_trampoline + 0x6 (NamesProbe)",
        ]
        #expect(StackTrimming.userFrames(stack) == Array(stack[1...2]))
        #expect(StackTrimming.userFrames(stack, keepRuntimeEntry: false) == [stack[2]])
        #expect(FrameNames.readableFrame(stack[2]) == "closure #1 in main + 0x2f1 (NamesProbe) at /tmp/names-probe/Sources/NamesProbe/main.swift:41")
        #expect(FrameNames.readableFunction(ofFrame: stack[1]) == "specialized static Runtime.sleep(for:)")
        #expect(StackTrimming.classify(stack[3]) == .glue)
    }

    @Test("a goroutine with runtime frames and none of the program's is the runtime's own")
    func runtimeOwnedGoroutines() {
        // The debug server's listener, as a `/debug/pprof/trace` download of a debug build resolved it.
        let listener = [
            "GoRuntime.Scheduler.switchToScheduler(GoRuntime.Goroutine, GoRuntime.Machine) -> () + 0xcb (TraceScenarios) at /work/main/Sources/GoRuntime/Scheduler.swift:1227",
            "GoRuntime.PollDescriptor.wait(GoRuntime.PollMode, Swift.String) throws(GoRuntime.NetError) -> () + 0x585 (TraceScenarios)",
            "GoRuntime.HTTPServer.acceptLoop() -> () + 0x6c (TraceScenarios) at /work/main/Sources/GoRuntime/HTTP.swift:405",
            "closure #1 () -> () in GoRuntime.HTTPServer.init(host: Swift.String, port: Swift.Int, handler: (GoRuntime.HTTPRequest) -> GoRuntime.HTTPResponse) throws -> GoRuntime.HTTPServer + 0x1b (TraceScenarios)",
            "gort_context_trampoline + 0x6 (TraceScenarios)",
        ]
        #expect(StackTrimming.isRuntimeOwned(stacks: [listener]))
        #expect(StackTrimming.isRuntimeOwned(stacks: [listener, []]))
        // A program's goroutine parked in the runtime: its own frame makes it the program's.
        let receiver = [listener[0], "leakedReceiverWaitsForever(GoRuntime.Channel<Swift.Int>) -> () + 0x22 (Fixture)", listener[4]]
        #expect(!StackTrimming.isRuntimeOwned(stacks: [receiver]))
        // Blocked in the runtime's HTTP code, but created by the program (a server it started): the program's.
        #expect(!StackTrimming.isRuntimeOwned(stacks: [listener, ["closure #1 () -> () in main + 0x10 (Service)"]]))
        // Nothing known, or nothing symbolized: no evidence that it is the runtime's.
        #expect(!StackTrimming.isRuntimeOwned(stacks: []))
        #expect(!StackTrimming.isRuntimeOwned(stacks: [["TraceScenarios+0x1234", "gort_context_trampoline + 0x6 (TraceScenarios)"]]))
        #expect(!StackTrimming.isRuntimeOwned(stacks: [["__libc_start_call_main + 0x80 (libc.so.6)"]]))
    }

    @Test("text that is not a demangled Swift name is left as it is")
    func unknownTextUnchanged() {
        for text in ["gort_context_trampoline", "__libc_start_call_main", "main", "TraceScenarios+0x1234", "0x7f0012345678",
                     // Go's names (Go execution traces), as Go's tools print them: package included.
                     "sync.(*Mutex).Lock", "main.pingPong", "runtime.chansend1", "main.leakRecv.func1",
                     "net/http.(*conn).serve"] {
            #expect(FrameNames.readable(text) == text)
        }
    }
}
