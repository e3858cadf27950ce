// Which goroutine ran on which P, and when: the running slices from which every analyzer that shows P busy
// time (the summary, the HTML report) derives it, so that two reports of one trace cannot disagree on it.
//
// Design note
// -----------
// Rules, applied to the host's transitions in order:
//   1. A slice opens when a goroutine moves to RUNNING, on the P of the event that moved it. An event
//      without a P opens none: that goroutine's time is no P's busy time.
//   2. It closes when the goroutine leaves RUNNING, whatever P that event names (a running goroutine does
//      not change P; an `end` may be written after the P is gone).
//   3. A P runs one goroutine at a time: a goroutine starting on a P closes the slice of one still shown
//      there. The trace lacks that goroutine's stop (a snapshot's running goroutine, a lost event), and
//      without this rule the P would be more than 100% busy.
//   4. Slices still open when the trace ends close there (`finish`).
// Memory: one entry per goroutine id below `denseLimit` and per P id below `denseLimit` (flat arrays, the
// summary's pass must cost little next to the decoder's), larger ids in `IdTable`s; never per event.

/// Running slices (P, goroutine, start, end) derived from the host's transitions; see the rules above.
public struct RunningSlices {
    /// One goroutine's run on one P, in nanoseconds since the trace start; `end > start`.
    public struct Slice: Sendable, Equatable {
        /// The P the goroutine ran on.
        public var proc: UInt64
        /// The goroutine.
        public var goroutine: UInt64
        /// When it started running.
        public var start: UInt64
        /// When it stopped (or the trace ended).
        public var end: UInt64
    }

    struct Open {
        var proc: UInt64 = none
        var start: UInt64 = 0
    }

    static let none = UInt64.max
    static let denseLimit: UInt64 = 1 << 20
    var openDense: [Open] = []
    var openSparse = IdTable<Open>()
    /// The goroutine each P was last seen starting, by P id (`none` when it has stopped).
    var onProcDense: [UInt64] = []
    var onProcSparse = IdTable<UInt64>()

    /// An empty set: nothing running.
    public init() {}

    /// Applies one transition; calls `closed` for each slice it ends (at most two).
    ///
    /// - Parameters:
    ///   - transition: The next transition of the batch.
    ///   - batch: The batch holding the transition's event (for its P).
    ///   - closed: Receives the slices this transition ends.
    @inline(__always)
    public mutating func apply(_ transition: gotrace_transition, in batch: EventBatch, closed: (Slice) -> Void) {
        let running = UInt8(GOTRACE_G_RUNNING.rawValue)
        let goroutine = transition.goroutine
        let time = transition.time_ns
        if transition.from == running {
            let open = take(goroutine)
            if open.proc != Self.none {
                setOnProc(open.proc, to: Self.none, ifNow: goroutine)
                if time > open.start { closed(Slice(proc: open.proc, goroutine: goroutine, start: open.start, end: time)) }
            }
        }
        guard transition.to == running else { return }
        let index = Int(transition.event_index)
        let proc = index < batch.events.count ? batch.events[index].proc : Self.none
        guard proc != Self.none else { return }
        let previous = exchangeOnProc(proc, goroutine)
        if previous != Self.none, previous != goroutine {
            let open = take(previous)
            if open.proc == proc {
                if time > open.start { closed(Slice(proc: proc, goroutine: previous, start: open.start, end: time)) }
            } else if open.proc != Self.none {
                put(previous, open)  // it was shown on another P since: not this P's to close
            }
        }
        put(goroutine, Open(proc: proc, start: time))
    }

    /// Closes every slice still open at `end`, in goroutine order; the set is empty afterwards.
    ///
    /// - Parameters:
    ///   - end: The trace's end (the last event's time).
    ///   - closed: Receives each slice.
    public mutating func finish(at end: UInt64, closed: (Slice) -> Void) {
        var remaining: [(UInt64, Open)] = []
        for (index, open) in openDense.enumerated() where open.proc != Self.none { remaining.append((UInt64(index), open)) }
        for goroutine in openSparse.allKeys.sorted() { remaining.append((goroutine, openSparse[goroutine]!)) }
        for (goroutine, open) in remaining where end > open.start {
            closed(Slice(proc: open.proc, goroutine: goroutine, start: open.start, end: end))
        }
        self = RunningSlices()
    }

    private mutating func take(_ goroutine: UInt64) -> Open {
        if goroutine < Self.denseLimit {
            let index = Int(goroutine)
            guard index < openDense.count else { return Open() }
            defer { openDense[index] = Open() }
            return openDense[index]
        }
        return openSparse.removeValue(forKey: goroutine) ?? Open()
    }

    private mutating func put(_ goroutine: UInt64, _ open: Open) {
        if goroutine < Self.denseLimit {
            let index = Int(goroutine)
            if index >= openDense.count {
                openDense.append(contentsOf: repeatElement(Open(), count: max(index + 1 - openDense.count, openDense.count)))
            }
            openDense[index] = open
        } else {
            openSparse.insert(goroutine, open)
        }
    }

    /// Sets P `proc`'s goroutine to `goroutine` and returns the one it had (`none` if none).
    private mutating func exchangeOnProc(_ proc: UInt64, _ goroutine: UInt64) -> UInt64 {
        if proc < Self.denseLimit {
            let index = Int(proc)
            if index >= onProcDense.count {
                onProcDense.append(contentsOf: repeatElement(Self.none, count: index + 1 - onProcDense.count))
            }
            defer { onProcDense[index] = goroutine }
            return onProcDense[index]
        }
        defer { onProcSparse.insert(proc, goroutine) }
        return onProcSparse[proc] ?? Self.none
    }

    private mutating func setOnProc(_ proc: UInt64, to value: UInt64, ifNow goroutine: UInt64) {
        if proc < Self.denseLimit {
            let index = Int(proc)
            if index < onProcDense.count, onProcDense[index] == goroutine { onProcDense[index] = value }
        } else if onProcSparse[proc] == goroutine {
            onProcSparse.insert(proc, value)
        }
    }
}
