// A map keyed by 64-bit ids (goroutine ids, object addresses) for analyzers' per-event bookkeeping.
// In GoTraceShared, the module the plugin kit re-exports and the host links without the kit.
//
// Design note
// -----------
// Analyzers keep per-goroutine or per-object state that changes on many events (the leak analyzer's mutex
// holders, the latency analyzer's spawn times). With Swift's `Dictionary` each operation is a SipHash:
// ~4% of a report per map. Keys here are ids and addresses, not attacker-chosen text, so a multiplicative
// (Fibonacci) hash is enough. Open addressing with linear probing in a power-of-two table at most half full;
// removal shifts the following entries of the probe run back (no tombstones), so the table's size follows
// the peak number of live entries, never the number of operations. `@inlinable` so that each plugin gets
// it specialised for its value type. The host's goroutine model (GoTraceAnalysis) keeps its records of
// goroutines with large ids in one too.

/// A map from 64-bit ids (goroutine ids, object addresses) to values, faster than `Dictionary` for an
/// analyzer's per-event bookkeeping because it does not hash its keys with SipHash.
///
/// Not for keys an attacker chooses (the hash is not randomised). Memory follows the largest number of
/// entries held at once.
public struct IdTable<Value> {
    @usableFromInline var keys: [UInt64]
    @usableFromInline var values: [Value?]
    @usableFromInline var used: [Bool]
    @usableFromInline var storedCount = 0
    /// The number of keys present.
    @inlinable public var count: Int { storedCount }

    /// An empty table.
    @inlinable
    public init() {
        keys = Array(repeating: 0, count: 16)
        values = Array(repeating: nil, count: 16)
        used = Array(repeating: false, count: 16)
    }

    /// Whether no key is present.
    @inlinable public var isEmpty: Bool { count == 0 }

    /// The home slot: the top bits of key × 2^64/φ, masked to the table.
    @inlinable @inline(__always)
    func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count - 1)
    }

    /// The slot holding `key`, or the empty slot where it would go (the table is never full).
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> (slot: Int, found: Bool) {
        let mask = keys.count - 1
        var slot = home(key)
        while used[slot] {
            if keys[slot] == key { return (slot, true) }
            slot = (slot &+ 1) & mask
        }
        return (slot, false)
    }

    /// The value of `key`, or nil if absent; setting nil removes the key.
    @inlinable
    public subscript(key: UInt64) -> Value? {
        get {
            let (slot, found) = find(key)
            return found ? values[slot] : nil
        }
        set {
            if let newValue { insert(key, newValue) } else { _ = removeValue(forKey: key) }
        }
    }

    /// Sets the value of `key`, replacing any value it had.
    @inlinable
    public mutating func insert(_ key: UInt64, _ value: Value) {
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
        storedCount += 1
    }

    /// `body` on the value of `key`, inserted as `initial` first if absent; the value is changed in place.
    @inlinable @inline(__always)
    public mutating func withValue<R>(forKey key: UInt64, inserting initial: @autoclosure () -> Value,
                                      _ body: (inout Value) -> R) -> R {
        var (slot, found) = find(key)
        if !found {
            if (count + 1) * 2 > keys.count {
                grow()
                slot = find(key).slot
            }
            keys[slot] = key
            values[slot] = initial()
            used[slot] = true
            storedCount += 1
        }
        return body(&values[slot]!)
    }

    /// Every key present, in no particular order.
    @inlinable
    public var allKeys: [UInt64] { keys.indices.filter { used[$0] }.map { keys[$0] } }

    /// Removes `key` and returns its value, if it was there.
    @inlinable @discardableResult
    public mutating func removeValue(forKey key: UInt64) -> Value? {
        let (slot, found) = find(key)
        guard found else { return nil }
        let value = values[slot]
        removeSlot(slot)
        return value
    }

    /// Removes `key` if `shouldRemove` says so for its value.
    @inlinable
    public mutating func removeValue(forKey key: UInt64, if shouldRemove: (Value) -> Bool) {
        let (slot, found) = find(key)
        guard found, let value = values[slot], shouldRemove(value) else { return }
        removeSlot(slot)
    }

    /// Backward-shift deletion: an entry later in the probe run moves into the hole when the hole lies
    /// (cyclically) between its home slot and where it is, so every entry stays reachable from its home.
    @inlinable
    mutating func removeSlot(_ found: Int) {
        let mask = keys.count - 1
        var hole = found
        var next = (hole &+ 1) & mask
        while used[next] {
            let wanted = home(keys[next])
            if (hole &- wanted) & mask <= (next &- wanted) & mask {
                keys[hole] = keys[next]
                values[hole] = values[next]
                hole = next
            }
            next = (next &+ 1) & mask
        }
        used[hole] = false
        values[hole] = nil
        storedCount -= 1
    }

    @usableFromInline
    mutating func grow() {
        let oldKeys = keys, oldValues = values, oldUsed = used
        let size = oldKeys.count * 2
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: nil, count: size)
        used = Array(repeating: false, count: size)
        storedCount = 0
        for index in oldKeys.indices where oldUsed[index] {
            if let value = oldValues[index] { insert(oldKeys[index], value) }
        }
    }
}
