// swift-tools-version:6.0
//
// The runtime's tests (Tests/GoRuntimeTests, linked here) under ThreadSanitizer and AddressSanitizer,
// built by scripts/sanitizers.sh. A package of its own so that a sanitizer build compiles only the runtime
// (CGoRuntime, GoRuntime, GoTrace) and its tests, not the CLI, the plugins and the other test targets.
// The script passes GORT_SANITIZER_FIBERS to C and Swift (see Sources/CGoRuntime/include/sanitizer_fibers.h).
import PackageDescription

let package = Package(
    name: "gotrace-sanitizers",
    dependencies: [.package(name: "gotrace", path: "..")],
    targets: [
        .testTarget(
            name: "GoRuntimeTests",
            // NetLoadClient: the client half of the 10,000-connection test, run as a child process.
            // GotraceTestSupport: what the debug server's tests import (their in-process suites run here;
            // the end-to-end suite, which needs DebugServerFixture and gotrace, is skipped by the script).
            dependencies: [.product(name: "GoRuntime", package: "gotrace"), "NetLoadClient", "GotraceTestSupport"],
            path: "Tests/GoRuntimeTests"
        ),
        .target(
            name: "GotraceTestSupport",
            path: "Tests/Support"
        ),
        .executableTarget(
            name: "NetLoadClient",
            dependencies: [.product(name: "GoRuntime", package: "gotrace")],
            path: "Tests/NetLoadClient"
        ),
    ]
)
