import Foundation
import CGoTracePlugin
import GoTrace
import GoTraceGo
import Testing
@testable import GoTraceAnalysis

/// Inputs the fuzz targets (Fuzz/, scripts/fuzz.sh) found problems with, kept in traces/fuzz-regressions/,
/// read by every reader a user's file can reach: no trap, and every problem named with an offset inside the
/// file. Leaks the fuzzer found are checked where they can be seen, under AddressSanitizer: fuzz.sh replays
/// this folder first. Each file's name says what it found; docs/reliability.md lists them.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("traces/fuzz-regressions").path

    static var inputs: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test("the regression inputs are there")
    func inputsExist() {
        #expect(Self.inputs.count >= 2)
    }

    @Test("every regression input reads to its end in each reader", arguments: inputs)
    func readsWithoutTrap(name: String) throws {
        let path = Self.directory + "/" + name
        let size = UInt64(try Data(contentsOf: URL(fileURLWithPath: path)).count)

        let reader = TraceReader(path: path)
        var events: UInt64 = 0
        while reader.next() != nil { events += 1 }
        #expect(events == reader.eventsRead)
        for diagnostic in reader.diagnostics {
            #expect(diagnostic.offset <= size, "\(diagnostic)")
            #expect(diagnostic.description.hasPrefix("\(path): offset \(diagnostic.offset): "))
        }

        let goReader = GoTraceReader(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))), fileName: path)
        while goReader.nextMapped() != nil {}
        for line in goReader.diagnostics.map(\.description) { #expect(line.hasPrefix("\(path): offset "), "\(line)") }

        let outcome = AnalysisSession(source: TraceFile.open(path: path), plugins: []).run()
        for line in outcome.diagnostics + [outcome.fatal].compactMap({ $0 }) {
            #expect(line.contains("offset"), "\(line)")
        }
    }

    /// A file's kind table may give the goroutine role to an argument past the six an ABI event holds. The
    /// fast path read it from beyond the event's argument array (unchecked in release builds); now it
    /// attributes the goroutine as TraceReader does.
    @Test("a goroutine argument past the sixth is attributed, not read out of bounds")
    func roleBeyondEventSlots() throws {
        let wideKind = EventKind(rawValue: 60)
        let arguments = (0..<8).map { ArgumentSpec("a\($0)", .number) } + [ArgumentSpec("goroutine", .goroutine)]
        var trace = SyntheticTrace(kinds: EventKindSpec.builtIn + [EventKindSpec(wideKind, "wide", arguments)])
        trace.emit(wideKind, at: 1000, 1, 2, 3, 4, 5, 6, 7, 8, 77)
        trace.emit(.end, at: 2000, 5)
        let path = try trace.write(name: "wide-kind")
        defer { try? FileManager.default.removeItem(atPath: path) }

        let reader = TraceReader(path: path)
        let slow = Array(reader).first { $0.kind == wideKind }
        #expect(slow?.goroutine == 77)

        let fast = try gtraceSource(path)
        let batch = UnsafeMutableBufferPointer<gotrace_event>.allocate(capacity: 16)
        defer { batch.deallocate() }
        let count = fast.nextBatch(into: batch, definitions: DiscardedDefinitions())
        let wide = batch[0..<count].first { $0.kind == wideKind.rawValue }
        #expect(wide?.goroutine == 77)
        #expect(wide?.argument_count == UInt8(GOTRACE_MAX_EVENT_ARGUMENTS))
    }
}

private final class DiscardedDefinitions: TraceDefinitionSink {
    func defineString(_ id: UInt64, _ bytes: [UInt8]) {}
    func defineStack(_ id: UInt64, _ programCounters: [UInt64]) {}
}
