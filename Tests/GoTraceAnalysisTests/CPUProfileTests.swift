import Foundation
import Testing

/// CPU sampling end to end: the runtime's SIGPROF sampler, `gotrace record --cpu-rate`, and the cpu profile
/// in folded and pprof form, on a program whose split of CPU time is known (Examples/ProfileScenarios cpu:
/// hotLoop() does 3 units of work for every unit coldLoop() does).
// Serialized: the two tests' recordings would otherwise share the CPU and each get half the samples.
@Suite(.serialized)
struct CPUProfileTests {
    /// The checks allow ±5 points; with 1,000 samples a share's sampling error is σ ≈ 1.4 points, so a
    /// correct profiler fails them less than once in 10,000 runs. Recordings of 3 s at 250 Hz (the kernel's
    /// tick bounds a CPU-clock timer's rate here) are repeated until that many samples are in, because
    /// a loaded machine (other tests run in parallel) gives the program only part of a CPU.
    static let samplesWanted = 1_000

    static func recordCPUScenario() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpu-\(UUID().uuidString).gtrace").path
        let result = try ExportTools.run(
            ExportTools.gotrace, ["record", "--cpu-rate", "250", "-o", path, "--", ExportTools.profileScenarios, "cpu", "3000"])
        #expect(result.status == 0, "record failed: \(result.error)")
        return path
    }

    static func sampleCount(_ folded: String) -> Int {
        folded.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
    }

    /// Traces of the cpu scenario holding `samplesWanted` samples between them (at most 6 recordings).
    static func recordEnoughSamples() throws -> [String] {
        var traces: [String] = []
        var samples = 0
        while samples < samplesWanted && traces.count < 6 {
            let trace = try recordCPUScenario()
            traces.append(trace)
            samples += sampleCount(String(decoding: try ExportTools.export(trace, format: "folded", profile: "cpu").bytes, as: UTF8.self))
        }
        return traces
    }

    /// Share (percent) of the folded profile's samples whose stack contains `function`.
    static func share(_ folded: String, _ function: String) -> Double {
        var total: Int64 = 0
        var matching: Int64 = 0
        for line in folded.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int64(line[line.index(after: space)...]) else { continue }
            total += count
            if line[..<space].contains(function) { matching += count }
        }
        return total == 0 ? 0 : 100 * Double(matching) / Double(total)
    }

    @Test("hotLoop ~75% and coldLoop ~25% of CPU samples, within ±5 points, in the folded profile")
    func foldedSharesMatchTheWork() throws {
        let folded = try Self.recordEnoughSamples().map {
            String(decoding: try ExportTools.export($0, format: "folded", profile: "cpu").bytes, as: UTF8.self)
        }.joined(separator: "\n")
        #expect(Self.sampleCount(folded) >= Self.samplesWanted, "\(Self.sampleCount(folded)) samples")
        let hot = Self.share(folded, "hotLoop")
        let cold = Self.share(folded, "coldLoop")
        #expect(abs(hot - 75) <= 5, "hotLoop \(hot)%\n\(folded)")
        #expect(abs(cold - 25) <= 5, "coldLoop \(cold)%\n\(folded)")
    }

    @Test("go tool pprof reads the cpu profile and gives the same split (cum)",
          .enabled(if: ExportTools.goAvailable || ExportTools.inCI, "go (golang-go) not installed; CI requires it"))
    func pprofSharesMatchTheWork() throws {
        try ExportTools.require(ExportTools.goAvailable, "go (golang-go)")
        var total = 0.0, hot = 0.0, cold = 0.0
        for trace in try Self.recordEnoughSamples() {
            let file = try ExportTools.export(trace, format: "pprof", profile: "cpu")
            let top = try ExportTools.pprofTop(file.path)
            #expect(top.status == 0, "\(top.output)")
            // pprof's `name` is the readable name without its argument list.
            #expect(ExportTools.topFunctions(top.output).first == "spin", "\(top.output)")
            // Rows: flat flat% sum% cum cum% name — the cum column counts samples.
            func cum(_ name: String) -> Double {
                for line in top.output.split(separator: "\n") where line.hasSuffix(name) {
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    if fields.count >= 6, let value = Double(fields[3]) { return value }
                }
                return 0
            }
            // "Duration: 3s, Total samples = 742": every sample, not only those under spin().
            if let line = top.output.split(separator: "\n").first(where: { $0.contains("Total samples = ") }),
               let value = line.split(separator: "=").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                total += value
            }
            hot += cum(" hotLoop")
            cold += cum(" coldLoop")
        }
        #expect(total >= Double(Self.samplesWanted))
        #expect(abs(100 * hot / total - 75) <= 5, "hotLoop \(100 * hot / total)%")
        #expect(abs(100 * cold / total - 25) <= 5, "coldLoop \(100 * cold / total)%")
    }
}
