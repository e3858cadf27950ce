// The debug server end to end (DebugServer.swift): DebugServerFixture runs with GOTRACE_DEBUG_ADDR and the
// tests look at it the way people and fleet profilers do — `go tool pprof -top URL` (Go 1.27, located by
// GotraceTestSupport.GoToolchain), Go's text dumps, a downloaded trace through `gotrace report`, SIGQUIT.
// The known answers come from the fixture's source: the functions it blocks and burns CPU in, and how many
// goroutines it leaves in each.
import Foundation
import CGoRuntime
import GotraceTestSupport
import Testing
@testable import GoRuntime

/// The fixture, running with its debug server; killed when the test is done with it.
final class DiagnosedProgram {
    let launched: LaunchedProcess
    let baseURL: String
    let errorPath: String

    /// `ignoringSIGQUIT`: started as a non-interactive shell starts `cmd &`, with SIGQUIT ignored (`trap ''
    /// QUIT`, then `exec`, which keeps an ignored disposition).
    init(environment: [String: String] = [:], ignoringSIGQUIT: Bool = false) throws {
        let executable = try #require(builtExecutable("DebugServerFixture"), "DebugServerFixture is not built")
        errorPath = NSTemporaryDirectory() + "debug-fixture-\(UUID().uuidString).stderr"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        let (program, arguments) = ignoringSIGQUIT
            ? ("/bin/sh", ["-c", "trap '' QUIT; exec \"$0\"", executable]) : (executable, [])
        launched = try launchUntilFirstLine(program, arguments, environment: ["GOTRACE_DEBUG_ADDR": "127.0.0.1:0"]
                                                .merging(environment) { $1 }, standardError: errorHandle)
        // The server announces itself on stderr before the main goroutine starts, so before `ready`.
        let errorText = try String(contentsOfFile: errorPath, encoding: .utf8)
        let line = try #require(errorText.split(separator: "\n").first { $0.hasPrefix("gotrace: debug server on http://") },
                                "no announcement on stderr: \(errorText)")
        baseURL = String(line.dropFirst("gotrace: debug server on ".count))
        #expect(baseURL.hasPrefix("http://127.0.0.1:") && baseURL.hasSuffix("/debug/pprof/"))
    }

    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    func kill() {
        if launched.process.isRunning { Foundation.kill(launched.process.processIdentifier, SIGKILL) }
        launched.process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: errorPath)
    }

    deinit { kill() }
}

/// `go` (1.27) or a recorded failure.
func requireGo() throws -> String {
    let root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
    return try #require(GoToolchain.locate(repositoryRoot: root),
                        "Go 1.27 not found: scripts/setup.sh installs it into .toolchains/ (or set GOTRACE_GO)")
}

/// `go tool pprof -top` on a URL or file; its output, or a recorded failure with its stderr.
func pprofTop(_ source: String, _ extra: [String] = []) throws -> String {
    let go = try requireGo()
    let outcome = try runProcess(go, ["tool", "pprof", "-top"] + extra + [source], environment: GoToolchain.environment)
    #expect(outcome.status == 0, "go tool pprof failed: \(outcome.error)")
    return outcome.output
}

/// The path of the fixture's source and the line number of the first line in it that contains `text`: the
/// known answer for the file:line a dump or a profile gives for a frame of the fixture.
func fixtureSourceLine(containing text: String) throws -> (path: String, line: Int) {
    let root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
    let path = root + "/Tests/Fixtures/DebugServerFixture/main.swift"
    let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
    let index = try #require(lines.firstIndex { $0.contains(text) }, "no line with \(text) in \(path)")
    return (path, index + 1)
}

/// A GET from outside any run (the test process's own runtime does the I/O).
func fetch(_ url: String) throws -> HTTPResponse {
    try Runtime.run { try HTTP.get(url, timeout: .seconds(120)) }
}

@Suite(.serialized) struct DebugServerTests {
    @Test func goroutineProfileNamesTheBlockedGoroutines() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let top = try pprofTop(program.baseURL + "goroutine")
        #expect(top.contains("leakedReceiverWaitsForever"), "\(top)")
        #expect(top.contains("contendOnMutex"), "\(top)")
        // Three goroutines wait in it: its cumulative count.
        let line = try #require(top.split(separator: "\n").first { $0.contains("leakedReceiverWaitsForever") })
        #expect(line.split(separator: " ", omittingEmptySubsequences: true).contains { $0 == "3" }, "\(line)")
        // Names, files and lines are in the profile itself: pprof told not to symbolize still shows the line
        // the receivers wait on.
        let receive = try fixtureSourceLine(containing: "_ = channel.receive()")
        let lines = try pprofTop(program.baseURL + "goroutine", ["-lines", "-symbolize=none"])
        #expect(lines.contains("leakedReceiverWaitsForever \(receive.path):\(receive.line)"), "\(lines)")
    }

    @Test func debug2ListsTheBlockedGoroutinesAsGoPrintsThem() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let response = try fetch(program.baseURL + "goroutine?debug=2")
        #expect(response.statusCode == 200)
        #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
        let blocks = response.text.components(separatedBy: "\n\n")
        // Goroutine 1 is the program's main goroutine, as in Go, even with the debug server started first thing.
        let first = try #require(blocks.first { $0.hasPrefix("goroutine 1 [") }, "\(response.text)")
        #expect(first.contains("in DebugServerFixture"), "goroutine 1 is not main: \(first)")
        let leaked = blocks.filter { $0.contains("leakedReceiverWaitsForever") }
        #expect(leaked.count == 3, "\(response.text)")
        for block in leaked {
            let header = String(block.split(separator: "\n")[0])
            // `goroutine 7 [chan receive]:` — Go's header (the wait is under a minute, so no duration).
            #expect(header.wholeMatch(of: /goroutine \d+ \[chan receive\]:/) != nil, "\(header)")
            #expect(block.contains("\ncreated by "), "\(block)")
            // Go's frame lines: the function, then `\tfile:line +0xoffset`.
            let receive = try fixtureSourceLine(containing: "_ = channel.receive()")
            #expect(block.contains("leakedReceiverWaitsForever(GoRuntime.Channel<Swift.Int>) -> ()\n\t\(receive.path):\(receive.line) +0x"),
                    "\(block)")
            let spawn = try fixtureSourceLine(containing: "go { leakedReceiverWaitsForever(never) }")
            let createdBy = try #require(block.components(separatedBy: "\ncreated by ").last)
            #expect(createdBy.contains("\n\t\(spawn.path):\(spawn.line) +0x"), "created by: \(block)")
        }
    }

    @Test func debug1GroupsStacksWithCounts() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let text = try fetch(program.baseURL + "goroutine?debug=1").text
        #expect(text.hasPrefix("goroutine profile: total "), "\(text)")
        // The header line, then groups separated by blank lines.
        let groups = text.drop { $0 != "\n" }.dropFirst().components(separatedBy: "\n\n")
        let group = try #require(groups.first { $0.contains("leakedReceiverWaitsForever") })
        #expect(group.hasPrefix("3 @ 0x"), "\(group)")
    }

    @Test func cpuProfileNamesTheHotFunction() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let profile = NSTemporaryDirectory() + "cpu-\(UUID().uuidString).pb.gz"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try Data(try fetch(program.baseURL + "profile?seconds=2").body).write(to: URL(fileURLWithPath: profile))
        let top = try pprofTop(profile)
        #expect(top.contains("burnCPUInKnownFunction"), "\(top)")
        #expect(top.contains("Type: cpu"), "\(top)")
        // Its samples carry lines of the hot function's body, without pprof symbolizing anything.
        let first = try fixtureSourceLine(containing: "func burnCPUInKnownFunction()")
        let last = try fixtureSourceLine(containing: "Runtime.yield()")
        let lines = try pprofTop(profile, ["-lines", "-symbolize=none"])
        let sampled = lines.matches(of: /burnCPUInKnownFunction (\S+):(\d+)/).map { (String($0.1), Int($0.2)!) }
        #expect(!sampled.isEmpty, "\(lines)")
        #expect(sampled.allSatisfy { $0.0 == first.path && (first.line...last.line).contains($0.1) }, "\(sampled)")
    }

    @Test func downloadedTraceReportsTheLeak() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let response = try fetch(program.baseURL + "trace?seconds=1")
        #expect(response.statusCode == 200)
        let path = NSTemporaryDirectory() + "debug-\(UUID().uuidString).gtrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(response.body).write(to: URL(fileURLWithPath: path))
        let gotrace = try #require(builtExecutable("gotrace"))
        let report = try runProcess(gotrace, ["report", path, "--analyzer", "leak", "--no-progress"])
        #expect(report.status == 0, "\(report.error)")
        // The three receivers predate the trace: they are in its start snapshot, and still blocked at its end.
        #expect(report.output.contains("leaked goroutine"), "\(report.output)")
        #expect(report.output.contains("leakedReceiverWaitsForever"), "\(report.output)")
        // The debug server's own listener is blocked too, but it is no leak of the program's: every group
        // reported starts at one of the fixture's functions, and the listener is counted apart.
        let json = try runProcess(gotrace, ["report", path, "--analyzer", "leak", "--analyzer", "summary", "--format", "json",
                                            "--no-progress"])
        #expect(json.status == 0, "\(json.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let leak = try #require(document["leak"] as? [String: Any])
        let groups = try #require(leak["groups"] as? [[String: Any]])
        let fixtureFunctions = ["leakedReceiverWaitsForever", "contendOnMutex"]
        for group in groups {
            let first = (group["blockedAt"] as? [String])?.first ?? ""
            #expect(fixtureFunctions.contains { first.hasPrefix($0) }, "a leak that is not the fixture's: \(group)")
        }
        #expect(groups.contains { ($0["count"] as? Int) == 3 && (($0["blockedAt"] as? [String])?.first ?? "").hasPrefix(fixtureFunctions[0]) },
                "\(groups)")
        #expect((leak["runtimeGoroutines"] as? Int ?? 0) >= 1, "the debug server's listener: \(leak)")
        // No blocking site is the runtime's: each names the fixture's code (its functions, or its main closure's sleep).
        let summary = try #require(document["summary"] as? [String: Any])
        for site in try #require(summary["topBlocking"] as? [[String: Any]]) {
            let name = site["site"] as? String ?? ""
            #expect(fixtureFunctions.contains { name.contains($0) } || name.hasPrefix("closure #1 in main"), "\(site)")
        }
    }

    /// `gotrace top --url`: frames from the server's traces name where the fixture's goroutines wait and burn CPU.
    @Test func gotraceTopWatchesThroughTheDebugServer() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let gotrace = try #require(builtExecutable("gotrace"))
        let base = String(program.baseURL.dropLast("/debug/pprof/".count))
        let top = try runProcess(gotrace, ["top", "--url", base, "--iterations", "2", "--interval", "1s"])
        #expect(top.status == 0, "\(top.error)")
        #expect(top.output.contains("frame 2 of 2"), "\(top.output)")
        let site = try #require(top.output.split(separator: "\n").last { $0.contains("leakedReceiverWaitsForever(_:) [chan-receive]") },
                                "\(top.output)")
        #expect(site.split(separator: " ").dropLast(2).last == "3", "three receivers wait there: \(site)")
        // Every site is the fixture's: the debug server's own listener and handler wait too, but are no site.
        let lastFrame = try #require(top.output.components(separatedBy: "frame 2 of 2").last)
        let blocking = try #require(lastFrame.components(separatedBy: "TOP BLOCKING SITES").last?
            .components(separatedBy: "TOP CPU FUNCTIONS").first)
        for line in blocking.split(separator: "\n").dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let name = line.trimmingCharacters(in: .whitespaces)
            #expect(["leakedReceiverWaitsForever", "contendOnMutex", "closure #1 in main"].contains { name.hasPrefix($0) },
                    "a site that is not the fixture's: \(line)")
        }
        let cpu = try #require(top.output.components(separatedBy: "TOP CPU FUNCTIONS").last)
        #expect(cpu.contains("burnCPUInKnownFunction()"), "\(cpu)")
    }

    @Test func mutexAndBlockProfilesNameTheContendedLock() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        let mutex = try pprofTop(program.baseURL + "mutex")
        #expect(mutex.contains("contendOnMutex"), "\(mutex)")
        let block = try pprofTop(program.baseURL + "block")
        #expect(block.contains("contendOnMutex"), "\(block)")
    }

    @Test func sigquitPrintsEveryGoroutineAndExits2() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        kill(program.launched.process.processIdentifier, SIGQUIT)
        #expect(program.launched.waitForShellStatus() == 2)
        let text = program.errorOutput
        #expect(text.contains("SIGQUIT: quit"), "\(text)")
        #expect(text.matches(of: /goroutine \d+ \[chan receive\]:\n/).count == 3, "\(text)")
        #expect(text.contains("leakedReceiverWaitsForever"), "\(text)")
    }

    /// GOTRACEBACK's other levels, as Go's SIGQUIT handler treats them: `single` (the default) and `all` print
    /// every goroutine and exit 2; `crash` prints them and then dies by SIGABRT (for a core dump).
    @Test(arguments: [("single", 2), ("all", 2), ("2", 2), ("crash", 128 + SIGABRT)])
    func gotracebackLevels(level: String, status: Int32) throws {
        let program = try DiagnosedProgram(environment: ["GOTRACEBACK": level])
        defer { program.kill() }
        kill(program.launched.process.processIdentifier, SIGQUIT)
        #expect(program.launched.waitForShellStatus() == status, "GOTRACEBACK=\(level)")
        let text = program.errorOutput
        #expect(text.contains("SIGQUIT: quit"), "\(text)")
        #expect(text.matches(of: /goroutine \d+ \[chan receive\]:\n/).count == 3, "GOTRACEBACK=\(level): \(text)")
        #expect(text.contains("leakedReceiverWaitsForever"), "\(text)")
    }

    /// A program started with SIGQUIT ignored (a script's `service &`) still dumps, as a Go program does.
    @Test func sigquitDumpsEvenWhenStartedIgnored() throws {
        let program = try DiagnosedProgram(ignoringSIGQUIT: true)
        defer { program.kill() }
        kill(program.launched.process.processIdentifier, SIGQUIT)
        #expect(program.launched.waitForShellStatus(within: 60) == 2, "nil: still running a minute after SIGQUIT")
        #expect(program.errorOutput.contains("leakedReceiverWaitsForever"), "\(program.errorOutput)")
    }

    @Test func gotracebackNonePrintsNoStacks() throws {
        let program = try DiagnosedProgram(environment: ["GOTRACEBACK": "none"])
        defer { program.kill() }
        kill(program.launched.process.processIdentifier, SIGQUIT)
        #expect(program.launched.waitForShellStatus() == 2)
        #expect(program.errorOutput.contains("SIGQUIT: quit"))
        #expect(!program.errorOutput.contains("goroutine "), "\(program.errorOutput)")
    }

    @Test func badRequestsGet400AndASecondProfileGets429() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        for bad in ["goroutine?debug=x", "goroutine?debug=%zz", "profile?seconds=0", "profile?seconds=100000",
                    "trace?seconds=-1", "profile?seconds=1.5"] {
            #expect(try fetch(program.baseURL + bad).statusCode == 400, "\(bad)")
        }
        #expect(try fetch(program.baseURL + "heap").statusCode == 404)
        let baseURL = program.baseURL
        try Runtime.run {
            let first = Channel<Int>(capacity: 1)
            go { first.send((try? HTTP.get(baseURL + "profile?seconds=2", timeout: .seconds(60)).statusCode) ?? -1) }
            Runtime.sleep(for: .milliseconds(500))
            let second = try HTTP.get(baseURL + "profile?seconds=1", timeout: .seconds(60))
            #expect(second.statusCode == 429)
            #expect(second.text.contains("cpu profiling already in use"))
            #expect(first.receive() == 200)
        }
        // A client that goes away mid-profile does not keep the next one out.
        try Runtime.run {
            let connection = try TCPConnection.connect(host: "127.0.0.1", port: Int(baseURL.split(separator: ":")[2]
                .prefix { $0.isNumber })!)
            try connection.write("GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.close()
        }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try fetch(program.baseURL + "profile?seconds=1").statusCode == 200)
        #expect(try fetch(program.baseURL + "cmdline").text.hasSuffix("DebugServerFixture"))
        let index = try fetch(program.baseURL)
        #expect(index.headers["content-type"] == "text/html; charset=utf-8")
        #expect(index.text.contains("goroutine?debug=1"))
    }

    /// What Pyroscope and Parca do (docs/profiles.md): GET each profile path of their `pprof` job — the CPU
    /// profile with `seconds=` — and read the body as a gzipped protobuf.
    @Test func scraperFetchesEveryProfile() throws {
        let program = try DiagnosedProgram()
        defer { program.kill() }
        for (path, type) in [("profile?seconds=1", "cpu"), ("goroutine", "goroutine"), ("mutex", "delay"),
                             ("block", "delay")] {
            let response = try fetch(program.baseURL + path)
            #expect(response.statusCode == 200, "\(path)")
            #expect(response.headers["content-type"] == "application/octet-stream", "\(path)")
            #expect(Array(response.body.prefix(2)) == [0x1f, 0x8b], "\(path) is not gzip")
            let file = NSTemporaryDirectory() + "scrape-\(UUID().uuidString).pb.gz"
            defer { try? FileManager.default.removeItem(atPath: file) }
            try Data(response.body).write(to: URL(fileURLWithPath: file))
            let top = try pprofTop(file)
            #expect(top.contains("Type: \(type)"), "\(path): \(top)")
        }
    }
}

@Suite struct DebugRequestTargetTests {
    @Test func splitsAndDecodesTheQuery() throws {
        let target = try DebugRequestTarget(parsing: "/debug/pprof/goroutine?debug=2&x=a%20b+c&debug=1")
        #expect(target.path == "/debug/pprof/goroutine")
        #expect(target.query == ["debug": "2", "x": "a b c"])
    }

    /// The fuzz target's second finding (its corpus keeps it): a combining mark right after a "/" merges with it
    /// into one Character, so the endpoints compare paths as bytes, as Go does.
    @Test func comparesPathsAsBytes() throws {
        let target = try DebugRequestTarget(parsing: "/%E1%9C%93?%41=%42")
        #expect(Array(target.path.utf8) == [0x2f, 0xe1, 0x9c, 0x93])
        #expect(target.query == ["A": "B"])
        let request = HTTPRequest(method: "GET", path: "/debug/pprof/%CC%81cmdline", headers: [:], body: [])
        let response = DebugEndpoints.respond(to: request)
        #expect(response.statusCode == 404)
        #expect(response.text == "Unknown profile\n", "the prefix matched; the name after it is unknown")
    }

    @Test func rejectsMalformedTargets() {
        for bad in ["", "debug", "/a?b=%", "/a?b=%4", "/a?b=%zz", "/%g0", String(repeating: "/a", count: 5_000)] {
            #expect(throws: HTTPError.self, "\(bad)") { try DebugRequestTarget(parsing: bad) }
        }
    }

    /// The stream the request parser's fuzz target found first (its corpus keeps it): a request target with
    /// bytes that are not UTF-8 and NULs. It is one request, its target decoded with U+FFFD for each bad byte.
    @Test func readsARequestTargetThatIsNotUTF8() throws {
        final class Bytes: HTTPByteSource {
            var bytes: [UInt8]
            init(_ bytes: [UInt8]) { self.bytes = bytes }
            func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
                let count = min(buffer.count, bytes.count, 18)  // the fuzz input's first byte, 0x11: 0x11 % 64 + 1 per read
                buffer.copyBytes(from: bytes.prefix(count))
                bytes.removeFirst(count)
                return count
            }
        }
        // The input, less its first byte (which sets the read size).
        let input = try #require(Data(base64Encoded: "EUdFVCD/////////////////////////////////////L2RlYnVnL3Bwcm9mL2NtZGxpbmUA"
                                      + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAIEhUVFAvMS4xDQpYLUE6IExlbmd0aDogMA0KDQo="))
        let reader = HTTPRequestReader(Bytes(Array(input.dropFirst())))
        let request = try #require(try reader.next())
        #expect(request.method == "GET")
        #expect(request.path == String(repeating: "\u{FFFD}", count: 28) + "/debug/pprof/cmdline"
                    + String(repeating: "\u{0}", count: 22))
        #expect(request.headers == ["x-a": "Length: 0"])
        #expect(request.body.isEmpty)
        #expect(try reader.next() == nil)
        // A target that does not start with "/": the endpoints answer 400.
        #expect(DebugEndpoints.respond(to: request).statusCode == 400)
    }

    @Test func parsesAddresses() throws {
        #expect(try DebugServer.parseAddress("127.0.0.1:0") == ("127.0.0.1", 0))
        #expect(try DebugServer.parseAddress("[::1]:6060") == ("::1", 6060))
        for bad in ["6060", ":6060", "localhost:", "a:70000", "[::1]6060"] {
            #expect(throws: HTTPError.self, "\(bad)") { try DebugServer.parseAddress(bad) }
        }
    }
}

@Suite struct GoroutineProfileTests {
    @Test func seesAParkedGoroutineWithItsStateAndStack() {
        Runtime.run {
            let never = Channel<Int>()
            let done = Channel<Int>()
            go { parkForProfileTest(never, done) }
            Runtime.sleep(for: .milliseconds(50))
            let records = Runtime.goroutineProfile()
            let parked = records.filter { record in
                record.stack.contains { RuntimeSymbols.frame($0 &- 1).function.contains("parkForProfileTest") }
            }
            #expect(parked.count == 1)
            #expect(parked.first?.state == "chan receive")
            #expect(parked.first?.waitReason == .chanReceive)
            #expect(records.contains { $0.id == Runtime.currentGoroutineID && $0.state == "running" })
            let dump = Runtime.stackDump(all: true)
            #expect(dump.contains("[chan receive]:\n"), "\(dump)")
            #expect(Runtime.stackDump(all: false).hasPrefix("goroutine \(Runtime.currentGoroutineID) [running]:\n"))
            never.close()
            _ = done.receive()
        }
    }

    /// The wait time is the stack shrinker's first sighting of the park (no clock read on the park path): it
    /// appears once the shrinker has seen the goroutine parked and never exceeds the time since the park.
    @Test func waitTimeComesFromTheShrinkersStamp() {
        Runtime.run {
            let never = Channel<Int>()
            let done = Channel<Int>()
            let beforePark = gort_nanotime_coarse()
            go { parkForProfileTest(never, done) }
            var waited: Int64 = 0
            for _ in 0..<2_000 where waited == 0 {
                Runtime.sleep(for: .milliseconds(10))
                waited = Runtime.goroutineProfile().first { record in
                    record.stack.contains { RuntimeSymbols.frame($0 &- 1).function.contains("parkForProfileTest") }
                }?.waitNanoseconds ?? 0
            }
            #expect(waited > 0, "the shrinker never stamped the parked goroutine")
            #expect(waited <= gort_nanotime_coarse() - beforePark)
            never.close()
            _ = done.receive()
        }
    }

    @Test func waitTimesShowFromAMinuteAsGoPrintsThem() {
        func header(_ nanoseconds: Int64) -> String {
            StackDumpFormat.header(GoroutineStackRecord(id: 7, state: "chan receive", waitReason: .chanReceive,
                                                        waitNanoseconds: nanoseconds, stack: [], creatorPC: 0, parentID: 1))
        }
        #expect(header(59_000_000_000) == "goroutine 7 [chan receive]:\n")
        #expect(header(60_000_000_000) == "goroutine 7 [chan receive, 1 minute]:\n")
        #expect(header(185_000_000_000) == "goroutine 7 [chan receive, 3 minutes]:\n")
    }
}

/// Parks `depth` frames down (the stack dump keeps 64 of them).
@inline(never)
func parkDeep(_ depth: Int, _ channel: Channel<Int>) {
    if depth > 0 {
        parkDeep(depth - 1, channel)
    } else {
        _ = channel.receive()
    }
}

@inline(never)
func parkForProfileTest(_ never: Channel<Int>, _ done: Channel<Int>) {
    _ = never.receive()
    done.send(1)
}

/// Safety: a slow or vanished client costs its own connection's goroutine and nothing else. The server runs in
/// this process, so the test can see where its goroutines wait (`Runtime.goroutineProfile`) and count what the
/// program's other goroutines get done meanwhile.
@Suite(.serialized) struct DebugServerClientTests {
    /// Goroutines whose stack has a frame naming `function`, as the goroutine profile sees them.
    static func goroutines(in function: String) -> Int {
        Runtime.goroutineProfile().filter { record in
            record.stack.contains { RuntimeSymbols.frame($0 &- 1).function.contains(function) }
        }.count
    }

    /// Polls `condition` (a bounded number of times, 10 ms apart): for waiting until a goroutine has reached
    /// the wait a test is about, never a timing expectation.
    static func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<2_000 {
            if condition() { return true }
            Runtime.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func stalledAndVanishedClientsStallNeitherTheProgramNorOtherClients() throws {
        try Runtime.run(maxProcs: 2) {
            let server = try DebugServer.start(address: "127.0.0.1:0")
            defer { server.close() }
            let base = "http://127.0.0.1:\(server.port)/debug/pprof/"
            // Enough deep parked goroutines that `debug=2` is over 10 MB (64 frames of ~180 bytes each), well
            // past what the two sockets' buffers hold here (4 MiB send, 128 KiB receive while nothing reads),
            // so the server's write of it must wait for a reader that never comes. Few goroutines, deep: a
            // ThreadSanitizer build keeps ~0.5 MB per live goroutine.
            let never = Channel<Int>()
            for _ in 0..<1_000 { go { parkDeep(70, never) } }
            defer { never.close() }

            // 1. Half a request, then silence: its connection's goroutine waits in a read.
            let readsBefore = Self.goroutines(in: "HTTPRequestReader.next")
            let stalled = try TCPConnection.connect(host: "127.0.0.1", port: server.port)
            defer { stalled.close() }
            try stalled.write("GET /debug/pprof/goroutine?debug=2 HTTP/1.1\r\nHo")
            #expect(Self.eventually { Self.goroutines(in: "HTTPRequestReader.next") == readsBefore + 1 })

            // 2. A whole request whose large response is never read: the server's goroutine waits in its write.
            let unread = try TCPConnection.connect(host: "127.0.0.1", port: server.port)
            defer { unread.close() }
            try unread.write("GET /debug/pprof/goroutine?debug=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(Self.eventually { Self.goroutines(in: "TCPConnection.write") == 1 },
                    "the server never blocked writing the unread response")

            // 3. A client that leaves mid-profile.
            let leaving = try TCPConnection.connect(host: "127.0.0.1", port: server.port)
            try leaving.write("GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            leaving.close()

            // With all three outstanding, the program's other goroutines run: 10,000 channel round trips and 50
            // timer sleeps complete (the counts are the known answer).
            let ping = Channel<Int>()
            let pong = Channel<Int>()
            go { while let value = ping.receive() { pong.send(value + 1) } }
            var roundTrips = 0
            for index in 0..<10_000 {
                ping.send(index)
                if pong.receive() == index + 1 { roundTrips += 1 }
            }
            ping.close()
            #expect(roundTrips == 10_000)
            let sleeps = Channel<Int>(capacity: 1)
            go {
                var count = 0
                for _ in 0..<50 {
                    Runtime.sleep(for: .milliseconds(1))
                    count += 1
                }
                sleeps.send(count)
            }
            #expect(sleeps.receive() == 50)

            // And the server answers others: an instant endpoint at once, and a CPU profile once the vanished
            // client's has run out (a 429 until then, never a stall).
            let goroutineText = try HTTP.get(base + "goroutine?debug=1", timeout: .seconds(60))
            #expect(goroutineText.statusCode == 200)
            #expect(goroutineText.text.contains("goroutine profile: total "))
            var statuses: [Int] = []
            #expect(Self.eventually {
                let status = (try? HTTP.get(base + "profile?seconds=1", timeout: .seconds(60)).statusCode) ?? -1
                statuses.append(status)
                return status != 429
            })
            #expect(statuses.last == 200, "\(statuses)")
            // The stalled ones are still where they were: nothing answered or dropped them meanwhile.
            #expect(Self.goroutines(in: "TCPConnection.write") == 1)
            #expect(Self.goroutines(in: "HTTPRequestReader.next") >= readsBefore + 1)
        }
    }

    @Test func malformedRequestsGet400AndTheServerGoesOn() throws {
        try Runtime.run(maxProcs: 2) {
            let server = try DebugServer.start(address: "127.0.0.1:0")
            defer { server.close() }
            for request in ["GET /debug/pprof/ HTTP/1.1\r\nno colon\r\n\r\n", "\u{0}\u{1}\r\n\r\n",
                            "GET /debug/pprof/goroutine?debug=%g HTTP/1.1\r\n\r\n",
                            "GET debug/pprof/ HTTP/1.1\r\n\r\n"] {
                let connection = try TCPConnection.connect(host: "127.0.0.1", port: server.port)
                defer { connection.close() }
                connection.setDeadline(.now + .seconds(60))
                try connection.write(request)
                let reply = String(decoding: try connection.read(maxLength: 4096), as: UTF8.self)
                #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(request.debugDescription): \(reply)")
            }
            #expect(try HTTP.get("http://127.0.0.1:\(server.port)/debug/pprof/cmdline", timeout: .seconds(60)).statusCode == 200)
        }
    }
}
