import GoTrace
import GoTraceGo

/// The one opener of trace files: reads the file's first bytes once and hands the open file to the reader
/// of its format — Go 1.22+ (`GoTraceReader122`), Go 1.11–1.21 (`GoTraceReader`, also for Go versions no
/// reader supports, which it reports), else `.gtrace` (`GtraceSource`, which reports a file that is no trace).
/// It lives here, the first module that sees every format (GoTrace's `TraceSource` design note says why).
public enum TraceFile {
    public static func open(path: String, includeSystemGoroutines: Bool = GoTraceReader.systemGoroutinesRequested)
        -> any TraceSource
    {
        switch FileByteSource.open(path: path) {
        case .failure(let problem): return GtraceSource(fileName: path, openProblem: problem)
        case .success(let file): return open(file, fileName: path, includeSystemGoroutines: includeSystemGoroutines)
        }
    }

    /// A trace held in memory; `fileName` names it in diagnostics.
    public static func open(bytes: [UInt8], fileName: String = "<memory>", includeSystemGoroutines: Bool = false)
        -> any TraceSource
    {
        open(MemoryByteSource(bytes), fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
    }

    private static func open(_ bytes: any TraceByteSource, fileName: String, includeSystemGoroutines: Bool)
        -> any TraceSource
    {
        switch GoTraceHeader.classify(bytes.read(at: 0, count: GoTraceHeader.size) ?? []) {
        case .notGo:
            return GtraceSource(bytes: bytes, fileName: fileName)
        case .supported(let version) where GoTraceHeader.isGenerational(version):
            return GoTraceReader122(source: bytes, fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
        case .supported, .unsupported:
            return GoTraceReader(source: bytes, fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
        }
    }
}
