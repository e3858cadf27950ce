// Durations written as Go writes them (`time.ParseDuration`): `2s`, `500ms`, `1m30s`, `1.5h`, `300us`.
//
// One parser for every duration option of the CLI (`record --flight-recorder`, `top --interval`). The grammar
// is Go's: one or more decimal numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `μs`,
// `ms`, `s`, `m`, `h`); a bare `0` is zero. Unlike Go, a sign is refused: no option takes a negative time.

/// A duration parsed from Go's notation, in nanoseconds.
public enum GoDuration {
    /// Why a text is not a duration.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "invalid duration '\(text)': \(reason) (write it as Go does: 2s, 500ms, 1m30s)" }
    }

    private static let units: [(suffix: String, nanoseconds: UInt64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// The nanoseconds `text` stands for.
    public static func nanoseconds(_ text: String) throws(ParseError) -> UInt64 {
        func failure(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        if text == "0" { return 0 }
        if text.isEmpty { throw failure("empty") }
        if text.hasPrefix("-") || text.hasPrefix("+") { throw failure("a sign is not allowed") }
        var rest = Substring(text)
        var total: UInt64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            if whole.isEmpty && fraction.isEmpty { throw failure("expected a number") }
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard !unitText.isEmpty else { throw failure("missing unit after \(whole)\(fraction.isEmpty ? "" : "." + fraction)") }
            guard let unit = units.first(where: { $0.suffix == unitText })?.nanoseconds else {
                throw failure("unknown unit '\(unitText)'")
            }
            rest = rest.dropFirst(unitText.count)
            guard let wholeValue = whole.isEmpty ? 0 : UInt64(whole) else { throw failure("out of range") }
            var (value, overflow) = wholeValue.multipliedReportingOverflow(by: unit)
            // The fraction, digit by digit, as Go does (so 1.5s is exactly 1,500,000,000 ns).
            var scale = unit
            for digit in fraction {
                scale /= 10
                if scale == 0 { break }
                let added = value.addingReportingOverflow(UInt64(digit.wholeNumberValue!) * scale)
                value = added.partialValue
                overflow = overflow || added.overflow
            }
            let sum = total.addingReportingOverflow(value)
            overflow = overflow || sum.overflow || sum.partialValue > UInt64(Int64.max)
            if overflow { throw failure("out of range") }
            total = sum.partialValue
        }
        return total
    }
}
