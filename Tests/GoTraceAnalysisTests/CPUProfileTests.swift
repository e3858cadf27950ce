import Foundation
import Testing

/// CPU sampling end to end: the runtime's SIGPROF sampler, `gotrace record --cpu-rate`, and the cpu profile
/// in folded and pprof form, on a program whose split of CPU time is known (Examples/ProfileScenarios cpu:
/// hotLoop() does 3 units of work for every unit coldLoop() does).
// Serialized: the two recordings would otherwise share the CPU and each get half the samples.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: ExportTools.profileScenarios), "ProfileScenarios not built"))
struct CPUProfileTests {
    /// Recorded at 250 Hz (the kernel's tick bounds a CPU-clock timer's rate here) for 3 s: ~750 samples,
    /// so a share's sampling error (σ ≈ 1.6 points) leaves the ±5 points the check allows over 3 σ.
    static func recordCPUScenario() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpu-\(UUID().uuidString).gtrace").path
        let result = try ExportTools.run(
            ExportTools.gotrace, ["record", "--cpu-rate", "250", "-o", path, "--", ExportTools.profileScenarios, "cpu", "3000"])
        #expect(result.status == 0, "record failed: \(result.error)")
        return path
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
        let trace = try Self.recordCPUScenario()
        let folded = String(decoding: try ExportTools.export(trace, format: "folded", profile: "cpu").bytes, as: UTF8.self)
        let samples = folded.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(samples > 300, "at 250 Hz for 3 s (of wall time, shared with other tests): \(samples) samples")
        let hot = Self.share(folded, "hotLoop")
        let cold = Self.share(folded, "coldLoop")
        #expect(abs(hot - 75) <= 5, "hotLoop \(hot)%\n\(folded)")
        #expect(abs(cold - 25) <= 5, "coldLoop \(cold)%\n\(folded)")
    }

    @Test("go tool pprof reads the cpu profile and gives the same split (cum%)",
          .enabled(if: ExportTools.goAvailable || ExportTools.inCI, "go (golang-go) not installed; CI requires it"))
    func pprofSharesMatchTheWork() throws {
        try ExportTools.require(ExportTools.goAvailable, "go (golang-go)")
        let trace = try Self.recordCPUScenario()
        let file = try ExportTools.export(trace, format: "pprof", profile: "cpu")
        let top = try ExportTools.pprofTop(file.path)
        #expect(top.status == 0, "\(top.output)")
        #expect(ExportTools.topFunctions(top.output).first == "ProfileScenarios.spin", "\(top.output)")
        func cumPercent(_ name: String) -> Double? {
            for line in top.output.split(separator: "\n") where line.hasSuffix(name) {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 6, let value = Double(fields[4].dropLast()) { return value }
            }
            return nil
        }
        let hot = try #require(cumPercent("ProfileScenarios.hotLoop"), "\(top.output)")
        let cold = try #require(cumPercent("ProfileScenarios.coldLoop"), "\(top.output)")
        #expect(abs(hot - 75) <= 5, "\(top.output)")
        #expect(abs(cold - 25) <= 5, "\(top.output)")
    }
}
