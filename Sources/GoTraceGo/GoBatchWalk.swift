/// Where one batch lies in the bytes a Go reader holds: its events are at `start..<end`, its clock starts at
/// `ticks` (both formats give each batch a base time; its events count ticks from it).
struct GoBatchRange {
    var start: Int
    var end: Int
    var ticks: UInt64
}

/// One stream's place in its batches (a P's in Go 1.21 and before, an M's from 1.22): both readers decode
/// each stream lazily, one head event at a time, and move to the stream's next batch when one is used up.
struct GoBatchWalk {
    var batches: [GoBatchRange]
    var nextBatch = 0
    var position = 0
    var end = 0
    /// The clock of the last event decoded (the batch's base before its first).
    var ticks: UInt64 = 0

    init(batches: [GoBatchRange]) { self.batches = batches }

    /// Whether bytes are left at `position`, moving on to the next batch (and its clock) when this one is
    /// used up; false when the stream has no batch left.
    @inline(__always)
    mutating func hasBytes() -> Bool {
        while position >= end {
            guard nextBatch < batches.count else { return false }
            let batch = batches[nextBatch]
            nextBatch += 1
            position = batch.start
            end = batch.end
            ticks = batch.ticks
        }
        return true
    }
}
