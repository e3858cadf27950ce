// CPUProfiler.swift — a CPU profile of the running program without a trace recording (the debug server's
// `/debug/pprof/profile?seconds=N`), on the same sampler as the trace's `cpu-sample` events.
//
// Design note
// -----------
// The sampler (CGoRuntime/profile.c) is per M: a SIGPROF timer on the thread's CPU clock fills a ring that
// the M drains at its schedule points (`Tracer.serviceProfiler`). A profile only changes what the drain does
// with a sample: while `isCollecting`, each stack is also counted here, under a lock (a drain takes it once
// per sample; samples arrive at 100 Hz per busy M). The rate is shared with a recording: `profileRate` is
// the trace's while one runs, else this profile's 100 Hz (Go's), and `Tracer.stop` leaves it on while a
// profile still collects. Samples still in an M's ring when the profile ends are left to the next profile's
// start, which clears the counts; an M that never reaches a schedule point during the profile contributes
// what the monitor's preemption makes it drain (every 10 ms of running).
// One profile at a time: a second `start` fails (the debug server answers it as Go's does).
import CGoRuntime
import GoPprof
import Synchronization

final class CPUProfiler: @unchecked Sendable {
    /// Go's default: runtime/pprof samples at 100 Hz.
    static let rate = 100
    let isCollecting = Atomic<Bool>(false)
    private let lock: UnsafeMutablePointer<gort_lock_t>
    // Guarded by `lock`.
    @exclusivity(unchecked) private var counts: [[UInt64]: Int64] = [:]
    @exclusivity(unchecked) private var startNanoseconds: Int64 = 0
    @exclusivity(unchecked) private var busy = false

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    /// The rate a recording's stop must leave the sampler at: this profile's while it collects, else 0.
    var wantedRate: Int { isCollecting.load(ordering: .relaxed) ? Self.rate : 0 }

    /// Starts collecting; false when a profile is already under way.
    func start() -> Bool {
        gort_lock(lock)
        if busy {
            gort_unlock(lock)
            return false
        }
        busy = true
        counts.removeAll()
        startNanoseconds = gort_walltime()
        gort_unlock(lock)
        gort_profile_install_handler()
        isCollecting.store(true, ordering: .sequentiallyConsistent)
        // A recording's rate stays in force; otherwise the Ms start their timers at their next schedule point.
        if tracer.profileRate.compareExchange(expected: 0, desired: Self.rate, ordering: .relaxed).exchanged {
            tracer.profileEpoch.add(1, ordering: .sequentiallyConsistent)
        }
        return true
    }

    /// Called by the drain, on an M, for each sample while collecting.
    func record(_ pcs: UnsafeBufferPointer<UInt64>) {
        let stack = Array(pcs)
        gort_lock(lock)
        if busy { counts[stack, default: 0] += 1 }
        gort_unlock(lock)
    }

    /// Stops collecting and returns the gzipped pprof profile of what was collected.
    func stop() -> [UInt8] {
        isCollecting.store(false, ordering: .sequentiallyConsistent)
        if !tracer.isRecording, tracer.profileRate.exchange(0, ordering: .relaxed) != 0 {
            tracer.profileEpoch.add(1, ordering: .sequentiallyConsistent)
        }
        // The caller's own M drains its ring now; others' samples already drained are counted.
        if let machine = Scheduler.currentMachine(), machine.isSampling { tracer.serviceProfiler(machine) }
        gort_lock(lock)
        let collected = counts
        let started = startNanoseconds
        counts.removeAll()
        busy = false
        gort_unlock(lock)
        let periodNanoseconds = Int64(1_000_000_000 / Self.rate)
        var builder = RuntimeProfileBuilder(
            name: "cpu", sampleTypes: [ValueType("samples", "count"), ValueType("cpu", "nanoseconds")],
            periodType: ValueType("cpu", "nanoseconds"), period: periodNanoseconds)
        builder.setTime(startNanoseconds: started, durationNanoseconds: gort_walltime() - started)
        for (stack, count) in collected.sorted(by: { $0.value > $1.value }) {
            builder.add(stack[...], values: [count, count * periodNanoseconds], firstIsExact: true)
        }
        return builder.encoded()
    }
}

let cpuProfiler = CPUProfiler()
