// libFuzzer entry for the reader of Go 1.22+ execution traces (GoTraceReader122): any byte string must read
// without a trap, an allocation sized by an unchecked field, or a hang; both iteration interfaces are
// exercised. An input without a Go 1.22+ header gets one (the version chosen by its size), so mutations are
// spent on batches and events rather than on the header check.

import FuzzSupport
import GoTrace
import GoTraceGo

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGoTraceReader122(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var bytes = fuzzInput(data, size)
    let isGenerational: Bool
    if case .supported(let version) = GoTraceHeader.classify(Array(bytes.prefix(GoTraceHeader.size))) {
        isGenerational = GoTraceHeader.isGenerational(version)
    } else {
        isGenerational = false
    }
    if !isGenerational {
        let minor = [22, 23, 25, 26][size % 4]
        var header = Array("go 1.\(minor) trace".utf8)
        header += [UInt8](repeating: 0, count: GoTraceHeader.size - header.count)
        bytes = header + bytes
    }

    // The dump's interface: definitions first, then events as TraceEvent.
    let reader = GoTraceReader122(bytes: bytes, fileName: "fuzz", includeSystemGoroutines: size % 2 == 0)
    while let event = reader.next() { _ = TraceTextFormatter.line(for: event, strings: reader.string) }
    for frame in reader.frames.values { _ = frame.description }

    // The report's interface: mapped events in batches.
    let batched = GoTraceReader122(bytes: bytes, fileName: "fuzz")
    let buffer = UnsafeMutableBufferPointer<GoMappedEvent>.allocate(capacity: 64)
    defer { buffer.deallocate() }
    while batched.nextMapped(into: buffer) > 0 {}
    return 0
}
