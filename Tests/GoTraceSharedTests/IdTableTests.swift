import GoTraceShared
import GotraceTestSupport
import Testing

/// The open-addressing map of the per-event paths (`IdTable`: the plugins', and the goroutine model's for
/// large ids) behaves as a `Dictionary` does under random inserts, updates and removals — removal's backward shift
/// included, which only shows with colliding keys, hence the small key ranges.
@Suite struct IdTableTests {
    @Test(arguments: [UInt64(64), 5_000, UInt64.max])
    func idTableMatchesADictionary(keyRange: UInt64) {
        var generator = SeededGenerator(state: keyRange)
        var table = IdTable<UInt64>()
        var reference: [UInt64: UInt64] = [:]
        for step in 0..<20_000 {
            let key = UInt64.random(in: 0...keyRange - 1, using: &generator) &* 0x1000  // addresses: low bits zero
            switch UInt8.random(in: 0..<4, using: &generator) {
            case 0, 1:
                table[key] = UInt64(step)
                reference[key] = UInt64(step)
            case 2:
                #expect(table.removeValue(forKey: key) == reference.removeValue(forKey: key))
            default:
                let holder = reference[key]
                table.removeValue(forKey: key) { $0 % 2 == 0 }
                if let holder, holder % 2 == 0 { reference[key] = nil }
            }
            #expect(table.count == reference.count)
        }
        for (key, value) in reference { #expect(table[key] == value) }
        #expect(table[UInt64.max] == reference[UInt64.max])
    }

    /// A value changed in place, as the goroutine model's records of large ids are.
    struct Record { var label: UInt64 = 0 }

    @Test func recordsChangedInPlaceMatchADictionary() {
        // As the goroutine model keeps large ids: records changed in place, created on first use.
        let largeIds: UInt64 = 1 << 20
        var generator = SeededGenerator(state: 7)
        var records = IdTable<Record>()
        var reference: [UInt64: UInt64] = [:]
        for step in 0..<20_000 {
            let id = largeIds + UInt64.random(in: 0..<3_000, using: &generator)
            if Bool.random(using: &generator) {
                records.withValue(forKey: id, inserting: Record()) { $0.label = UInt64(step) }
                reference[id] = UInt64(step)
            } else {
                records.removeValue(forKey: id)
                reference[id] = nil
            }
        }
        #expect(Set(records.allKeys) == Set(reference.keys))
        for (id, label) in reference { #expect(records[id]?.label == label) }
        #expect(records[largeIds + 5_000] == nil)
    }
}
