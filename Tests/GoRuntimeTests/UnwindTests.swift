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

    @Test("the hashing walk sees the PCs the capturing walk stores: FNV-1a over them, and as many")
    func hashingWalkMatchesCapture() {
        var low: UInt = 0
        var high: UInt = 0
        gort_thread_stack_bounds(&low, &high)
        let (pcs, hash, hashedCount) = Self.walkBothWays(low: low, high: high)
        #expect(pcs.count >= 2, "the test's own frames at least")
        #expect(hashedCount == pcs.count)
        // FNV-1a with 64-bit words as the unit: the standard 64-bit offset basis and prime.
        var expected: UInt64 = 14_695_981_039_346_656_037
        for pc in pcs { expected = (expected ^ pc) &* 1_099_511_628_211 }
        #expect(hash == expected)
    }

    /// Both walks from one frame, as the tracer's hooks make them.
    @inline(never)
    private static func walkBothWays(low: UInt, high: UInt) -> (pcs: [UInt64], hash: UInt64, hashedCount: Int) {
        var pcs = [UInt64](repeating: 0, count: 32)
        let captured = gort_capture_stack(&pcs, 32, 1, low, high)
        var hashedCount = 0
        let hash = gort_stack_hash(32, 1, low, high, &hashedCount)
        return (Array(pcs[0..<captured]), hash, hashedCount)
    }
}
