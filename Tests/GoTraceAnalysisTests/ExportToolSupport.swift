import Foundation
import GotraceTestSupport
import GoSymbolize
import GoTrace
import Testing

/// Running the built `gotrace` and the outside checkers (`go tool pprof`, flameshow's parsers) for the export
/// tests. A checker that is missing disables its tests locally (with the reason shown); under CI (`CI` set)
/// the tests run anyway and fail with a message naming scripts/setup.sh — a missing tool is never a silent
/// pass there.
enum ExportTools {
    static let gotrace = BuiltPlugins.directory + "/gotrace"
    static let profileScenarios = BuiltPlugins.directory + "/ProfileScenarios"
    static let traceScenarios = BuiltPlugins.directory + "/TraceScenarios"
    static let inCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    static func which(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let goAvailable = which("go") != nil
    static let flameshowAvailable: Bool = {
        guard let python = which("python3") else { return false }
        return (try? run(python, ["-c", "import flamegraph_textual.parsers"]).status) == 0
    }()

    /// Fails the current test with a clear cause if `available` is false (only reached under CI or locally
    /// when the tool exists).
    static func require(_ available: Bool, _ tool: String) throws {
        if !available {
            Issue.record("\(tool) is not installed: scripts/setup.sh installs it (CI=\(inCI))")
            throw ToolMissing()
        }
    }

    struct ToolMissing: Error {}

    /// Runs `executable` (GotraceTestSupport.runProcess).
    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws
        -> (status: Int32, output: String, error: String) {
        let outcome = try runProcess(executable, arguments, environment: extra)
        return (outcome.status, outcome.output, outcome.error)
    }

    /// `gotrace export TRACE --format F --profile P -o FILE [extra…]`; returns the file's bytes.
    static func export(_ trace: String, format: String, profile: String, _ extra: [String] = []) throws -> (path: String, bytes: Data) {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("export-\(UUID().uuidString).\(profile).\(format)").path
        let result = try run(gotrace, ["export", trace, "--format", format, "--profile", profile, "-o", path] + extra)
        #expect(result.status == 0, "gotrace export failed: \(result.error)")
        return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// `go tool pprof -top FILE`: exit status and output.
    static func pprofTop(_ path: String) throws -> (status: Int32, output: String) {
        let result = try run(which("go") ?? "/usr/bin/go", ["tool", "pprof", "-top", path], environment: ["HOME": NSTemporaryDirectory()])
        return (result.status, result.output + result.error)
    }

    /// The function names of `go tool pprof -top`'s rows, in order (the text after the five number columns).
    static func topFunctions(_ output: String) -> [String] {
        var names: [String] = []
        var inTable = false
        for line in output.split(separator: "\n") {
            if line.contains("flat%") && line.contains("cum%") {
                inTable = true
                continue
            }
            guard inTable else { continue }
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            if fields.count == 6 { names.append(fields[5].trimmingCharacters(in: .whitespaces)) }
        }
        return names
    }

    /// flameshow's parser on `path`: "parser total frames…" (the root's children names), or the Python error.
    static func flameshowParse(_ path: String) throws -> (status: Int32, output: String) {
        let script = """
            import sys
            from flamegraph_textual.parsers import parse, choose_parser
            data = open(sys.argv[1], 'rb').read()
            profile = parse(data, sys.argv[1])
            print(type(choose_parser(data)).__name__ if not isinstance(choose_parser(data), type) else choose_parser(data).__name__)
            print(profile.total_sample)
            def walk(frame, depth):
                for child in frame.children:
                    print('  ' * depth + child.name + ' ' + str(sum(child.values) if child.values else 0))
                    walk(child, depth + 1)
            walk(profile.root_stack, 0)
            """
        let result = try run(which("python3") ?? "/usr/bin/python3", ["-c", script, path])
        return (result.status, result.output + result.error)
    }
}

/// Synthetic traces whose stacks resolve through a real binary (ProfileScenarios): the module event names it
/// with load bias 0, so a stack's addresses are the binary's own virtual addresses (+1, return addresses).
enum ExportScenario {
    /// The address and size of the first symbol whose demangled name contains `fragment`.
    static func symbol(_ function: String, in path: String = ExportTools.profileScenarios) throws -> UInt64 {
        let table = try #require(ELFSymbolTable(path: path), "cannot read \(path)")
        let prefix = "ProfileScenarios.\(function)("
        let found = try #require(table.firstSymbol { Demangler.demangle($0).hasPrefix(prefix) }, "no symbol \(prefix)")
        return found.address
    }

    /// 1 module, 2 stacks (blockedMostly / blockedBriefly as leaves, both under the program's main), and
    /// `cpu-sample` events: 80 in the first stack, 20 in the second, across two goroutines.
    static func cpuSamples() throws -> SyntheticTrace {
        var trace = SyntheticTrace()
        let mostly = try symbol("blockedMostly") + 4
        let briefly = try symbol("blockedBriefly") + 4
        let main = try symbol("spawnFew") + 4
        trace.string(1, ExportTools.profileScenarios)
        trace.emit(.module, at: 0, 1, 0, 0)
        trace.stack(1, [mostly, main])
        trace.stack(2, [briefly, main])
        trace.emit(.spawn, at: 10, 0, 1, 0)
        trace.emit(.spawn, at: 10, 1, 2, 0)
        var now: UInt64 = 100
        for index in 0..<100 {
            now += 10_000_000
            trace.emit(.cpuSample, at: now, UInt64(1 + index % 2), index % 5 == 4 ? 2 : 1)
        }
        trace.emit(.end, at: now + 1, 2)
        trace.emit(.end, at: now + 2, 1)
        return trace
    }
}
