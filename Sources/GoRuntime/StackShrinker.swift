// StackShrinker.swift — the limit of growable stacks, and the pass that shrinks idle ones.
//
// The mechanism (slots, guard, growth faults, the shrink protocol and the invariant that makes it
// safe: nothing ever writes into another goroutine's stack) is described at the top of
// CGoRuntime/stack.c. This file holds the policy:
//   - a stack starts with 8 KiB accessible and may grow to `Runtime.maxStackSize` (1 MiB unless
//     GOTRACE_MAX_STACK or `Runtime.setMaxStackSize` say otherwise);
//   - a goroutine parked for 10 ms or more has its stack shrunk (a threshold each slot raises while its
//     goroutine keeps coming back soon after a shrink, and lowers again: CGoRuntime/stack.c). `Scheduler.shrinkIdleStacks()` is
//     one pass, callable by whoever monitors the scheduler; until a monitor thread exists, a
//     small thread of its own drives it, asleep whenever no goroutine has parked since its last
//     pass (the first park after that wakes it);
//   - the global pool keeps the pages of the 1,024 most recently freed stacks; the shrinker returns
//     those of older ones (a burst of a million goroutines would otherwise leave a page each).
import CGoRuntime
import GoTraceFormat

extension Scheduler {
    /// Accessible bytes of a fresh stack: two pages, most goroutines never need a third.
    static let initialStackBytes = 8 * 1024
    /// 1 MiB; 4 MiB in a sanitizer build, whose frames are larger (sanitizer_fibers.h).
    static let defaultStackLimit = 1024 * 1024 * Int(gort_sanitizer_stack_multiplier())
    /// How long a goroutine stays parked before its stack is shrunk: long against a channel
    /// hand-off or a mutex wait (microseconds), which then never pay a copy and a page fault,
    /// short against the life of an idle connection or worker.
    static let stackIdleNanoseconds: Int64 = 10_000_000

    /// GOTRACE_SHRINK_STACKS=0 turns the shrinking of idle stacks off (Go's GODEBUG=gcshrinkstackoff=1): for a
    /// program that would rather keep the pages than pay a copy and a fault when a long-parked goroutine
    /// resumes, and for measurements under valgrind, whose slowness makes every park look long
    /// (Benchmarks/callgrind.sh). The pool of freed stacks is still trimmed.
    static let shrinksIdleStacks = getenvString("GOTRACE_SHRINK_STACKS") != "0"

    /// GOTRACE_MAX_STACK: a byte count, optionally with a K, M or G suffix (powers of 1024).
    static var stackLimitFromEnvironment: Int? { byteCountFromEnvironment("GOTRACE_MAX_STACK", example: "4M") }

    /// GOTRACE_INITIAL_STACK: the accessible bytes of a fresh stack (default 8 KiB), as GOTRACE_MAX_STACK.
    /// A program whose goroutines all go deep can skip their first growths; and under valgrind 3.19, where
    /// a goroutine crashes soon after its stack's first growth fault (a jump into the stack), the runtime
    /// runs with stacks that never grow (Benchmarks/callgrind.sh sets 256K).
    static var initialStackFromEnvironment: Int? { byteCountFromEnvironment("GOTRACE_INITIAL_STACK", example: "64K") }

    private static func byteCountFromEnvironment(_ name: String, example: String) -> Int? {
        guard let text = getenvString(name) else { return nil }
        guard let bytes = parseByteCount(text), bytes > 0 else {
            writeStandardError("gotrace runtime: warning: ignoring \(name)=\(text) (want bytes, e.g. \(example))\n")
            return nil
        }
        return bytes
    }

    /// One shrink pass: shrinks the stack of every goroutine parked for at least
    /// `stackIdleNanoseconds`. Returns how many it shrank, and when (coarse monotonic clock) the
    /// next parked stack becomes old enough (nil: none is waiting). Any thread may call it.
    @discardableResult
    func shrinkIdleStacks() -> (shrunk: Int, nextDue: Int64?) {
        var due: Int64 = -1
        let visitor: gort_shrink_visitor? = tracer.active.load(ordering: .relaxed)
            ? { _, goroutine, old, new in GoRuntime.tracer.emit(.stackShrink, goroutine, old, new) } : nil
        let shrunk = gort_stack_shrink_idle(Self.stackIdleNanoseconds, &due, visitor, nil)
        return (Int(shrunk), due >= 0 ? due : nil)
    }

    /// Returns the pages of pooled stacks beyond the `residentPoolLimit` most recently freed (left
    /// over from a burst of goroutines) to the OS; the slots stay reserved for reuse.
    func trimStackPool() {
        gort_lock(lock)
        let surplus = freeStacks.count - Self.residentPoolLimit
        guard surplus > 0 else {
            gort_unlock(lock)
            return
        }
        // The oldest first: the end of the pool is what spawns reuse next.
        var trimmed = Array(freeStacks.prefix(surplus))
        freeStacks.removeFirst(surplus)
        gort_unlock(lock)
        var slots = trimmed.map(\.slot)
        slots.sort()
        slots.withUnsafeBufferPointer { gort_stack_release_pooled($0.baseAddress, $0.count) }
        gort_lock(lock)
        releasedStacks.append(contentsOf: trimmed)
        gort_unlock(lock)
        trimmed.removeAll()
    }

    /// Starts the thread that runs the shrink passes. Called once, when the scheduler starts.
    func startStackShrinker() {
        // 256 KiB: the pass needs little, but while tracing it emits events, which may compress a
        // full chunk (zlib) on this stack.
        let rc = gort_thread_create(stackShrinkerMain, nil, 256 * 1024)
        if rc != 0 { fatal("runtime: cannot create the stack shrinker thread (error \(rc))") }
    }
}

private func stackShrinkerMain(_: UnsafeMutableRawPointer?) {
    guard Scheduler.shrinksIdleStacks else {
        // Only the pool's trim, once a second: a timed sleep is not woken by parks (gort_stack_shrinker_wake).
        while true {
            scheduler.trimStackPool()
            gort_stack_shrinker_sleep(gort_nanotime_coarse() + 1_000_000_000)
        }
    }
    while true {
        let pass = scheduler.shrinkIdleStacks()
        scheduler.trimStackPool()
        gort_stack_shrinker_sleep(pass.nextDue ?? -1)
    }
}

func parseByteCount(_ text: String) -> Int? {
    var digits = Substring(text)
    var unit = 1
    if let last = digits.last?.uppercased() {
        switch last {
        case "K": unit = 1 << 10
        case "M": unit = 1 << 20
        case "G": unit = 1 << 30
        default: break
        }
        if unit != 1 { digits = digits.dropLast() }
    }
    guard let value = Int(digits), value >= 0, value <= Int.max / unit else { return nil }
    return value * unit
}

/// Goroutine stacks, as `Runtime.stackStatistics` reports them.
public struct StackStatistics: Sendable {
    /// Stack slots ever reserved (each is reused by later goroutines).
    public var slots: Int
    /// Slots that grow on demand behind a guard; the others (past the budget) have none.
    public var guardedSlots: Int
    /// How many guarded slots vm.max_map_count allows (each costs two mappings).
    public var guardBudget: Int
    /// Stacks currently shrunk: their goroutines are parked, their bytes in heap copies.
    public var shrunkStacks: Int
    /// Bytes those heap copies hold.
    public var shrunkBytes: Int
    /// Stacks shrunk since the process started.
    public var shrinks: Int
    /// Growth faults handled since the process started (each at least doubles a stack).
    public var growths: Int
    /// Bytes a fresh stack can use before its first growth.
    public var initialSize: Int
    /// The most a stack may grow to.
    public var limit: Int
}

extension Runtime {
    /// The most a goroutine's stack may grow to. A goroutine that needs more ends the process with
    /// `fatal error: stack overflow in goroutine N (limit X)` (status 2). Default 1 MiB (4 MiB in a
    /// sanitizer build, scripts/sanitizers.sh); the
    /// environment variable GOTRACE_MAX_STACK (e.g. `8M`) or `setMaxStackSize` changes it.
    public static var maxStackSize: Int { Int(gort_stack_limit()) }

    /// Sets the stack limit (rounded up to pages) and returns the previous one, as Go's
    /// debug.SetMaxStack does. Address space for the limit is reserved per stack when the first
    /// goroutine starts, so any size is accepted before that; afterwards, at most the limit in
    /// force then.
    /// Precondition: `bytes > 0`, and `bytes` fits the reservation once goroutines have started.
    @discardableResult
    public static func setMaxStackSize(_ bytes: Int) -> Int {
        precondition(bytes > 0, "setMaxStackSize: the limit must be positive")
        _ = scheduler  // its initialisation applies the default and GOTRACE_MAX_STACK: it must come first
        var previous = 0
        let accepted = gort_stack_set_limit(bytes, &previous)
        if !accepted {
            var raw = gort_stack_statistics_t()
            gort_stack_statistics(&raw)
            preconditionFailure(
                "setMaxStackSize: \(bytes) bytes exceeds the \(raw.reserve)-byte reservation made when the first goroutine started")
        }
        return Int(previous)
    }

    /// Counters of the stack arena: slots, guards, growths and shrunk stacks.
    public static var stackStatistics: StackStatistics {
        var raw = gort_stack_statistics_t()
        gort_stack_statistics(&raw)
        return StackStatistics(
            slots: Int(raw.slots), guardedSlots: Int(raw.guarded_slots), guardBudget: Int(raw.guard_budget),
            shrunkStacks: Int(raw.shrunk_stacks), shrunkBytes: Int(raw.shrunk_bytes), shrinks: Int(raw.shrinks),
            growths: Int(raw.growths), initialSize: Int(raw.initial), limit: Int(raw.limit))
    }
}
