// Fatal.swift — fatal errors, reported as Go reports them, and process-wide hooks.
import CGoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { gort_write_all(2, $0.baseAddress, $0.count) }
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// Ends the process with status 2 after printing `fatal error: <message>` and the goroutine that
/// hit it, as Go does for unrecoverable runtime errors.
func fatal(_ message: String) -> Never {
    var report = "fatal error: \(message)\n"
    if let goroutine = Scheduler.currentGoroutine() {
        report += "\ngoroutine \(goroutine.id) [running]:\n"
        if goroutine.parentID > 0 { report += "\tcreated by goroutine \(goroutine.parentID)\n" }
    }
    writeStandardError(report)
    tracer.stop(waitNanoseconds: 50_000_000)
    gort_exit(2)
}

/// Goroutines currently inside `Runtime.blockingCall` (they may wake others: no deadlock verdict).
enum Syscalls {
    static let inProgress = Atomic<Int>(0)
    /// Blocking calls entered since the process started (tests, diagnostics).
    static let entered = Atomic<Int>(0)
}
