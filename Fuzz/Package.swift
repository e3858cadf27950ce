// swift-tools-version:6.0
//
// libFuzzer targets for the trace readers and the debug server's request parser, kept out of the main package so that its normal build and test
// never compile them. Built by scripts/fuzz.sh with `--sanitize=fuzzer --sanitize=address`; each target
// exports `LLVMFuzzerTestOneInput` and gets `main` from libFuzzer. See docs/reliability.md ("Fuzzing").
//
//   FuzzTraceReader   — GoTrace: file header, chunk headers, chunk codec (CRC, zlib), kind table, events,
//                       resynchronisation; plus the stream framer `gotrace record` uses on its pipe.
//   FuzzReportPath    — what `gotrace report` runs on a file: the fast path (FastEventSource through
//                       PipelinedEventSource) with its fallback to TraceReader, or the Go-trace path.
//   FuzzGoTraceReader — GoTraceGo: Go 1.11–1.21 execution traces (scan, order, map, definitions).
//   FuzzGoTraceReader122 — GoTraceGo: Go 1.22–1.27 execution traces (generations, batches, tables, order, map).
//   FuzzHTTPRequest   — GoRuntime: the debug server's request parsing (request line, header fields, bodies,
//                       request targets), fed in reads of 1 to 64 bytes.
import PackageDescription

let package = Package(
    name: "gotrace-fuzz",
    dependencies: [.package(name: "gotrace", path: "..")],
    targets: [
        // Checksum repair, so that mutations reach the decoding behind the CRCs (see ChecksumRepair.swift).
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "GoTrace", package: "gotrace")]
        ),
        .executableTarget(
            name: "FuzzTraceReader",
            dependencies: ["FuzzSupport", .product(name: "GoTrace", package: "gotrace")]
        ),
        .executableTarget(
            name: "FuzzReportPath",
            dependencies: ["FuzzSupport", .product(name: "GoTraceAnalysis", package: "gotrace")]
        ),
        .executableTarget(
            name: "FuzzGoTraceReader",
            dependencies: ["FuzzSupport", .product(name: "GoTraceGo", package: "gotrace"),
                           .product(name: "GoTrace", package: "gotrace")]
        ),
        .executableTarget(
            name: "FuzzGoTraceReader122",
            dependencies: ["FuzzSupport", .product(name: "GoTraceGo", package: "gotrace"),
                           .product(name: "GoTrace", package: "gotrace")]
        ),
        .executableTarget(
            name: "FuzzHTTPRequest",
            dependencies: ["FuzzSupport", .product(name: "GoRuntime", package: "gotrace")]
        ),
    ]
)
