/// Formats events as the one-line text of `gotrace dump`:
///
///     0.000001200 M1 P0 G5 park goroutine=g5 reason=chan-receive stack=3
///
/// time in seconds since the trace start (nanosecond digits), the M, the P and goroutine the event concerns
/// (`-` when unknown), the kind name, then each argument as `name=value`, formatted by its role in the kind
/// table. String ids are resolved through the reader's string table as it stands when the event is read
/// (definitions always precede their uses in the merged order); stacks are printed as ids, and each `stack`
/// definition event prints its program counters.
public enum TraceTextFormatter {
    public static func line(for event: TraceEvent, strings: (UInt64) -> String?) -> String {
        var line = timestamp(event.nanoseconds)
        line += " M\(event.machine)"
        line += event.proc.map { " P\($0)" } ?? " P-"
        line += event.goroutine.map { " G\($0)" } ?? " G-"
        line += " " + event.spec.name
        for (index, value) in event.arguments.enumerated() {
            let argument = index < event.spec.arguments.count
                ? event.spec.arguments[index] : ArgumentSpec("arg\(index)", .number)
            line += " \(argument.name)=" + format(value, role: argument.role, strings: strings)
        }
        return line
    }

    /// `s.nnnnnnnnn`.
    public static func timestamp(_ nanoseconds: UInt64) -> String {
        let fraction = String(nanoseconds % 1_000_000_000)
        return "\(nanoseconds / 1_000_000_000)." + String(repeating: "0", count: 9 - fraction.count) + fraction
    }

    public static func format(_ value: TraceValue, role: ArgumentRole, strings: (UInt64) -> String?) -> String {
        switch value {
        case .bytes(let bytes):
            return quoted(String(decoding: bytes, as: UTF8.self))
        case .numbers(let numbers):
            let hex = role == .programCounters || role == .address
            return "[" + numbers.map { hex ? hexadecimal($0) : String($0) }.joined(separator: " ") + "]"
        case .number(let number):
            switch role {
            case .goroutine: return "g\(number)"
            case .proc: return "p\(number)"
            case .machine: return "m\(number)"
            case .stackID: return number == 0 ? "none" : String(number)
            case .stringID:
                return strings(number).map(quoted) ?? "#\(number)"
            case .parkReason:
                return ParkReason(rawValue: UInt8(clamping: number))?.name ?? "reason-\(number)"
            case .preemptKind:
                return PreemptKind(rawValue: UInt8(clamping: number))?.name ?? "preempt-\(number)"
            case .goroutineState:
                return GoroutineState(rawValue: UInt8(clamping: number))?.name ?? "state-\(number)"
            case .address, .programCounters: return hexadecimal(number)
            case .number, .byteCount, .text, .wallTimeNanoseconds: return String(number)
            }
        }
    }

    public static func hexadecimal(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// Double-quoted, with quotes, backslashes and control characters escaped so one event stays one line.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    result += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
