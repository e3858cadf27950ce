// Result lines and memory readings, in the format of the Go peers' `internal/res` package, so that one
// summarizer reads both: `RESULT impl=gotrace bench=<name> procs=<P> key=value ...`, floats with two decimals.
import Glibc  // Linux only: the memory figures come from /proc/self/status

/// A value printed the way Go's `res.Line` prints it: integers as they are, floats as `%.2f`.
enum Value {
    case int(Int)
    case float(Double)

    var text: String {
        switch self {
        case .int(let i): return String(i)
        case .float(let x): return formatFixed2(x)
        }
    }
}

/// `%.2f` without Foundation (Foundation would add several MiB to the RSS figures being measured).
func formatFixed2(_ x: Double) -> String {
    guard x.isFinite else { return String(x) }
    let hundredths = (abs(x) * 100).rounded()
    guard hundredths < 9e18 else { return String(x) }
    let h = Int(hundredths)
    let frac = h % 100
    return (x < 0 && h != 0 ? "-" : "") + String(h / 100) + "." + (frac < 10 ? "0" : "") + String(frac)
}

/// Prints one `RESULT` line; `pairs` keep the peer's key order.
func resultLine(_ bench: String, procs: Int, _ pairs: [(String, Value)]) {
    var line = "RESULT impl=gotrace bench=\(bench) procs=\(procs)"
    for (key, value) in pairs {
        line += " \(key)=\(value.text)"
    }
    print(line)
}

/// `VmRSS` and `VmHWM` (peak RSS) in KiB from /proc/self/status, or -1 each where unreadable, as the peer does.
func procStatusKiB() -> (rss: Int, hwm: Int) {
    var rss = -1
    var hwm = -1
    guard let file = fopen("/proc/self/status", "r") else { return (rss, hwm) }
    defer { fclose(file) }
    // Lines of /proc/self/status are short; 256 bytes holds every one we look at.
    var buffer = [CChar](repeating: 0, count: 256)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard fields.count >= 2, let value = Int(fields[1]) else { continue }
        switch fields[0] {
        case "VmRSS:": rss = value
        case "VmHWM:": hwm = value
        default: break
        }
    }
    return (rss, hwm)
}

/// The process's page tables (VmPTE), in KiB: not part of RSS, but memory all the same.
func pageTableKiB() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 256)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        if fields.count >= 2, fields[0] == "VmPTE:", let value = Int(fields[1]) { return value }
    }
    return -1
}

/// Median of `xs` (mean of the middle two for an even count), 0 for none: the peer's `res.Median`.
func median(_ xs: [Double]) -> Double {
    let sorted = xs.sorted()
    let n = sorted.count
    if n == 0 { return 0 }
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/// Nanoseconds in a `Duration`, as a Double.
func nanoseconds(_ d: Duration) -> Double {
    let (seconds, attoseconds) = d.components
    return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
}
