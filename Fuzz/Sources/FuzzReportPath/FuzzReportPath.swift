// libFuzzer entry for what `gotrace report` runs on a file: the input is written to a file (the fast path
// reads by path) and analysed with no plugins, so every event still goes through the source, the pipeline
// and the goroutine model. Covers FastEventSource and PipelinedEventSource, the TraceReader fallback for
// files the fast path declines, and the Go-trace path.

#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import GoTraceAnalysis

/// One scratch file per process, rewritten for each input (libFuzzer runs inputs one at a time).
nonisolated(unsafe) private var scratchPath: String = {
    let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(directory)/gotrace-fuzz-report-\(getpid()).trace"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReportPath(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    analyse(bytes)
    let repaired = repairingChecksums(bytes)
    if repaired != bytes { analyse(repaired) }
    return 0
}

private func analyse(_ bytes: [UInt8]) {
    let path = scratchPath
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(descriptor >= 0, "cannot create \(path)")
    bytes.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            // Safety: written < raw.count, so the range stays inside the buffer.
            let count = write(descriptor, raw.baseAddress! + written, raw.count - written)
            precondition(count > 0 || errno == EINTR, "cannot write \(path)")
            if count > 0 { written += count }
        }
    }
    close(descriptor)
    defer { unlink(path) }
    let outcome = AnalysisSession(source: TraceFile.open(path: path), plugins: []).run()
    _ = outcome.diagnostics
    _ = outcome.fatal
}
