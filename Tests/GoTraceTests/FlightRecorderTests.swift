import Foundation
import GoTrace
import GotraceTestSupport
import Testing

/// The flight recorder (issue #19; GoTraceFormat's FlightWindow.swift and GenerationChunk.swift have the design):
/// `gotrace record --flight-recorder` keeps the last moments of a run, and every window it writes stands alone —
/// `stat --check` reconciles it, and the leak report gives goroutines blocked since before the window their
/// real blocked time.
///
/// `TraceScenarios flight S` runs the soak's work for S seconds with ten goroutines blocked in
/// `flightStuckReceiver` from its start, and says `ready pid=N` after S/2 seconds.
@Suite
struct FlightRecorderTests {
    let gotrace = BuiltProduct.path("gotrace")
    let scenarios = BuiltProduct.path("TraceScenarios")

    @Test func aSixSecondRunKeepsAWindowOfAboutTwoSeconds() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(gotrace, ["record", "--flight-recorder", "2s", "-o", trace, "--", scenarios, "flight", "6"])
        #expect(outcome.shellStatus == 0, "\(outcome.error)")
        #expect(outcome.error.contains("flight recorder: window of"), "\(outcome.error)")

        let stats = try statistics(trace)
        let duration = try #require(stats["durationNanoseconds"] as? Int)
        #expect(duration >= 2_000_000_000, "window of \(duration) ns")
        try expectNoOlderGenerationThanNeeded(trace, windowNanoseconds: 2_000_000_000, ending: .asReceived)
        #expect(stats["complete"] as? Bool == true)
        try expectReconciles(trace)
        // Blocked since the program's start, six seconds before its end: the real time, not the window's.
        let stuck = try stuckGroup(trace)
        #expect(stuck.count == 10)
        #expect(stuck.blockedNanoseconds >= 5_000_000_000, "blocked for \(stuck.blockedNanoseconds) ns")
    }

    @Test func sigusr1WritesANumberedWindowWhileTheProgramGoesOn() throws {
        let trace = temporaryTracePath()
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: trace + ".1")
        }
        let outcome = try recordUntilReady(trace: trace) { recorder, _ in kill(recorder, SIGUSR1) }
        // The program was not disturbed: it finished its work and exited normally.
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardError.contains("flight recording written to \(trace).1: window of"), "\(outcome.standardError)")
        for path in [trace + ".1", trace] {
            let stats = try statistics(path)
            #expect(stats["complete"] as? Bool == true, "\(path)")
            try expectReconciles(path)
            #expect(try stuckGroup(path).count == 10, "\(path)")
        }
        try expectNoOlderGenerationThanNeeded(trace + ".1", windowNanoseconds: 2_000_000_000, ending: .atLastCut)
        try expectNoOlderGenerationThanNeeded(trace, windowNanoseconds: 2_000_000_000, ending: .asReceived)
        // The numbered window ends before the program did: it was written while the program ran.
        let numbered = try #require(TraceReader(path: trace + ".1").endChunk)
        let final = try #require(TraceReader(path: trace).endChunk)
        #expect(numbered.endWallTimeNanoseconds < final.endWallTimeNanoseconds)
    }

    @Test func aKilledProgramsWindowIsStillWritten() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try recordUntilReady(trace: trace, seconds: 8) { _, program in kill(program, SIGKILL) }
        #expect(outcome.status == 128 + SIGKILL, "\(outcome.standardError)")
        let stats = try statistics(trace)
        #expect(stats["complete"] as? Bool == false)
        let duration = try #require(stats["durationNanoseconds"] as? Int)
        #expect(duration >= 1_000_000_000, "window of \(duration) ns")
        try expectNoOlderGenerationThanNeeded(trace, windowNanoseconds: 2_000_000_000, ending: .asReceived)
        // Blocked since the start, 4 s before the kill: longer than any window the recorder keeps.
        #expect(try stuckGroup(trace).blockedNanoseconds >= 3_500_000_000)
    }

    @Test func theProgramItselfWritesItsWindow() throws {
        let trace = temporaryTracePath()
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let outcome = try runProcess(scenarios, ["flightinside", trace])
        #expect(outcome.shellStatus == 0, "\(outcome.output)\(outcome.error)")
        let stats = try statistics(trace)
        let duration = try #require(stats["durationNanoseconds"] as? Int)
        // A 1 s window, cut every 250 ms, written 2.5 s into the run (up to a cut made then).
        #expect(duration >= 1_000_000_000, "window of \(duration) ns")
        try expectNoOlderGenerationThanNeeded(trace, windowNanoseconds: 1_000_000_000, ending: .atLastCut)
        try expectReconciles(trace)
        let stuck = try stuckGroup(trace)
        #expect(stuck.count == 10)
        #expect(stuck.blockedNanoseconds >= 2_000_000_000, "blocked for \(stuck.blockedNanoseconds) ns")
    }

    @Test(arguments: ["2", "2x", "-1s", "", "1.5"])
    func aBadDurationIsAUsageError(_ text: String) throws {
        let outcome = try runProcess(gotrace, ["record", "--flight-recorder", text, "--", scenarios, "exit", "0"])
        #expect(outcome.shellStatus == 64, "\(outcome.error)")
        #expect(outcome.error.contains("--flight-recorder"), "\(outcome.error)")
    }

    // MARK: - helpers

    private func statistics(_ path: String) throws -> [String: Any] {
        let json = try run(gotrace, ["stat", "--format", "json", path])
        #expect(json.status == 0, "\(json.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
    }

    private func expectReconciles(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let check = try run(gotrace, ["stat", "--check", path])
        #expect(check.status == 0, "\(path): \(check.standardOutput)\(check.standardError)", sourceLocation: sourceLocation)
    }

    /// FlightWindow's rules 2 and 4 on a written window: its first generation is there only because the next one
    /// begins less than `windowNanoseconds` before the window's end — the last cut (`.atLastCut`) or the last
    /// event (`.asReceived`). Read from the file's own generation markers, in ticks. A fixed bound on the
    /// duration (the window plus one or two cut intervals) holds only while cuts come on time; on an overloaded
    /// machine one can come a second late (its world stop waits up to `Tracer.worldStopBound` for an M the
    /// kernel does not run), and the window then rightly reaches further back.
    private func expectNoOlderGenerationThanNeeded(_ path: String, windowNanoseconds: UInt64, ending: FlightWindow.Ending,
                                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard case .success(let (file, fileHeaderSize)) = FileHeader.decode(bytes[...]) else {
            Issue.record("\(path): no file header", sourceLocation: sourceLocation)
            return
        }
        var starts: [UInt64] = [file.startTicks]  // the window starts at its first generation's cut (rule 3)
        var lastEventTicks = file.startTicks
        var offset = fileHeaderSize
        while offset < bytes.count {
            guard case .success(let (chunk, headerSize)) = ChunkHeader.decode(bytes[offset...]) else {
                Issue.record("\(path): bad chunk at offset \(offset)", sourceLocation: sourceLocation)
                return
            }
            let payload = bytes[(offset + headerSize)..<(offset + headerSize + Int(chunk.storedPayloadSize))]
            if chunk.type == .events { lastEventTicks = max(lastEventTicks, chunk.endTicks) }
            if chunk.type == .generation, let marker = GenerationChunk.decode(payload), marker.phase == .begin,
               marker.ticks > file.startTicks
            {
                starts.append(marker.ticks)
            }
            offset += headerSize + Int(chunk.storedPayloadSize)
        }
        let end = ending == .atLastCut ? starts.removeLast() : lastEventTicks
        let windowTicks = file.ticks(fromNanoseconds: windowNanoseconds)
        let relative = starts.map { $0 - file.startTicks }
        try #require(starts.count >= 2, "generations begin at ticks \(relative)", sourceLocation: sourceLocation)
        let ends = end - file.startTicks
        #expect(starts[1] + windowTicks > end,
                "generations begin at ticks \(relative), the window ends at \(ends), \(windowTicks) ticks long: one generation too many",
                sourceLocation: sourceLocation)
    }

    /// The leak report's group of goroutines blocked in `flightStuckReceiver`: how many, and its blocked time.
    private func stuckGroup(_ path: String) throws -> (count: Int, blockedNanoseconds: Int) {
        let report = try run(gotrace, ["report", "--analyzer", "leak", "--format", "json", "--no-progress", path])
        #expect(report.status == 0, "\(report.standardError)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        let leak = try #require(document["leak"] as? [String: Any])
        let groups = try #require(leak["groups"] as? [[String: Any]])
        let stuck = try #require(groups.first { (($0["blockedAt"] as? [String])?.first ?? "").hasPrefix("flightStuckReceiver") },
                                 "no group blocked in flightStuckReceiver: \(groups.map { $0["blockedAt"] ?? "" })")
        return (try #require(stuck["count"] as? Int), try #require(stuck["blockedForNs"] as? Int))
    }

    /// Records `TraceScenarios flight seconds` with a 2 s flight recorder; once the program is ready (half way),
    /// applies `action` to the recorder's and the program's pids and waits for the recorder to end.
    private func recordUntilReady(trace: String, seconds: Int = 6,
                                  action: (_ recorder: pid_t, _ program: pid_t) -> Void) throws -> ProcessResult {
        let errors = Pipe()
        let launched = try launchUntilFirstLine(
            gotrace, ["record", "--flight-recorder", "2s", "-o", trace, "--", scenarios, "flight", "\(seconds)"],
            standardError: errors)
        if let program = launched.announcedPID {
            action(launched.process.processIdentifier, program)
        } else {
            Issue.record("the program never said it was ready: \(launched.firstLine)")
            kill(launched.process.processIdentifier, SIGKILL)
        }
        let standardError = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = launched.waitForShellStatus()
        return ProcessResult(status: status, standardOutput: launched.firstLine, standardError: standardError)
    }
}

/// Go's duration notation (GoDuration.swift), on known answers.
@Suite struct GoDurationTests {
    @Test(arguments: [
        ("2s", 2_000_000_000), ("500ms", 500_000_000), ("1m30s", 90_000_000_000), ("1.5h", 5_400_000_000_000),
        ("300us", 300_000), ("300µs", 300_000), ("7ns", 7), ("0", 0), ("0.25s", 250_000_000), ("1h2m3s4ms", 3_723_004_000_000),
    ] as [(String, UInt64)])
    func parses(_ text: String, _ nanoseconds: UInt64) throws {
        #expect(try GoDuration.nanoseconds(text) == nanoseconds)
    }

    @Test(arguments: ["", "2", "s", "2x", "-1s", "+1s", "1..5s", "99999999999h", "1s2"])
    func refuses(_ text: String) {
        #expect(throws: GoDuration.ParseError.self) { try GoDuration.nanoseconds(text) }
    }
}

/// The flight recorder's memory (GoTraceFormat's FlightWindow.swift) on a synthetic stream with known answers:
/// a 2 s window, a generation cut every 500 ms for 6 s (nanosecond ticks from 0). Generation k begins at
/// k × 500 ms with a one-event snapshot section (its second marker 1 ms later) and ends with a ten-event chunk
/// 400 ms after its start.
@Suite struct FlightWindowTests {
    static let second: UInt64 = 1_000_000_000

    static func stream(generations: UInt64, ending: Bool) -> FlightWindow {
        var window = FlightWindow(windowNanoseconds: 2 * second)
        window.append(FileHeader(ticksPerSecond: second, startTicks: 0, startWallTimeNanoseconds: 1_000).encoded())
        window.append(KindTableCodec.chunk())
        var sequence: UInt64 = 0
        func chunk(events: Int, at ticks: UInt64) -> [UInt8] {
            let buffer = TraceBuffer(baseTicks: ticks)
            for _ in 0..<events { buffer.emit(.procStart, at: ticks, 0) }
            defer { sequence += 1 }
            return buffer.sealChunk(machine: 1, sequence: sequence)
        }
        window.append(chunk(events: 10, at: 400_000_000))  // generation 0's events
        for number in 1...generations {
            let cut = number * second / 2
            window.append(GenerationChunk(generation: number, phase: .begin, ticks: cut,
                                          wallTimeNanoseconds: Int64(1_000 + cut)).encoded())
            window.append(chunk(events: 1, at: cut))
            window.append(GenerationChunk(generation: number, phase: .snapshotWritten, ticks: cut + 1_000_000,
                                          wallTimeNanoseconds: Int64(1_000 + cut + 1_000_000)).encoded())
            window.append(chunk(events: 10, at: cut + 400_000_000))
        }
        if ending {
            window.append(EndChunk(events: 999, chunks: 999, droppedEvents: 0, endWallTimeNanoseconds: 7, endSignal: 15).encoded())
        }
        return window
    }

    @Test func memoryHoldsTheWindowAndLittleMore() {
        // After the cut at 6 s: generations 8 (4 s) … 12; generation 9 alone would start 1.5 s before the cut.
        let window = Self.stream(generations: 12, ending: true)
        #expect(window.generationCount == 5)
        #expect(window.malformedUnits == 0)
    }

    @Test func atTheEndTheWindowRunsToTheLastEventWithTheProgramsEndChunk() throws {
        let file = try #require(Self.stream(generations: 12, ending: true).encoded(.asReceived))
        let (events, reader) = readAll(file.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(reader.header?.startTicks == 4 * Self.second)  // generation 8's cut, the youngest 2 s before 6.4 s
        #expect(reader.header?.startWallTimeNanoseconds == Int64(1_000 + 4 * Self.second))
        #expect(events.count == 5 * 11)
        #expect(file.events == 55 && file.nanoseconds == 2_400_000_000 && file.isComplete)
        // The end chunk keeps the program's signal and wall time, with the window's own totals.
        #expect(reader.endChunk == EndChunk(events: 55, chunks: 10, droppedEvents: 0, endWallTimeNanoseconds: 7, endSignal: 15))
    }

    @Test func whileRunningTheWindowEndsAtTheLastCutsSnapshot() throws {
        let file = try #require(Self.stream(generations: 12, ending: false).encoded(.atLastCut))
        let (events, reader) = readAll(file.bytes)
        #expect(reader.diagnostics.isEmpty)
        #expect(reader.header?.startTicks == 4 * Self.second)  // 2 s before the cut at 6 s
        #expect(events.count == 4 * 11 + 1)  // generations 8–11 and generation 12's snapshot section
        #expect(file.nanoseconds == 2_001_000_000 && file.isComplete)
        #expect(reader.endChunk?.events == 45)
        #expect(reader.endChunk?.chunks == 9)
        #expect(reader.endChunk?.endWallTimeNanoseconds == Int64(1_000 + 6 * Self.second))
    }

    @Test func aRunShorterThanTheWindowIsKeptWhole() throws {
        let file = try #require(Self.stream(generations: 2, ending: false).encoded(.asReceived))
        let (events, reader) = readAll(file.bytes)
        #expect(reader.header?.startTicks == 0)
        #expect(events.count == 10 + 2 * 11)
        #expect(!file.isComplete && !reader.isComplete)
    }
}
