// libFuzzer entry for the Go execution-trace reader: any byte string must read without a trap, an
// allocation sized by an unchecked field, or a hang; both iteration interfaces are exercised.

import FuzzSupport
import GoTrace
import GoTraceGo

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGoTraceReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)

    // The dump's interface: definitions first, then events as TraceEvent.
    let reader = GoTraceReader(bytes: bytes, fileName: "fuzz", includeSystemGoroutines: size % 2 == 0)
    while let event = reader.next() { _ = TraceTextFormatter.line(for: event, strings: reader.string) }
    for frame in reader.frames.values { _ = frame.description }

    // The report's interface: mapped events in batches.
    let batched = GoTraceReader(bytes: bytes, fileName: "fuzz")
    let buffer = UnsafeMutableBufferPointer<GoMappedEvent>.allocate(capacity: 64)
    defer { buffer.deallocate() }
    while batched.nextMapped(into: buffer) > 0 {}
    return 0
}
