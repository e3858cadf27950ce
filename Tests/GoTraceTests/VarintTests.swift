import Testing
@testable import GoTrace

@Suite struct VarintTests {
    static let edgeValues: [UInt64] = [
        0, 1, 127, 128, 255, 16383, 16384, 2_097_151, 2_097_152, UInt64(UInt32.max), 1 << 56 - 1, 1 << 56,
        1 << 63 - 1, 1 << 63, UInt64.max - 1, UInt64.max,
    ]

    @Test(arguments: edgeValues)
    func roundTripsThroughPointerWriterAndCheckedReader(value: UInt64) {
        var storage = [UInt8](repeating: 0xAA, count: maxVarintBytes + 1)
        let end = storage.withUnsafeMutableBytes { writeVarint(value, to: $0.baseAddress!, at: 1) }
        #expect(end - 1 == varintSize(value))
        var cursor = PayloadCursor(storage, offset: 1)
        #expect(cursor.readVarint() == value)
        #expect(cursor.offset == end)

        var appended: [UInt8] = []
        appendVarint(value, to: &appended)
        #expect(appended == Array(storage[1..<end]))
    }

    @Test func sizesAtSevenBitBoundaries() {
        #expect(varintSize(0) == 1)
        #expect(varintSize(127) == 1)
        #expect(varintSize(128) == 2)
        #expect(varintSize(16383) == 2)
        #expect(varintSize(16384) == 3)
        #expect(varintSize(UInt64.max) == 10)
    }

    @Test func rejectsTruncatedOverlongAndOverflowingEncodings() {
        var truncated = PayloadCursor([0x80, 0x80])
        #expect(truncated.readVarint() == nil)
        var empty = PayloadCursor([])
        #expect(empty.readVarint() == nil)
        // Eleven bytes: longer than any UInt64 needs.
        var overlong = PayloadCursor([UInt8](repeating: 0x80, count: 10) + [0x00])
        #expect(overlong.readVarint() == nil)
        // Ten bytes whose last group carries more than the single 64th bit.
        var overflowing = PayloadCursor([UInt8](repeating: 0xff, count: 9) + [0x02])
        #expect(overflowing.readVarint() == nil)
        var maximal = PayloadCursor([UInt8](repeating: 0xff, count: 9) + [0x01])
        #expect(maximal.readVarint() == UInt64.max)
    }

    @Test func byteReadsNeverPassTheEnd() {
        var cursor = PayloadCursor([1, 2, 3])
        #expect(cursor.readBytes(4) == nil)
        #expect(cursor.readBytes(-1) == nil)
        #expect(cursor.readBytes(3) == [1, 2, 3])
        #expect(cursor.readByte() == nil)
    }
}
