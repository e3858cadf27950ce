// Finds the package's built products (gotrace, the example programs, the plugin libraries) for the end-to-end
// tests: the one place that knows where SwiftPM puts them. They are test dependencies, so they are always
// built; a test that cannot find one fails (`require`) rather than being skipped — a broken look-up must
// not turn half the suite off and leave the run green.
import Foundation

public enum BuiltProduct {
    /// The build directory (`.build/<triple>/debug`): the test bundle sits next to the products. Where
    /// `gotrace` is, among this process's executable's directory (and its parent, for a `.xctest` bundle
    /// directory) and argv[0]'s; the first candidate if none has it, so that `require` names where it looked.
    public static let directory: String = {
        var candidates: [URL] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        candidates += candidates.filter { $0.lastPathComponent.hasSuffix(".xctest") }.map { $0.deletingLastPathComponent() }
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("gotrace").path) }
        return (found ?? candidates[0]).path
    }()

    /// The path product `name` has in the build directory (whether or not it exists).
    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The path of built executable `name`; throws, failing the test, when it is not there.
    public static func require(_ name: String) throws -> String {
        let candidate = path(name)
        guard FileManager.default.isExecutableFile(atPath: candidate) else { throw Missing(name: name, directory: directory) }
        return candidate
    }

    /// A built product that is not where the build puts it.
    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var directory: String
        public var description: String {
            "\(name) is not built in \(directory): it is a test dependency, so `swift build --build-tests` builds it"
        }
    }
}
