import Foundation
import Testing

/// Leaks in real Go programs (Tests/Fixtures/GoPrograms), found by the same leak analyzer as our own traces,
/// with blocking functions named from Go's stack table.
@Suite(.enabled(if: GoPrograms.enabled, "go is not installed (scripts/setup.sh installs golang-go)"))
struct GoTraceLeakTests {
    struct Expected {
        var count: Int
        var reason: String
        var function: String
    }

    /// The counts are the constants of leaks/main.go. WaitGroup waiters park with GoBlockSync in Go 1.19,
    /// as mutexes do, so they are reported as `mutex` — the stack says WaitGroup.
    static let expected: [Expected] = [
        Expected(count: 10, reason: "chan-receive", function: "main.leakRecv"),
        Expected(count: 7, reason: "chan-send", function: "main.leakSend"),
        Expected(count: 5, reason: "select", function: "main.leakSelect"),
        Expected(count: 4, reason: "mutex", function: "main.leakMutex"),
        Expected(count: 3, reason: "mutex", function: "main.leakWaitGroup"),
        Expected(count: 6, reason: "cond", function: "main.leakCond"),
        Expected(count: 2, reason: "mutex", function: "main.leakDeadlock"),
    ]

    @Test func leaksAreFoundWithCountsAndFunctions() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("leaks", in: directory)
        let report = try GoPrograms.report(trace, analyzers: ["leak"])
        let leak = try #require(report["leak"] as? [String: Any])
        let groups = try #require(leak["groups"] as? [[String: Any]])
        for expected in GoTraceLeakTests.expected {
            // Groups of one function (the deadlock's two closures are two groups).
            let matching = groups.filter { group in
                ((group["blockedAt"] as? [String]) ?? []).contains { $0.hasPrefix(expected.function + ".func") }
            }
            let count = matching.reduce(0) { $0 + (($1["count"] as? Int) ?? 0) }
            #expect(count == expected.count, "\(expected.function): \(matching)")
            #expect(matching.allSatisfy { ($0["reason"] as? String) == expected.reason }, "\(expected.function): \(matching)")
            #expect(matching.allSatisfy { (($0["createdAt"] as? [String]) ?? []).first?.hasPrefix(expected.function) == true })
        }
        let total = GoTraceLeakTests.expected.reduce(0) { $0 + $1.count }
        #expect(leak["leaked"] as? Int == total, "the runtime's own goroutines are not leaks: \(groups)")
    }

    @Test func correctProgramsReportNoLeaks() throws {
        let directory = try GoPrograms.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = try GoPrograms.trace("correct", in: directory)
        let report = try GoPrograms.report(trace, analyzers: ["leak"])
        let leak = try #require(report["leak"] as? [String: Any])
        #expect(leak["leaked"] as? Int == 0, "\(leak)")
    }
}
