import GoTrace

/// Go's stack tables name frames by (pc, function, file, line); gotrace's stacks are lists of addresses. Both
/// Go readers give each distinct frame a synthetic address here — not its pc: Go lists inlined frames under
/// the same pc, so the pc alone does not name a frame — and one frame read twice (in two generations, or in
/// two stacks) has one address.
struct GoFrameTable {
    private(set) var frames: [UInt64: TraceFrame] = [:]
    private var addresses: [TraceFrame: UInt64] = [:]
    /// Synthetic addresses start above 0 and below any real code address, so no look-up confuses them.
    private var nextAddress: UInt64 = 0x10

    /// The address of `frame`, given on first sight.
    mutating func address(of frame: TraceFrame) -> UInt64 {
        if let known = addresses[frame] { return known }
        let address = nextAddress
        nextAddress += 1
        addresses[frame] = address
        frames[address] = frame
        return address
    }
}
