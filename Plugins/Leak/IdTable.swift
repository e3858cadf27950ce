// A map from 64-bit ids to 64-bit ids for the leak analyzer's per-event bookkeeping.
//
// Design note
// -----------
// `holders` (mutex → holder) and `waitsOn` (goroutine → mutex) change on every lock event: with Swift's
// `Dictionary` that was a SipHash per operation, ~4% of a whole report. Keys here are addresses and
// goroutine ids, not attacker-chosen text, so a multiplicative hash is enough. Open addressing with
// linear probing in a power-of-two table kept at most half full; removal shifts the following entries
// back (no tombstones), so the table's size follows the number of live entries' peak, never the number
// of operations.

struct IdTable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var used: [Bool]
    private(set) var count = 0

    init() {
        keys = Array(repeating: 0, count: 16)
        values = Array(repeating: 0, count: 16)
        used = Array(repeating: false, count: 16)
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        // Fibonacci hashing: the top bits of key × 2^64/φ, masked to the table.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count - 1)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func find(_ key: UInt64) -> (slot: Int, found: Bool) {
        let mask = keys.count - 1
        var slot = home(key)
        while used[slot] {
            if keys[slot] == key { return (slot, true) }
            slot = (slot + 1) & mask
        }
        return (slot, false)
    }

    subscript(key: UInt64) -> UInt64? {
        get {
            let (slot, found) = find(key)
            return found ? values[slot] : nil
        }
        set {
            if let newValue { insert(key, newValue) } else { remove(key) }
        }
    }

    mutating func insert(_ key: UInt64, _ value: UInt64) {
        let (slot, found) = find(key)
        if found {
            values[slot] = value
            return
        }
        if (count + 1) * 2 > keys.count {
            grow()
            insert(key, value)
            return
        }
        keys[slot] = key
        values[slot] = value
        used[slot] = true
        count += 1
    }

    /// Removes `key` if it maps to `value` (or to anything, when `value` is nil).
    mutating func remove(_ key: UInt64, ifValue value: UInt64? = nil) {
        let (found, present) = find(key)
        guard present, value == nil || values[found] == value else { return }
        // Backward-shift deletion: move later entries of the probe run into the hole when their home slot
        // does not lie (cyclically) between the hole and them.
        let mask = keys.count - 1
        var hole = found
        var next = (hole + 1) & mask
        while used[next] {
            let wanted = home(keys[next])
            let distanceToNext = (next - wanted) & mask
            let distanceToHole = (hole - wanted) & mask
            if distanceToHole <= distanceToNext {
                keys[hole] = keys[next]
                values[hole] = values[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        used[hole] = false
        count -= 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values, oldUsed = used
        let size = oldKeys.count * 2
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: 0, count: size)
        used = Array(repeating: false, count: size)
        count = 0
        for index in oldKeys.indices where oldUsed[index] { insert(oldKeys[index], oldValues[index]) }
    }
}
