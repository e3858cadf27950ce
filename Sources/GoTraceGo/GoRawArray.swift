/// A growable array of plain values for the Go 1.22+ reader's per-event state (a record per goroutine and per
/// M), written in place. Rejected: `Array`, whose every write through a class's stored property first checks
/// that its buffer is unique, for state that is never shared: with callgrind on `gotrace report` of a 1.2 M-event
/// Go 1.27 trace, 1,791 M instructions with `Array`, 1,651 M with this (−7.8%; the reader thread −17%).
///
/// Ownership: one owner, which calls `deallocate()` once (the reader's deinit); copies of the struct share
/// the storage, so none may be used after that, and only the owner grows it. One thread.
struct GoRawArray<Element: BitwiseCopyable> {
    private var base: UnsafeMutablePointer<Element>?
    private var capacity = 0
    private(set) var count = 0

    /// Precondition: `0 <= index < count` (checked in debug builds).
    subscript(index: Int) -> Element {
        // Safety: `index` is inside the `count` initialised elements of the allocation (asserted).
        unsafeAddress {
            assert(index >= 0 && index < count)
            return UnsafePointer(base.unsafelyUnwrapped + index)
        }
        nonmutating unsafeMutableAddress {
            assert(index >= 0 && index < count)
            return base.unsafelyUnwrapped + index
        }
    }

    mutating func append(_ element: Element) {
        reserve(count + 1)
        // Safety: `reserve` made room for element `count`; plain values need no deinitialisation.
        (base.unsafelyUnwrapped + count).initialize(to: element)
        count += 1
    }

    /// Appends `extra` copies of `element`.
    mutating func grow(by extra: Int, filling element: Element) {
        guard extra > 0 else { return }
        reserve(count + extra)
        // Safety: as in `append`, for elements `count..<count + extra`.
        (base.unsafelyUnwrapped + count).initialize(repeating: element, count: extra)
        count += extra
    }

    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = Swift.max(needed, capacity * 2, 16)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        // Safety: the old allocation holds `count` initialised plain values; it is freed after the move.
        if let base {
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = grown
        capacity = newCapacity
    }

    func deallocate() { base?.deallocate() }
}
