// libFuzzer entry for the gotrace trace reader: any byte string must read without a trap, an allocation
// sized by an unchecked field, or a hang, and every diagnostic must name an offset inside the input. Each
// input is read as it is and with its checksums repaired (see FuzzSupport/ChecksumRepair.swift).

import FuzzSupport
import GoTrace

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    readWholly(bytes)
    let repaired = repairingChecksums(bytes)
    if repaired != bytes { readWholly(repaired) }
    frame(bytes)
    return 0
}

/// Reads every event, formats it as `gotrace dump` does, and checks the reader's own accounting.
private func readWholly(_ bytes: [UInt8]) {
    let reader = TraceReader(bytes: bytes, fileName: "fuzz")
    var count: UInt64 = 0
    while let event = reader.next() {
        count += 1
        _ = TraceTextFormatter.line(for: event, strings: reader.string)
    }
    precondition(count == reader.eventsRead, "eventsRead disagrees with the events yielded")
    for diagnostic in reader.diagnostics {
        precondition(diagnostic.offset <= UInt64(bytes.count), "diagnostic offset past the end: \(diagnostic)")
    }
}

/// The recorder's pipe framer on the same bytes, fed in two uneven pieces.
private func frame(_ bytes: [UInt8]) {
    var framer = TraceStreamFramer()
    let split = bytes.count / 3
    var framed = 0
    bytes.withUnsafeBytes { raw in
        framer.append(UnsafeRawBufferPointer(rebasing: raw[..<split]))
        while case .success(let unit)? = framer.nextUnit() { framed += size(of: unit) }
        framer.append(UnsafeRawBufferPointer(rebasing: raw[split...]))
        while case .success(let unit)? = framer.nextUnit() { framed += size(of: unit) }
    }
    precondition(framed + framer.bufferedByteCount <= bytes.count || framer.failure != nil,
                 "framer returned more bytes than it was given")
    if let failure = framer.failure {
        precondition(failure.offset <= UInt64(bytes.count), "framer failure offset past the end: \(failure)")
    }
}

private func size(of unit: TraceStreamFramer.Unit) -> Int {
    switch unit {
    case .fileHeader(let bytes, _), .chunk(let bytes, _): bytes.count
    }
}
