#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GoTrace

/// A line on stderr, written whole by the one write loop (`TraceFileWriter.writeAll`: short writes and EINTR
/// retried); an error writing it (stderr closed) is ignored.
func printError(_ line: String, terminator: String = "\n") {
    _ = try? TraceFileWriter.writeAll(Array((line + terminator).utf8), to: STDERR_FILENO)
}

/// Stdout with a 64 KiB buffer: `dump` prints millions of lines, and `print` flushes per line when stdout
/// is a pipe.
struct BufferedStandardOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    mutating func writeLine(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0a)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        // stdout closed (e.g. `| head`): the write fails and stops quietly.
        _ = try? TraceFileWriter.writeAll(buffer, to: STDOUT_FILENO)
        buffer.removeAll(keepingCapacity: true)
    }
}
