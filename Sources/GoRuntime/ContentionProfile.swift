// ContentionProfile.swift — Go's block and mutex profiles: where goroutines waited, and on which locks,
// weighted by time (`Runtime.setBlockProfileRate`, `Runtime.setMutexProfileFraction`, as Go's).
//
// Design note
// -----------
// Both are off by default and then cost the park path one relaxed load (`enabled`). When on, a park notes
// the monotonic time before it switches out, and the goroutine, once it runs again, decides whether to
// sample the wait and, if so, walks its own stack (the same frames it parked with) and adds the wait to its
// stack's count and total delay, under the profile's lock. Sampling follows Go: the block profile keeps
// every wait of at least `rate` ns and a shorter one with probability duration/rate; the mutex profile keeps
// one contention in `fraction` on average. Simplification: the mutex profile charges the wait to the
// waiter's stack (Go charges the unlocker's), which names the contended lock's users all the same.
// Block events are channel operations, select, Mutex, RWMutex, WaitGroup and Cond waits (Go's set); sleeps,
// I/O and yields are not blocking on synchronisation.
import CGoRuntime
import GoPprof
import Synchronization

final class ContentionProfile: @unchecked Sendable {
    /// Block: nanoseconds (0 off). Mutex: the fraction (0 off).
    let rate = Atomic<Int>(0)
    private let lock: UnsafeMutablePointer<gort_lock_t>
    // Guarded by `lock`.
    @exclusivity(unchecked) private var entries: [[UInt64]: (count: Int64, delay: Int64)] = [:]
    @exclusivity(unchecked) private var random: UInt64 = 0x9e37_79b9_7f4a_7c15

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    func record(_ stack: [UInt64], delay: Int64, sampled: (inout UInt64) -> Bool) {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        guard sampled(&random) else { return }
        let entry = entries[stack] ?? (0, 0)
        entries[stack] = (entry.count + 1, entry.delay + delay)
    }

    func snapshot() -> [(stack: [UInt64], count: Int64, delay: Int64)] {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return entries.map { ($0.key, $0.value.count, $0.value.delay) }.sorted { $0.delay > $1.delay }
    }
}

enum ContentionProfiles {
    static let block = ContentionProfile()
    static let mutex = ContentionProfile()
    /// Either profile is on: the park path's one check.
    static let enabled = Atomic<Bool>(false)

    private static func updateEnabled() {
        enabled.store(block.rate.load(ordering: .relaxed) > 0 || mutex.rate.load(ordering: .relaxed) > 0,
                      ordering: .relaxed)
    }

    /// xorshift64: a cheap draw for the sampling decision (statistical, not secret).
    private static func next(_ state: inout UInt64) -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// On the goroutine, after a park of `delay` ns for `reason`.
    @inline(never)
    static func resumed(_ reason: WaitReason, delay: Int64) {
        let isLock = reason == .mutex || reason == .rwmutexRead || reason == .rwmutexWrite
        let isBlock = isLock || [.chanReceive, .chanSend, .select, .selectNoCases, .waitGroup, .cond].contains(reason)
        guard isBlock else { return }
        let blockRate = block.rate.load(ordering: .relaxed)
        let fraction = mutex.rate.load(ordering: .relaxed)
        guard blockRate > 0 || (isLock && fraction > 0) else { return }
        let stack = ownStack()
        if blockRate > 0 {
            block.record(stack, delay: delay) { state in
                delay >= Int64(blockRate) || Int64(next(&state) % UInt64(blockRate)) < delay
            }
        }
        if isLock, fraction > 0 {
            mutex.record(stack, delay: delay) { state in next(&state) % UInt64(fraction) == 0 }
        }
    }

    @inline(never)
    private static func ownStack() -> [UInt64] {
        guard let machine = Scheduler.currentMachine(), let stack = machine.current?.stack else { return [] }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 32) { pcs in
            // Skips this function and `resumed`: the first frame is park's.
            let count = gort_capture_stack(pcs.baseAddress, 32, 2, UInt(bitPattern: stack.base), UInt(bitPattern: stack.top))
            return Array(pcs[0..<count])
        }
    }

    static func setBlockRate(_ rate: Int) {
        block.rate.store(max(0, rate), ordering: .relaxed)
        updateEnabled()
    }

    static func setMutexFraction(_ fraction: Int) -> Int {
        let previous = mutex.rate.load(ordering: .relaxed)
        if fraction >= 0 { mutex.rate.store(fraction, ordering: .relaxed) }
        updateEnabled()
        return previous
    }

    /// Go's legacy text: `--- contention:`, the cycles rate, then `delay count @ pcs` and `#` frame lines.
    static func text(_ name: String, _ records: [(stack: [UInt64], count: Int64, delay: Int64)]) -> String {
        var text = "--- \(name == "block" ? "contention" : "mutex"):\ncycles/second=1000000000\n"
        if name == "mutex" { text += "sampling period=\(mutex.rate.load(ordering: .relaxed))\n" }
        for record in records {
            text += "\(record.delay) \(record.count) @" + record.stack.map { " 0x" + String($0, radix: 16) }.joined() + "\n"
            for pc in record.stack {
                let frame = RuntimeSymbols.frame(pc &- 1)
                text += "#\t0x\(String(pc &- 1, radix: 16))\t\(frame.function)+0x\(String(frame.offset, radix: 16))"
                    + "\t\(StackDumpFormat.source(frame))\n"
            }
            text += "\n"
        }
        return text
    }

    /// Go's sample types: `contentions/count` and `delay/nanoseconds`.
    static func pprof(_ name: String, _ records: [(stack: [UInt64], count: Int64, delay: Int64)]) -> [UInt8] {
        var builder = RuntimeProfileBuilder(name: name, sampleTypes: [ValueType("contentions", "count"),
                                                                     ValueType("delay", "nanoseconds")],
                                            periodType: ValueType("contentions", "count"), period: 1)
        for record in records { builder.add(record.stack[...], values: [record.count, record.delay]) }
        return builder.encoded()
    }
}

extension Runtime {
    /// Turns the block profile on (`rate` > 0) or off, as Go's `runtime.SetBlockProfileRate`: a wait on a
    /// channel, `select`, ``Mutex``, ``RWMutex``, ``WaitGroup`` or ``Cond`` of at least `rate` nanoseconds is
    /// always recorded, a shorter one with probability duration/`rate` (1: every wait). Served at
    /// `/debug/pprof/block` (``DebugServer``).
    public static func setBlockProfileRate(_ rate: Int) { ContentionProfiles.setBlockRate(rate) }

    /// Sets the mutex profile's fraction, as Go's `runtime.SetMutexProfileFraction`: on average one in
    /// `fraction` waits for a ``Mutex`` or ``RWMutex`` is recorded (0 off; a negative value only reads it).
    /// Served at `/debug/pprof/mutex`.
    ///
    /// - Returns: The previous fraction.
    @discardableResult
    public static func setMutexProfileFraction(_ fraction: Int) -> Int { ContentionProfiles.setMutexFraction(fraction) }
}
