import Foundation
import GoTrace
import GotraceTestSupport
import Testing
@testable import GoTraceAnalysis
import GoTraceGo

/// Writes traces of Go 1.22's format by hand: the orderings and states Go's runtime does not produce on demand.
struct GoTrace122Builder {
    var bytes: [UInt8]
    let version: Int

    init(version: Int = 1026) {
        self.version = version
        bytes = Array("go 1.\(version % 1000) trace".utf8)
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
    }

    /// One event: type byte and varints.
    static func event(_ type: UInt8, _ arguments: [UInt64]) -> [UInt8] {
        [type] + arguments.flatMap(GoTraceBuilder.varint)
    }

    mutating func batch(generation: UInt64, m: UInt64, ticks: UInt64, _ body: [UInt8]) {
        bytes.append(GoEventType122.eventBatch)
        bytes += [generation, m, ticks, UInt64(body.count)].flatMap(GoTraceBuilder.varint) + body
    }

    mutating func frequency(generation: UInt64, _ ticksPerSecond: UInt64) {
        let body = version >= 1025
            ? [GoEventType122.sync] + GoTrace122Builder.event(GoEventType122.frequency, [ticksPerSecond])
                + GoTrace122Builder.event(GoEventType122.clockSnapshot, [0, 1, 1_700_000_000, 5])
            : GoTrace122Builder.event(GoEventType122.frequency, [ticksPerSecond])
        batch(generation: generation, m: UInt64.max, ticks: 0, body)
    }

    mutating func strings(generation: UInt64, _ entries: [(UInt64, String)]) {
        var body: [UInt8] = [GoEventType122.strings]
        for (id, text) in entries {
            body += [GoEventType122.string] + GoTraceBuilder.varint(id) + GoTraceBuilder.varint(UInt64(text.utf8.count))
                + Array(text.utf8)
        }
        batch(generation: generation, m: UInt64.max, ticks: 0, body)
    }

    /// Stacks as (id, [(pc, function string, file string, line)]).
    mutating func stacks(generation: UInt64, _ entries: [(UInt64, [(UInt64, UInt64, UInt64, UInt64)])]) {
        var body: [UInt8] = [GoEventType122.stacks]
        for (id, frames) in entries {
            body += GoTrace122Builder.event(GoEventType122.stack, [id, UInt64(frames.count)])
            for frame in frames { body += [frame.0, frame.1, frame.2, frame.3].flatMap(GoTraceBuilder.varint) }
        }
        batch(generation: generation, m: UInt64.max, ticks: 0, body)
    }

    mutating func endOfGeneration() { bytes.append(GoEventType122.endOfGeneration) }

    typealias E = GoEventType122
    static let running: UInt64 = 2, waiting: UInt64 = 4, syscall: UInt64 = 3, procRunning: UInt64 = 1

    /// The string and stack tables the scenarios share: 1 "chan receive", 2–4 function names, 5 the file;
    /// stack 1 = main.worker, stack 2 = runtime.chanrecv1 ← main.worker, stack 3 = main.main. In Go's order:
    /// the string table last.
    mutating func tables(generation: UInt64) {
        frequency(generation: generation, 1_000_000_000)
        stacks(generation: generation, [(1, [(0x1000, 2, 5, 10)]), (2, [(0x2000, 3, 5, 20), (0x1000, 2, 5, 11)]),
                                        (3, [(0x3000, 4, 5, 30)])])
        strings(generation: generation, [(1, "chan receive"), (2, "main.worker"), (3, "runtime.chanrecv1"),
                                         (4, "main.main"), (5, "/src/main.go")])
    }

    /// M1 runs g1 on P0 and creates g5 at tick 1000; M2 (P1) starts g5 with a timestamp *before* the
    /// creation (900+50), g5 blocks on a receive at 1200; M1 unblocks it at 1100 — before the block. Only
    /// the sequence numbers put create → start → block → unblock in order.
    static func skewed(version: Int = 1026) -> GoTrace122Builder {
        var trace = GoTrace122Builder(version: version)
        trace.batch(generation: 1, m: 1, ticks: 1000,
                    event(E.procStatus, [0, 0, procRunning]) + event(E.goStatus, [0, 1, 1, running])
                    + event(E.goCreate, [0, 5, 1, 3]) + event(E.goUnblock, [100, 5, 2, 3]))
        trace.batch(generation: 1, m: 2, ticks: 900,
                    event(E.procStatus, [0, 1, procRunning]) + event(E.goStart, [50, 5, 1])
                    + event(E.goBlock, [250, 1, 2]))
        trace.tables(generation: 1)
        if version >= 1026 { trace.endOfGeneration() }
        return trace
    }
}

@Suite struct GoTraceReader122Tests {
    func mapped(_ reader: GoTraceReader122) -> [GoMappedEvent] {
        var events: [GoMappedEvent] = []
        while let event = reader.nextMapped() { events.append(event) }
        return events
    }

    func describe(_ events: [GoMappedEvent]) -> [String] {
        events.map { "\($0.kind.spec?.name ?? "?") g\($0.goroutine == UInt64.max ? -1 : Int($0.goroutine)) \($0.arguments.1)" }
    }

    @Test(arguments: [1022, 1023, 1025, 1026])
    func sequenceNumbersOrderSkewedMachines(version: Int) throws {
        let reader = GoTraceReader122(bytes: GoTrace122Builder.skewed(version: version).bytes, fileName: "skewed.trace")
        let events = mapped(reader)
        #expect(reader.fatalDiagnostic == nil)
        #expect(reader.isComplete, "\(reader.diagnostics)")
        #expect(reader.diagnostics.isEmpty)
        #expect(reader.generationCount == 1)
        let chanReceive = UInt64(ParkReason.chanReceive.rawValue)
        #expect(describe(events) == [
            "proc-start g-1 0", "proc-start g-1 0", "snapshot g1 1", "spawn g5 5", "start g5 0",
            "park g5 \(chanReceive)", "unpark g5 1",
        ])
        // Ticks are nanoseconds (frequency 1e9) from the earliest batch (900); time never goes backwards.
        #expect(events.map(\.nanoseconds) == [0, 100, 100, 100, 100, 300, 300])
        // The park's stack names the blocking frames; the spawn's stack is where `go` ran.
        // The clock snapshot (1.25+, tick 0 of the sync batch: 900 ticks before the first batch) dates time 0.
        #expect(reader.startWallNanoseconds == (version >= 1025 ? 1_700_000_000_000_000_005 + 900 : 0))
        let park = try #require(events.first { $0.kind == .park })
        let frames = (reader.stacks[park.arguments.2] ?? []).compactMap { reader.frames[$0]?.function }
        #expect(frames == ["runtime.chanrecv1", "main.worker"])
        #expect(park.machine == 2 && park.proc == 1)
    }

    /// A goroutine that predates the trace: Go 1.23+ gives its status a stack, from which the reason comes;
    /// Go 1.22 gives neither, and the goroutine is left to its first event.
    @Test(arguments: [1022, 1023, 1026])
    func preexistingWaitingGoroutine(version: Int) {
        var trace = GoTrace122Builder(version: version)
        let status = version >= 1023
            ? GoTrace122Builder.event(GoEventType122.goStatusStack, [0, 7, UInt64.max, GoTrace122Builder.waiting, 2])
            : GoTrace122Builder.event(GoEventType122.goStatus, [0, 7, UInt64.max, GoTrace122Builder.waiting])
        trace.batch(generation: 1, m: 1, ticks: 10, GoTrace122Builder.event(GoEventType122.procStatus, [0, 0, 1]) + status)
        trace.tables(generation: 1)
        if version >= 1026 { trace.endOfGeneration() }
        let reader = GoTraceReader122(bytes: trace.bytes, fileName: "status.trace")
        let snapshots = mapped(reader).filter { $0.kind == .snapshot }
        if version >= 1023 {
            #expect(snapshots.count == 1)
            #expect(snapshots.first?.arguments.1 == UInt64(GoroutineState.waiting.rawValue))
            #expect(snapshots.first?.arguments.2 == UInt64(ParkReason.chanReceive.rawValue))
            #expect(snapshots.first.map { reader.stacks[$0.arguments.3]?.count } == 2)
        } else {
            #expect(snapshots.isEmpty)
        }
    }

    /// M1's goroutine enters a syscall; M2 steals its P (the syscall blocked); the goroutine returns without
    /// a P: park(syscall) at the theft, proc-stop of the stolen P, unpark at the return.
    @Test func stolenSyscallBecomesParkAndUnpark() {
        typealias B = GoTrace122Builder
        var trace = B()
        trace.batch(generation: 1, m: 1, ticks: 100,
                    B.event(GoEventType122.procStatus, [0, 0, 1]) + B.event(GoEventType122.goStatus, [0, 1, 1, B.running])
                    + B.event(GoEventType122.goSyscallBegin, [10, 1, 3]) + B.event(GoEventType122.goSyscallEndBlocked, [500]))
        trace.batch(generation: 1, m: 2, ticks: 100, B.event(GoEventType122.procSteal, [200, 0, 2, 1]))
        trace.tables(generation: 1)
        trace.endOfGeneration()
        let reader = GoTraceReader122(bytes: trace.bytes, fileName: "steal.trace")
        let events = mapped(reader)
        #expect(reader.diagnostics.isEmpty, "\(reader.diagnostics)")
        #expect(describe(events) == [
            "proc-start g-1 0", "snapshot g1 1", "syscall-enter g1 3", "park g1 \(ParkReason.syscall.rawValue)",
            "proc-stop g-1 0", "unpark g1 \(UInt64.max)",
        ])
        #expect(events.map(\.machine) == [1, 1, 1, 1, 1, 1])
        #expect(events.map(\.nanoseconds) == [0, 0, 10, 200, 200, 510])
    }

    @Test func versionsAndHeaders() {
        #expect(GoTraceHeader.classify(Array(GoTrace122Builder(version: 1026).bytes)) == .supported(1026))
        let unknown = GoTraceReader122(bytes: GoTraceBuilder(version: "go 1.24 trace").bytes, fileName: "x.trace")
        #expect(unknown.fatalDiagnostic?.description == "x.trace: offset 5: unsupported Go trace version 1.24: this build reads \(GoTraceHeader.supportedRange)")
        let old = TraceFile.open(bytes: GoTraceBuilder.skewed().bytes, fileName: "old.trace")
        #expect(old is GoTraceReader && old.fatalDiagnostic == nil)
        let new = TraceFile.open(bytes: GoTrace122Builder.skewed().bytes, fileName: "new.trace")
        #expect(new is GoTraceReader122 && new.fatalDiagnostic == nil)
    }

    /// Experimental batches are skipped whole, with one note; the events around them are read.
    @Test func experimentalBatchesAreSkipped() {
        var trace = GoTrace122Builder.skewed()
        trace.bytes.removeLast()  // the end of generation
        trace.bytes += [GoEventType122.experimentalBatch, 1] + [1, 1, 0, 3].flatMap(GoTraceBuilder.varint) + [0x80, 1, 2]
        trace.endOfGeneration()
        let reader = GoTraceReader122(bytes: trace.bytes, fileName: "exp.trace")
        #expect(mapped(reader).count == 7)
        #expect(reader.isComplete)
        #expect(reader.diagnostics.count == 1 && reader.diagnostics[0].description.contains("experimental batch"))
    }

    // MARK: Damaged input

    /// The committed Go 1.22+ traces (traces/go), read on any machine.
    static func committedTraces() -> [(name: String, bytes: [UInt8])] {
        let directory = GoPrograms.packageRoot.appendingPathComponent("traces/go")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".trace") }.sorted()
        return names.compactMap { name in
            FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map { (name, Array($0)) }
        }
    }

    /// Where each batch (and end-of-generation byte) starts, and where generations change — read here with
    /// a walk of the batch headers independent of the reader.
    static func boundaries(_ bytes: [UInt8], version: Int) -> (batches: [Int], generations: [Int]) {
        var batches: [Int] = []
        var generations: [Int] = []
        var position = 16
        var current: UInt64 = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return value
        }
        while position < bytes.count {
            batches.append(position)
            if bytes[position] == GoEventType122.endOfGeneration {
                position += 1
                generations.append(position)
                continue
            }
            position += bytes[position] == GoEventType122.experimentalBatch ? 2 : 1
            let generation = varint()
            _ = varint()
            _ = varint()
            let length = Int(varint())
            if version < 1026, generation != current, current != 0 { generations.append(batches.last ?? 0) }
            current = generation
            position += length
        }
        return (batches, generations)
    }

    @Test func committedTracesArePresent() {
        let traces = GoTraceReader122Tests.committedTraces()
        for expected in ["leaks-go1.22.trace", "leaks-go1.23.trace", "leaks-go1.24.trace", "leaks-go1.25.trace", "leaks-go1.27.trace", "correct-go1.27.trace"] {
            #expect(traces.contains { $0.name == expected }, "traces/go/\(expected) is missing")
        }
    }

    /// Cut at every batch and generation boundary: the generations before the cut are read whole; and at
    /// random offsets: a partial read with an offset, never a trap.
    @Test func cutsGivePartialReadsWithOffsets() throws {
        var generator = SeededGenerator(state: 0x6e_1220)
        for (name, bytes) in GoTraceReader122Tests.committedTraces() {
            guard case .supported(let version) = GoTraceHeader.classify(Array(bytes.prefix(16))),
                  GoTraceHeader.isGenerational(version) else { continue }
            // The runtime's goroutines kept: a cut that loses the stack tables cannot tell them apart.
            let whole = GoTraceReader122(bytes: bytes, fileName: name, includeSystemGoroutines: true)
            let total = mapped(whole).count
            #expect(whole.isComplete && whole.diagnostics.isEmpty, "\(name): \(whole.diagnostics)")
            let (batches, generations) = GoTraceReader122Tests.boundaries(bytes, version: version)
            if version >= 1026 { #expect(!generations.isEmpty, "\(name): Go 1.26 ends each generation in band") }
            var cuts = batches + generations
            cuts += (0..<150).map { _ in Int.random(in: 16..<bytes.count, using: &generator) }
            for cut in Set(cuts) where cut < bytes.count {
                let reader = GoTraceReader122(bytes: Array(bytes.prefix(cut)), fileName: "cut.trace", includeSystemGoroutines: true)
                let events = mapped(reader)
                #expect(reader.fatalDiagnostic == nil, "\(name) cut at \(cut)")
                #expect(events.count <= total + 16, "\(name) cut at \(cut)")
                if !reader.isComplete {
                    #expect(reader.diagnostics.map(\.description).contains { $0.hasPrefix("cut.trace: offset ") }, "\(name) cut at \(cut)")
                }
                if generations.contains(cut) {
                    // A cut right after a whole generation loses nothing before it (and, up to Go 1.25,
                    // cannot be told from the trace's end: docs/go-traces.md).
                    #expect(reader.isComplete, "\(name) cut at generation boundary \(cut): \(reader.diagnostics)")
                } else if cut > GoTraceHeader.size {
                    // Anywhere else the last generation lacks its end: its EndOfGeneration (1.26) or the string
                    // table Go writes last (up to 1.25).
                    #expect(!reader.isComplete, "\(name) cut at \(cut) looks complete")
                    #expect(reader.diagnostics.map(\.description).contains { $0.contains("truncated") || $0.contains("frequency") },
                            "\(name) cut at \(cut): \(reader.diagnostics)")
                }
            }
        }
    }

    /// Seeded random byte changes and tails: a clear diagnostic or a partial read, never a trap.
    @Test func seededMutationsNeverTrap() {
        var generator = SeededGenerator(state: 0x1_22_26)
        let seeds = [GoTrace122Builder.skewed().bytes, GoTrace122Builder.skewed(version: 1022).bytes]
            + GoTraceReader122Tests.committedTraces().map(\.bytes)
        for original in seeds {
            for _ in 0..<200 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let index = Int.random(in: 16..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) {
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
                }
                let reader = TraceFile.open(bytes: bytes, fileName: "mutated.trace")
                var count = 0
                while reader.next() != nil { count += 1 }
                #expect(reader.fatalDiagnostic != nil || count >= 0)
            }
        }
        for _ in 0..<200 {
            let bytes = GoTrace122Builder().bytes + (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let reader = GoTraceReader122(bytes: bytes, fileName: "garbage.trace")
            while reader.nextMapped() != nil {}
        }
    }

    /// Six generations, the fourth four times the others: the reader holds one generation's bytes at a time
    /// (its buffer grows to the largest generation, never to the file), reading from a file as from memory.
    @Test(arguments: [1022, 1026])
    func bufferHoldsOneGenerationAtATime(version: Int) throws {
        var trace = GoTrace122Builder(version: version)
        var sizes: [Int] = []
        var nextGoroutine: UInt64 = 10
        let creates = [100, 100, 100, 400, 100, 100]
        for (index, count) in creates.enumerated() {
            let before = trace.bytes.count
            let generation = UInt64(index + 1)
            var body = GoTrace122Builder.event(GoEventType122.procStatus, [0, 0, GoTrace122Builder.procRunning])
                + GoTrace122Builder.event(GoEventType122.goStatus, [0, 1, 1, GoTrace122Builder.running])
            for _ in 0..<count {
                body += GoTrace122Builder.event(GoEventType122.goCreate, [10, nextGoroutine, 1, 3])
                nextGoroutine += 1
            }
            trace.batch(generation: generation, m: 1, ticks: 1000 * generation, body)
            trace.tables(generation: generation)
            if version >= 1026 { trace.endOfGeneration() }
            sizes.append(trace.bytes.count - before)
        }
        let largest = try #require(sizes.max())
        #expect(largest > 3 * sizes[0] && largest < trace.bytes.count / 2, "\(sizes)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-122-\(getpid())-\(version)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("generations.trace").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(trace.bytes)))
        for reader in [GoTraceReader122(bytes: trace.bytes, fileName: "generations.trace"), try #require(TraceFile.open(path: path) as? GoTraceReader122)] {
            let events = mapped(reader)
            #expect(reader.fatalDiagnostic == nil && reader.isComplete, "\(reader.diagnostics)")
            #expect(reader.generationCount == creates.count)
            #expect(events.filter { $0.kind == .spawn }.count == creates.reduce(0, +))
            #expect(reader.bufferHighWater == largest, "buffer \(reader.bufferHighWater) bytes, generations \(sizes)")
        }
    }
}
