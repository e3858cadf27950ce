import CGoRuntime
import Testing

@Suite("Frame-pointer walks")
struct UnwindTests {
    @Test("a frame pointer near the top of the address space ends the walk instead of wrapping past the bounds check")
    func frameNearAddressSpaceTop() {
        // A frame saved by gort_context_switch: r15, r14, r13, r12, rbx, rbp, then the return address.
        // Code built without frame pointers leaves any value in rbp; 2^64 − 8 once passed the check
        // `fp + 16 > high` (the sum wraps to 8) and the walk read it.
        let words = UnsafeMutablePointer<UInt>.allocate(capacity: 8)
        defer { words.deallocate() }
        words.initialize(repeating: 0, count: 8)
        words[5] = UInt.max - 7
        words[6] = 0x1234
        let low = UInt(bitPattern: words)
        let high = low + 8 * UInt(MemoryLayout<UInt>.stride)
        var pcs = [UInt64](repeating: 0, count: 8)
        let count = gort_capture_suspended_stack(words, &pcs, 8, low, high)
        #expect(count == 1)
        #expect(pcs[0] == 0x1234)
    }
}
