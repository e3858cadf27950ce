#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func writeToStandardError(_ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(STDERR_FILENO, bytes, count)
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
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                // Safety: offset < bytes.count keeps the pointer inside the buffer.
                let written = write(STDOUT_FILENO, bytes.baseAddress!.advanced(by: offset), bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }  // stdout closed (e.g. `| head`): stop quietly
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
