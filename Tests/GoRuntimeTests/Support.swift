import GoRuntime
import Synchronization

/// A value shared between goroutines; every access goes through the caller's own synchronisation
/// (a GoRuntime Mutex, a channel hand-off, or a WaitGroup), which is what the tests exercise.
final class Shared<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// Chi-square statistic of observed counts against a uniform expectation.
func chiSquare(_ counts: [Int]) -> Double {
    let total = Double(counts.reduce(0, +))
    let expected = total / Double(counts.count)
    return counts.reduce(0.0) { $0 + pow2(Double($1) - expected) / expected }
}

private func pow2(_ x: Double) -> Double { x * x }
