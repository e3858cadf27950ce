// swift-tools-version:6.0
//
// Module layout (see docs/ARCHITECTURE.md):
//   CGoRuntime  — C and assembly only: context switch, stack arena, futex, TLS, clock.
//   GoRuntime   — the goroutine runtime (scheduler, channels, select, sync, timers); links GoTraceFormat, GoPprof
//                 and GoDWARF, none of which links a library beyond zlib.
//   CZlib       — system zlib.
//   GoTraceFormat — the write side of the trace format: event-kind table, per-M buffer, chunk codec, writer.
//   GoTrace     — the read side: TraceSource (what every format's reader gives), streaming reader, batch decoder,
//                 dump, accounting; re-exports GoTraceFormat.
//   GoTraceGo   — reads Go execution traces (Go 1.11–1.21 and 1.22+) as GoTrace TraceSources. No package dependencies.
//   gotrace     — the command-line tool; CRecorderSpawn — C only: how `record` starts the traced program.
//   CGoTracePlugin   — the plugin C ABI (gotrace_plugin.h); GoTracePluginKit — Swift plugin authors' module.
//   GoTraceShared — what host and plugins both use (wire codes, IdTable, JSON writer); the kit re-exports it.
//   CLibElf, GoSymbolize — ELF symbols and Swift demangling; GoTraceAnalysis — the one trace opener
//                 (TraceFile.open), goroutine model, plugin host.
//   GoPprof     — the profile model and its pprof writer (protobuf, gzip); linked by GoRuntime's debug server.
//   GoDWARF     — source lines from DWARF through libdw, loaded on demand (not linked): GoSymbolize's and
//                 the runtime's goroutine dumps and profiles.
//   GoProfile   — export encoders on that model (folded, SVG flame graph, speedscope, pprof, Chrome trace).
//   Plugins/*   — built-in analyzers, each a dynamic library loaded at run time like any third-party plugin.
//
// No target that a library product reaches has unsafe flags: SwiftPM refuses them in a dependency reached by
// version. Frame pointers, which the sampler, the unwinder and the preemption check walk, come from SwiftPM
// itself (it compiles C with -fno-omit-frame-pointer on Linux, and swiftc keeps them); the exclusivity checks
// that the report's per-event loops cannot afford are off per property, `@exclusivity(unchecked)`.
//
// Define GORT_CHECK_INVARIANTS (swift build -Xswiftc -DGORT_CHECK_INVARIANTS) to compile in the deeper
// run-queue and channel invariant checks; they cost O(n) per operation and are off in every normal build.
import PackageDescription

let package = Package(
    name: "gotrace",
    products: [
        .library(name: "GoRuntime", targets: ["GoRuntime"]),
        .library(name: "GoTrace", targets: ["GoTrace"]),
        .library(name: "GoTraceGo", targets: ["GoTraceGo"]),
        .library(name: "GoTraceAnalysis", targets: ["GoTraceAnalysis"]),
        // What a Swift analyzer plugin outside this repository depends on (docs/plugins.md).
        .library(name: "GoTracePluginKit", targets: ["GoTracePluginKit"]),
        .executable(name: "gotrace", targets: ["gotrace"]),
        // Built-in analyzers: shared libraries next to the gotrace executable, found by its plugin search.
        .library(name: "LeakAnalyzer", type: .dynamic, targets: ["LeakAnalyzer"]),
        .library(name: "LatencyAnalyzer", type: .dynamic, targets: ["LatencyAnalyzer"]),
        .library(name: "SummaryAnalyzer", type: .dynamic, targets: ["SummaryAnalyzer"]),
        .library(name: "FlamegraphAnalyzer", type: .dynamic, targets: ["FlamegraphAnalyzer"]),
        .library(name: "HTMLReportAnalyzer", type: .dynamic, targets: ["HTMLReportAnalyzer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .target(
            name: "CGoRuntime",
            cSettings: [.define("GORT_BUILDING_RUNTIME")]
        ),
        .target(
            name: "GoRuntime",
            dependencies: ["CGoRuntime", "GoTraceFormat", "GoPprof", "GoDWARF"]
        ),
        // The profile model and its pprof writer (protobuf, gzip): shared by the runtime's debug server and
        // the exporters (GoProfile), so that neither depends on the other's side.
        .target(
            name: "GoPprof",
            dependencies: ["CZlib"]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The write side of the format, all that GoRuntime links: event-kind table, per-M buffer, chunk codec, writer.
        .target(
            name: "GoTraceFormat",
            dependencies: ["CZlib"]
        ),
        // The read side: streaming reader, batch decoder, dump, accounting. Re-exports GoTraceFormat.
        // CGoTracePlugin for `gotrace_event`: a TraceSource's batches are the plugin ABI's events, written once.
        .target(
            name: "GoTrace",
            dependencies: ["GoTraceFormat", "CGoTracePlugin"]
        ),
        .target(
            name: "GoTraceGo",
            dependencies: ["GoTrace"]
        ),
        .executableTarget(
            name: "gotrace",
            dependencies: [
                "GoTrace",
                "GoTraceGo",
                "GoTraceAnalysis",
                "GoProfile",
                "GoTraceShared",
                "GoSymbolize",
                "CRecorderSpawn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // C only: how `gotrace record` starts the program (fork, prctl(PR_SET_PDEATHSIG), exec).
        .target(name: "CRecorderSpawn"),
        .executableTarget(
            name: "PrintMessage",
            dependencies: ["GoRuntime"],
            path: "Examples/PrintMessage"
        ),
        .executableTarget(
            name: "TraceScenarios",
            dependencies: ["GoRuntime"],
            path: "Examples/TraceScenarios"
        ),
        .executableTarget(
            name: "ConcurrentFetch",
            dependencies: ["GoRuntime"],
            path: "Examples/ConcurrentFetch"
        ),
        .executableTarget(
            name: "ProfileScenarios",
            dependencies: ["GoRuntime"],
            path: "Examples/ProfileScenarios"
        ),
        // Shared by the end-to-end test targets: running built executables (Tests/Support).
        .target(
            name: "GotraceTestSupport",
            path: "Tests/Support"
        ),
        .testTarget(
            name: "GoRuntimeTests",
            // NetLoadClient is a dependency so `swift test` builds it: the 10,000-connection test runs it.
            // DebugServerFixture and gotrace: the debug server's end-to-end tests run them.
            dependencies: ["GoRuntime", "NetLoadClient", "DebugServerFixture", "gotrace", "GotraceTestSupport"]
        ),
        // A program the debug-server tests diagnose while it runs (blocked goroutines, a CPU hot spot).
        .executableTarget(
            name: "DebugServerFixture",
            dependencies: ["GoRuntime"],
            path: "Tests/Fixtures/DebugServerFixture"
        ),
        // The client half of that test, in its own process so each side needs one descriptor per connection.
        .executableTarget(
            name: "NetLoadClient",
            dependencies: ["GoRuntime"],
            path: "Tests/Fixtures/NetLoadClient"
        ),
        .executableTarget(
            name: "TraceFixtureEmitter",
            dependencies: ["GoTrace"],
            path: "Tests/Fixtures/TraceFixtureEmitter"
        ),
        .testTarget(
            name: "GoTraceTests",
            // The executables are dependencies so `swift test` builds them: the end-to-end tests run them.
            dependencies: ["GoTrace", "gotrace", "TraceFixtureEmitter", "TraceScenarios", "PrintMessage", "GotraceTestSupport"]
        ),
        .target(name: "CGoTracePlugin"),
        // What both the report's host and the plugins use, so that the host does not link the plugin kit:
        // the wire codes (KindCode, ParkReasonName), IdTable, ByteWriter and the JSON writer. No Swift type of
        // it crosses the plugin boundary (each side links its own copy; see GoTracePluginKit/Analyzer.swift).
        .target(name: "GoTraceShared"),
        .target(
            name: "GoTracePluginKit",
            // GoTraceShared is re-exported: a plugin imports the kit alone.
            dependencies: ["CGoTracePlugin", "GoTraceShared"]
        ),
        .systemLibrary(
            name: "CLibElf",
            pkgConfig: "libelf",
            providers: [.apt(["libelf-dev", "libdw-dev"])]
        ),
        // Source lines from DWARF, through libdw loaded on demand (LibDW.swift): GoSymbolize's and the runtime's.
        .target(name: "GoDWARF"),
        .target(
            name: "GoSymbolize",
            dependencies: ["CLibElf", "GoDWARF"]
        ),
        .target(
            name: "GoTraceAnalysis",
            // GoTraceShared for the wire codes and IdTable (the goroutine model's records of large ids).
            dependencies: ["GoTrace", "GoTraceGo", "GoSymbolize", "CGoTracePlugin", "GoTraceShared"]
        ),
        .target(
            name: "LeakAnalyzer",
            dependencies: ["GoTracePluginKit"],
            path: "Plugins/Leak"
        ),
        .target(
            name: "LatencyAnalyzer",
            dependencies: ["GoTracePluginKit", .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "Plugins/Latency"
        ),
        .target(
            name: "SummaryAnalyzer",
            dependencies: ["GoTracePluginKit"],
            path: "Plugins/Summary"
        ),
        .target(
            name: "GoProfile",
            // GoPprof: the pprof encoder and gzip, shared with the runtime's debug server. GoTraceShared for
            // ByteWriter, whose JSON string escaping is gotrace's one escaper.
            dependencies: ["GoPprof", "GoTraceShared"],
            // The report page's and the flame graph's markup, style and script, as files (read, linted and
            // diffed as code), compiled into the module as byte arrays: the page stays one self-contained file.
            resources: [
                .embedInCode("Resources/report-body.html"), .embedInCode("Resources/report.css"),
                .embedInCode("Resources/report.js"), .embedInCode("Resources/flamegraph.css"),
                .embedInCode("Resources/flamegraph.js"),
            ]
        ),
        .target(
            name: "FlamegraphAnalyzer",
            dependencies: ["GoTracePluginKit", "GoProfile"],
            path: "Plugins/Flamegraph"
        ),
        .target(
            name: "HTMLReportAnalyzer",
            dependencies: ["GoTracePluginKit", "GoProfile"],
            path: "Plugins/HTMLReport"
        ),
        .testTarget(
            name: "GoTraceSharedTests",
            // GoTrace: the wire codes are checked against the format's own tables. GoSymbolize: the runtime
            // demangler's full names, which FrameNames rewrites.
            dependencies: ["GoTraceShared", "GoTrace", "GoSymbolize", "GotraceTestSupport"]
        ),
        .testTarget(
            name: "GoProfileTests",
            dependencies: ["GoProfile"]
        ),
        .testTarget(
            name: "GoTracePluginKitTests",
            dependencies: ["GoTracePluginKit"]
        ),
        .testTarget(
            name: "GoTraceGoTests",
            // gotrace runs the reports; Go programs under Tests/Fixtures/GoPrograms are built with `go build`.
            // GoTracePluginKit for FrameNames (pprof's short names of Go functions); GoTraceAnalysis for the one
            // opener (TraceFile.open), which picks the Go reader by the header.
            dependencies: ["GoTraceGo", "GoTrace", "GoTraceAnalysis", "GoProfile", "GoTracePluginKit", "gotrace",
                           "GotraceTestSupport"]
        ),
        .testTarget(
            name: "GoTraceAnalysisTests",
            // gotrace is a dependency so the end-to-end tests can run it; the plugin libraries are built by
            // `swift build` (all products) and found next to it. ProfileScenarios is recorded by the export tests.
            dependencies: ["GoTraceAnalysis", "GoTrace", "GoTraceGo", "GoSymbolize", "GoProfile", "gotrace", "ProfileScenarios",
                           // GroundTruthTests records the scenarios; GoTracePluginKit for the stack-trimming tests.
                           "TraceScenarios", "GoTracePluginKit", "GotraceTestSupport"]
        ),
    ]
)
