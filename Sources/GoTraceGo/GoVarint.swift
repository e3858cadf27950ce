extension UnsafeMutableBufferPointer<UInt8> {
    /// The unsigned LEB128 varint both Go trace formats use, at `position` (moved past it); nil if it runs
    /// to `limit` or past 64 bits. Precondition: `limit` ≤ `count`.
    /// Safety: every byte read is at an index below `limit`, so inside the buffer.
    @inline(__always)
    func goVarint(_ position: inout Int, limit: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < limit {
            let byte = self[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}
