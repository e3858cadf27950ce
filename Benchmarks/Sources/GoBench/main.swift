// GoBench: the Go peers' workloads (/work/shared/peers/go) on GoRuntime, one per invocation.
//
//   GoBench <spawn|pingpong|ring|workers|parkmem> [-procs P] [-n N] [-g G] [-hops H] [-w W] [-j J] [-b B]
//           [-rounds R]
//
// Flags take the peer's names and defaults (`-n 5` or `-n=5`). The number of procs comes from -procs, else
// from GOMAXPROCS (so one environment drives both runtimes), else the online CPU count. Prints one
// `RESULT impl=gotrace bench=... procs=... key=value ...` line with the keys the peer prints.
import GoRuntime

import Glibc  // Linux only: the memory figures come from /proc/self/status

/// Go-style `-name value` / `-name=value` integer flags.
struct Arguments {
    var values: [String: String] = [:]

    init(_ argv: ArraySlice<String>) {
        var rest = argv[...]
        while let arg = rest.popFirst() {
            guard arg.hasPrefix("-") else { usage("unexpected argument \(arg)") }
            let flag = arg.drop(while: { $0 == "-" })
            if let eq = flag.firstIndex(of: "=") {
                values[String(flag[..<eq])] = String(flag[flag.index(after: eq)...])
            } else if let value = rest.popFirst() {
                values[String(flag)] = value
            } else {
                usage("flag \(arg) needs a value")
            }
        }
    }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text.filter { $0 != "_" }), value > 0 else { usage("bad value for -\(name): \(text)") }
        return value
    }
}

func usage(_ message: String) -> Never {
    var stderr = StandardError()
    print("GoBench: \(message)", to: &stderr)
    print("usage: GoBench <spawn|pingpong|ring|workers|parkmem> [-procs P] [-n N] [-g G] [-hops H] "
        + "[-w W] [-j J] [-b B] [-rounds R]", to: &stderr)
    exit(2)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        // write(2) on fd 2 rather than fputs to `stderr`, a C global Swift 6 will not read from here.
        var bytes = Array(string.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// Locals rather than top-level variables: those would be main-actor globals, which a goroutine may not read.
func runMain(_ argv: [String]) {
    let benches: [String: @Sendable (Arguments) -> Void] = [
        "spawn": spawnBench,
        "pingpong": pingPongBench,
        "ring": ringBench,
        "workers": workersBench,
        "parkmem": parkMemBench,
        "netecho": netEchoBench,
        "httpserve": httpServeBench,
    ]
    guard argv.count >= 2, let bench = benches[argv[1]] else { usage("name a benchmark") }
    let args = Arguments(argv.dropFirst(2))
    let environmentProcs = getenv("GOMAXPROCS").flatMap { Int(String(cString: $0)) }
    let procs = args.int("procs", environmentProcs ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    Runtime.run(maxProcs: procs) {
        bench(args)
    }
}

runMain(CommandLine.arguments)
