// Scheduler.swift — the M:N work-stealing scheduler.
//
// Vocabulary (Go's):
//   G  a goroutine (Goroutine.swift): a closure, and a stack while it runs or is parked.
//   M  a machine: an OS thread. Its own thread stack ("g0") runs the scheduling loop; a goroutine
//      runs on an M by switching stacks with gort_context_switch.
//   P  a processor: the right to run goroutines. There are `maxProcs` of them; an M needs a P to
//      run a goroutine. Each P has a local run queue (RunQueue.swift) and a `runnext` slot for
//      the goroutine it should run next (one just woken or spawned), which gives producer and
//      consumer pairs the locality of a direct handoff.
//
// Finding work (`findRunnable`), in order: expired timers; every 61st tick the global queue
// first (61 is prime, so the check does not fall into step with a program's own period, and
// rare enough to cost nothing, frequent enough that nothing in the global queue starves); the
// local `runnext` and queue; the global queue; stealing half of a random victim's queue (the
// victim's `runnext` only on the last of four rounds, and only after a short pause if the victim
// is running, so that a producer about to run its own `runnext` keeps it).
//
// Idle Ms and the no-lost-wake-up protocol. `nmspinning` counts Ms that hold a P and look for
// work. Whoever makes a goroutine runnable calls `wakeProcessor()`: if some P is idle and no M is
// spinning, it claims the spinning role (CAS 0→1) and starts or wakes an M with an idle P.
// An M that finds nothing:
//   1. under `lock`, checks the global queue once more and puts its P on the idle list;
//   2. if it was spinning, decrements `nmspinning` and THEN re-checks every P's queue: a producer
//      that enqueued work before step 2 saw nmspinning > 0 and did not wake anyone, so this
//      re-check is what finds its work (partner of the producer's enqueue-then-load order);
//      if it finds work it takes an idle P back and spins again;
//   3. sleeps on its note. A note is a futex word: a wake-up that arrives before the sleep is kept.
// The same ordering argument covers timers: an M that leaves with timers pending becomes the
// timer watcher and sleeps only until the earliest one; adding an earlier timer wakes it.
// With goroutines waiting on sockets, the watcher blocks in the network poller's epoll_wait
// instead (NetPoller.swift), and whoever takes it off the idle list also interrupts the poller;
// Ms with a P poll without blocking before they steal.
//
// Parking (the protocol every blocking operation uses, Go's gopark):
//   1. the goroutine takes the lock of what it waits on, enqueues its wait record, marks itself
//      waiting and names the lock(s) in `park`;
//   2. it switches to g0; only now, off its stack, does g0 mark the stack parked (from then on the
//      stack shrinker may copy it out: CGoRuntime/stack.c), then release the lock(s) and arm its timer;
//   3. a waker dequeues the record under that lock and calls `ready`, which puts the goroutine on
//      a run queue. Because step 2 unlocks only after the switch, no one can run a goroutine that
//      is still on its way off its stack.
//
// Deadlock: an M about to sleep checks, under `lock`, whether a `Runtime.run` is waiting for a
// main goroutine while every P is idle, no M spins or runs timers, no timer is pending and the
// global queue is empty. Then nothing can ever run again: it prints every parked goroutine and
// exits with status 2, as Go does.
//
// Preemption (Monitor.swift): a monitor thread asks a goroutine that has run 10 ms to yield, at its
// next runtime call or through a signal; it goes to the global queue (`SwitchAction.preempt`).
// Blocking calls (BlockingCall.swift) give their P away for the duration and take one back after.
//
// Stopping the world (Scheduler+WorldStop.swift; a trace's start and stop, for an exact snapshot):
// an M parks with its P at the schedule point where it already checks the tracer's flush epoch, the
// stopper takes idle Ps and Ms and asks running goroutines to yield at once, and every path that
// changes goroutines without a P — the timer watcher, a blocking call's return, `ready`/`spawn` off a
// P — checks for a stop under `lock` before it starts and counts itself in
// `transitionsWithoutProcessor` until it is done. A world stop holds the idle Ps, so no deadlock
// verdict is reached while it lasts; the Ms it wakes at the restart check again on their way to sleep.
//
// Rejected: a run loop per P pinned to a thread (a blocked thread would strand its queue);
// a single global queue (contention); switching directly from goroutine to goroutine (saves one
// switch, but the park protocol needs a point where the parking goroutine is off its stack).
import CGoRuntime
import GoTraceFormat
import Synchronization

/// What a goroutine asks g0 to do once it has switched away from its stack.
enum SwitchAction {
    case none
    /// Parked; release these locks (in `Goroutine.parkLocks`) and arm `Goroutine.parkTimer`.
    case park
    /// Still runnable: queue it again (Runtime.yield, or a blocking call that found no P on return).
    case yield
    /// Preempted (Monitor.swift): queue it again; it already emitted its `preempt` event.
    case preempt
    /// Finished.
    case exit
}

final class Machine: @unchecked Sendable {
    let id: Int
    /// g0's saved stack pointer while a goroutine runs. Raw memory written by the assembly.
    let g0StackPointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The sanitizers' record of g0's stack (sanitizer_fibers.h; unused outside sanitizer builds).
    let g0Fiber: UnsafeMutablePointer<gort_fiber_t>
    let note: UnsafeMutablePointer<gort_note_t>
    // Owned by this M's thread, except `nextProcessor`/`spinning`, which a waker sets while this
    // M sleeps (ordered by the note: set before wakeup, read after sleep).
    var processor: Processor? {
        get { processorLink?.takeUnretainedValue() }
        set { processorLink = newValue.map { Unmanaged.passUnretained($0) } }
    }
    /// `processor`'s storage, unretained: a P lives for good (`Scheduler.processors`). A hot path borrows it
    /// with `_withUnsafeGuaranteedRef`, which costs no retain and release.
    @exclusivity(unchecked) private(set) var processorLink: Unmanaged<Processor>?
    @exclusivity(unchecked) var nextProcessor: Processor?
    var current: Goroutine? {
        get { currentLink?.takeUnretainedValue() }
        set { currentLink = newValue.map { Unmanaged.passUnretained($0) } }
    }
    /// `current`'s storage, unretained: every goroutine record stays in `Scheduler.allGoroutines` for good
    /// (records are reused, never freed), so the running one outlives it. `Unmanaged` rather than
    /// `unowned(unsafe)`: a hot path borrows it with `_withUnsafeGuaranteedRef`, where loading an unowned
    /// reference into a local retains it (for the whole of a park; Benchmarks/callgrind.sh).
    @exclusivity(unchecked) private(set) var currentLink: Unmanaged<Goroutine>?
    @exclusivity(unchecked) var spinning = false
    /// Steal passes in a row that found nothing while another P was running (`Scheduler.lookForWork`).
    @exclusivity(unchecked) var idlePassesBesideBusy = 0
    @exclusivity(unchecked) var isRunningTimers = false
    /// This M counted itself in `Scheduler.transitionsWithoutProcessor`: it changes goroutines'
    /// states without a P, and a world stop waits for it to finish (Scheduler+WorldStop.swift).
    @exclusivity(unchecked) var announcedTransitions = false
    @exclusivity(unchecked) var unlockScratch: [UnsafeMutablePointer<gort_lock_t>] = []
    // Tracing (Tracer.swift): this M's buffer, and the last flush request it honoured. A stopper on
    // another thread polls the latter and whether the M has a buffer: atomics, not the fields themselves
    // (reading the `trace` reference while its M replaces it could retain a freed object).
    @exclusivity(unchecked) var trace: MachineTrace? {
        didSet {
            traceLink = trace.map { Unmanaged.passUnretained($0) }
            hasTraceWord.store(trace != nil, ordering: .releasing)
        }
    }
    /// `trace` unretained, for the tracer's per-event path (`Tracer.withCurrentTrace`), which borrows it
    /// instead of paying a retain and a release per event: only this M's own thread replaces `trace`.
    @exclusivity(unchecked) private(set) var traceLink: Unmanaged<MachineTrace>?
    private let hasTraceWord = Atomic<Bool>(false)
    var hasTrace: Bool { hasTraceWord.load(ordering: .acquiring) }
    private let flushedEpochWord = Atomic<UInt64>(0)
    /// Release/acquire: a stopper that sees the epoch also sees the flush's writes before it.
    var flushedEpoch: UInt64 {
        get { flushedEpochWord.load(ordering: .acquiring) }
        set { flushedEpochWord.store(newValue, ordering: .releasing) }
    }
    /// Inside `Runtime.blockingCall`, after its last trace event before the body (BlockingCall.swift);
    /// cleared under the scheduler's lock on the way back. A world stop counts such an M as stopped and
    /// flushes its buffer itself (Scheduler+WorldStop.swift). Release/acquire: a stopper that sees it set
    /// also sees every write the M made to its buffer before setting it.
    var isSettledInBlockingCall: Bool {
        get { settledInBlockingCallWord.load(ordering: .acquiring) }
        set { settledInBlockingCallWord.store(newValue, ordering: .releasing) }
    }
    private let settledInBlockingCallWord = Atomic<Bool>(false)
    @exclusivity(unchecked) var threadStackLow: UInt = 0
    @exclusivity(unchecked) var threadStackHigh: UInt = 0
    // CPU sampling (Tracer.serviceProfiler): the profiling epoch this M last acted on.
    @exclusivity(unchecked) var profileEpoch: UInt64 = 0
    @exclusivity(unchecked) var isSampling = false
    @exclusivity(unchecked) var action: SwitchAction = .none
    @exclusivity(unchecked) var randomState: UInt64
    @exclusivity(unchecked) var idleLink: Machine?
    /// What the preemption monitor and blocking calls know of this M (Monitor.swift).
    let preemption = MachinePreemption()

    init(id: Int) {
        self.id = id
        g0StackPointer = .allocate(capacity: 1)
        g0StackPointer.initialize(to: nil)
        g0Fiber = .allocate(capacity: 1)
        g0Fiber.initialize(to: gort_fiber_t())
        note = .allocate(capacity: 1)
        note.initialize(to: gort_note_t(key: 0))
        randomState = UInt64(truncatingIfNeeded: gort_nanotime()) &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    /// xorshift64*: cheap, per-M, good enough for victim choice and select order.
    func random() -> UInt64 {
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        return randomState &* 2_685_821_657_736_338_717
    }

    func random(below bound: Int) -> Int {
        Int(truncatingIfNeeded: random() % UInt64(bound))
    }
}

enum ProcessorStatus: UInt8 {
    /// `stopped`: held by a world stop (Scheduler+WorldStop.swift) — parked by its M at the barrier,
    /// or taken off the idle list by the stopper.
    case idle, running, disabled, stopped
}

final class Processor: @unchecked Sendable {
    let id: Int
    let runQueue = LocalRunQueue()
    /// Unretained goroutine pointer or 0; any M may take it (CAS), only the owner sets it.
    let runNext = Atomic<UInt>(0)
    // The fields below are owned by the M that holds this P, or by `Scheduler.lock` while idle.
    @exclusivity(unchecked) var status: ProcessorStatus = .idle
    @exclusivity(unchecked) var scheduleTick: UInt32 = 0
    @exclusivity(unchecked) var idleLink: Processor?
    /// Unretained, as the global pool (`Scheduler.freeGoroutines`).
    @exclusivity(unchecked) var freeGoroutines: [Unmanaged<Goroutine>] = []
    @exclusivity(unchecked) var freeStacks: [gort_stack_t] = []
    /// Whether an M currently runs goroutines on this P (read racily by thieves).
    let isRunning = Atomic<Bool>(false)
    /// Goroutines spawned and retired on this P (`Scheduler.liveGoroutineCount`). Only the M holding the P writes
    /// them, so a plain load and store replace an atomic add: one counter for the process, added to by the
    /// spawning P and subtracted from by the one a goroutine ended on, moved its line between the CPUs twice
    /// per goroutine at 2 Ps. Relaxed: counts, read for a snapshot.
    let spawnedHere = Atomic<Int>(0)
    let retiredHere = Atomic<Int>(0)

    /// Adds one to `spawnedHere` or `retiredHere`. Precondition: the caller's M holds this P.
    static func countByOwner(_ counter: borrowing Atomic<Int>) {
        counter.store(counter.load(ordering: .relaxed) + 1, ordering: .relaxed)
    }

    init(id: Int) { self.id = id }

    var hasWork: Bool { !runQueue.isEmpty || runNext.load(ordering: .acquiring) != 0 }
}

/// What `Runtime.run` waits on.
final class RunCompletion: @unchecked Sendable {
    let note: UnsafeMutablePointer<gort_note_t>
    init() {
        note = .allocate(capacity: 1)
        note.initialize(to: gort_note_t(key: 0))
    }
    deinit { note.deallocate() }
}

final class Scheduler: @unchecked Sendable {
    /// Upper bound on maxProcs; Ps are created on demand up to it.
    static let processorLimit = 1024
    /// Free goroutines and stacks a P keeps before handing the surplus to the global pools.
    static let localPoolLimit = 64
    /// How many a P's pool trades with the global one at a time (Go's gfput/gfget do the same): a P that
    /// only retires goroutines and one that only spawns them (spawn at 2 Ps) take `lock` once per batch,
    /// not once per goroutine.
    static let poolBatch = localPoolLimit / 2
    /// Pooled stacks in the global pool that keep their pages; beyond it, pooled stacks are released.
    static let residentPoolLimit = 1024
    /// How many extra steal passes a spinning M makes while another P runs (`lookForWork`).
    static let idlePassLimit = 4

    // Guarded by `lock`: the global queue, the idle lists, pools, the goroutine registry, the run.
    let lock: UnsafeMutablePointer<gort_lock_t>
    /// Serialises `Runtime.run` calls (held by an OS thread for a whole run, never by a goroutine).
    let runLock: UnsafeMutablePointer<gort_lock_t>
    /// Unretained, linked through `Goroutine.schedLink`.
    @exclusivity(unchecked) private var globalHead: Unmanaged<Goroutine>?
    @exclusivity(unchecked) private var globalTail: Unmanaged<Goroutine>?
    let globalCount = Atomic<Int>(0)
    @exclusivity(unchecked) private var idleProcessors: Processor?
    let idleProcessorCount = Atomic<Int>(0)
    @exclusivity(unchecked) var idleMachines: Machine?
    @exclusivity(unchecked) private var machineCount = 0
    @exclusivity(unchecked) var watcher: Machine?
    @exclusivity(unchecked) private var watcherDeadline: Int64 = .max
    /// The watcher blocks in the network poller's epoll_wait, not on its note: whoever takes it
    /// off the idle list must also interrupt the poller (NetPoller.swift).
    @exclusivity(unchecked) var watcherPolls = false
    /// An M is inside the blocking poll (from deciding to poll until it has relocked after it):
    /// at most one at a time, so the poller's interrupt always reaches the M it is meant for.
    @exclusivity(unchecked) private var pollerBusy = false
    /// Unretained: a record lives for good in `allGoroutines`. Counted, each record's trip between two Ps' pools
    /// (a batch appended and removed at each end) was four atomic writes to its header, on alternate CPUs: a
    /// fifth of spawn's samples at 2 Ps.
    @exclusivity(unchecked) private var freeGoroutines: [Unmanaged<Goroutine>] = []
    /// `freeGoroutines.count`, readable without `lock`. Relaxed: a stale zero costs one new goroutine record where
    /// a pooled one was there, never a wrong one.
    let freeGoroutineCount = Atomic<Int>(0)
    /// Pooled stacks whose pages are resident (the most recent `residentPoolLimit`), and those the
    /// shrinker released (StackShrinker.swift).
    @exclusivity(unchecked) var freeStacks: [gort_stack_t] = []
    @exclusivity(unchecked) var releasedStacks: [gort_stack_t] = []
    @exclusivity(unchecked) var allGoroutines: [Goroutine] = []
    @exclusivity(unchecked) var allMachines: [Machine] = []
    @exclusivity(unchecked) var activeRun: RunCompletion?
    /// Set from a world stop's request to its restart (Scheduler+WorldStop.swift).
    @exclusivity(unchecked) var worldStop: WorldStop?
    /// Ms and threads changing goroutines' states without a P right now (timer runners, a blocking
    /// call's return to no P, `ready`/`spawn` off a P): a world stop waits until none is left.
    @exclusivity(unchecked) var transitionsWithoutProcessor = 0

    /// Ps, created on demand; `processorsCreated` is published with release after the slot is set.
    private let processors: UnsafeMutablePointer<Unmanaged<Processor>?>
    let processorsCreated = Atomic<Int>(0)
    let processorCount = Atomic<Int>(0)

    let spinningCount = Atomic<Int>(0)
    /// Ms running timers without a P (they may ready goroutines: no deadlock verdict meanwhile).
    let timerRunners = Atomic<Int>(0)
    /// Goroutines spawned by threads that held no P; the rest are counted per P (`Processor.spawnedHere`).
    let spawnedWithoutProcessor = Atomic<Int>(0)
    let nextGoroutineID = Atomic<Int64>(1)

    let timers = TimerHeap()
    private var started = false

    // The tracer and the network poller, held here so that the scheduler's methods reach them through
    // `self` (a load) and not through their globals' lazy initialisation (a `swift_once` call on each
    // access, ~10 per channel round trip: Benchmarks/callgrind.sh). Neither initialiser touches the
    // scheduler, so initialising them from this one cannot recurse.
    let tracer = GoRuntime.tracer
    let netPoller = GoRuntime.netPoller

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        runLock = .allocate(capacity: 1)
        runLock.initialize(to: gort_lock_t(state: 0))
        processors = .allocate(capacity: Self.processorLimit)
        processors.initialize(repeating: nil, count: Self.processorLimit)
        // Stacks start with 8 KiB accessible and grow on demand up to the limit (StackShrinker.swift).
        gort_stack_configure(Self.initialStackFromEnvironment ?? Self.initialStackBytes,
                             Self.stackLimitFromEnvironment ?? Self.defaultStackLimit)
    }

    static var defaultProcessorCount: Int {
        if let text = getenvString("GOMAXPROCS"), let n = Int(text), n > 0 {
            return min(n, processorLimit)
        }
        return min(Int(gort_cpu_count()), processorLimit)
    }

    @inline(__always)
    func processor(_ index: Int) -> Processor {
        processors[index]!.takeUnretainedValue()
    }

    /// Goroutines alive now: spawned and not yet retired. A snapshot: the per-P counts are read one after the
    /// other while goroutines start and end, so it may be off by those (never below zero).
    var liveGoroutineCount: Int {
        var count = spawnedWithoutProcessor.load(ordering: .relaxed)
        for index in 0..<processorsCreated.load(ordering: .acquiring) {
            let processor = processor(index)
            count += processor.spawnedHere.load(ordering: .relaxed) - processor.retiredHere.load(ordering: .relaxed)
        }
        return max(0, count)
    }

    // MARK: - current M and G

    @inline(__always)
    static func currentMachine() -> Machine? {
        guard let raw = gort_tls_get_m() else { return nil }
        // Safety: the TLS slot holds an unretained pointer to this thread's M, which lives forever.
        return Unmanaged<Machine>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The running goroutine, or nil on a thread that is not running one (including g0).
    @inline(__always)
    static func currentGoroutine() -> Goroutine? {
        currentMachine()?.current
    }

    /// `currentGoroutine()` unretained, for a hot path to borrow (`_withUnsafeGuaranteedRef`): a goroutine
    /// record lives for good (`allGoroutines`).
    @inline(__always)
    static func currentGoroutineLink() -> Unmanaged<Goroutine>? {
        guard let raw = gort_tls_get_m() else { return nil }
        // Safety: the TLS slot holds this thread's M, which lives forever (currentMachine).
        return Unmanaged<Machine>.fromOpaque(raw)._withUnsafeGuaranteedRef { $0.currentLink }
    }

    // MARK: - start-up and resizing

    /// Sets the number of Ps. Ps beyond the new count retire the next time their M schedules.
    func setProcessorCount(_ requested: Int) {
        let count = max(1, min(requested, Self.processorLimit))
        gort_lock(lock)
        let starting = !started
        started = true
        while processorsCreated.load(ordering: .relaxed) < count {
            let index = processorsCreated.load(ordering: .relaxed)
            let processor = Processor(id: index)
            processor.status = .disabled
            processors[index] = Unmanaged.passRetained(processor)
            processorsCreated.store(index + 1, ordering: .releasing)
        }
        let old = processorCount.load(ordering: .relaxed)
        processorCount.store(count, ordering: .releasing)
        for index in 0..<processorsCreated.load(ordering: .relaxed) {
            let processor = self.processor(index)
            if index < count, processor.status == .disabled {
                processor.status = .idle
                pushIdleProcessor(processor)
            } else if index >= count, processor.status == .idle {
                removeIdleProcessor(processor)
                processor.status = .disabled
            }
        }
        gort_unlock(lock)
        monitor.startOnce()
        if starting { startStackShrinker() }
        if count > old { wakeProcessor() }
    }

    func ensureStarted() {
        gort_lock(lock)
        let done = started
        gort_unlock(lock)
        if !done { setProcessorCount(Self.defaultProcessorCount) }
    }

    // MARK: - idle lists (lock held)

    func pushIdleProcessor(_ processor: Processor) {
        assert(gort_lock_is_held(lock))
        processor.idleLink = idleProcessors
        idleProcessors = processor
        idleProcessorCount.add(1, ordering: .sequentiallyConsistent)
    }

    func popIdleProcessor() -> Processor? {
        assert(gort_lock_is_held(lock))
        guard let processor = idleProcessors else { return nil }
        idleProcessors = processor.idleLink
        processor.idleLink = nil
        idleProcessorCount.subtract(1, ordering: .sequentiallyConsistent)
        return processor
    }

    /// Lock held. Unlinks `target` from the idle M list; false if it was not there (a waker took it).
    private func removeIdleMachine(_ target: Machine) -> Bool {
        assert(gort_lock_is_held(lock))
        var previous: Machine?
        var cursor = idleMachines
        while let machine = cursor {
            if machine === target {
                if let previous { previous.idleLink = machine.idleLink } else { idleMachines = machine.idleLink }
                machine.idleLink = nil
                return true
            }
            previous = machine
            cursor = machine.idleLink
        }
        return false
    }

    func removeIdleProcessor(_ target: Processor) {
        var previous: Processor?
        var cursor = idleProcessors
        while let processor = cursor {
            if processor === target {
                if let previous { previous.idleLink = processor.idleLink } else { idleProcessors = processor.idleLink }
                processor.idleLink = nil
                idleProcessorCount.subtract(1, ordering: .sequentiallyConsistent)
                return
            }
            previous = processor
            cursor = processor.idleLink
        }
    }

    // MARK: - global queue (lock held)

    func globalPut(_ goroutine: Goroutine) {
        globalPut(link: Unmanaged.passUnretained(goroutine))
    }

    func globalPut(link goroutine: Unmanaged<Goroutine>) {
        assert(gort_lock_is_held(lock))
        goroutine._withUnsafeGuaranteedRef { $0.schedLink = nil }
        if let tail = globalTail {
            tail._withUnsafeGuaranteedRef { $0.schedLink = goroutine }
        } else {
            globalHead = goroutine
        }
        globalTail = goroutine
        globalCount.add(1, ordering: .sequentiallyConsistent)
    }

    /// Takes a fair share of the global queue: returns one goroutine and moves up to `limit - 1`
    /// more into `processor`'s local queue.
    private func globalGet(_ processor: Processor, limit: Int) -> Unmanaged<Goroutine>? {
        assert(gort_lock_is_held(lock))
        let available = globalCount.load(ordering: .relaxed)
        if available == 0 { return nil }
        var n = min(available, available / max(1, processorCount.load(ordering: .relaxed)) + 1)
        if limit > 0 { n = min(n, limit) }
        n = min(n, Int(LocalRunQueue.capacity / 2))
        globalCount.subtract(n, ordering: .sequentiallyConsistent)
        let first = globalHead!
        globalHead = first._withUnsafeGuaranteedRef { $0.schedLink }
        for _ in 1..<max(n, 1) {
            let goroutine = globalHead!
            globalHead = goroutine._withUnsafeGuaranteedRef { $0.schedLink }
            goroutine._withUnsafeGuaranteedRef { $0.schedLink = nil }
            _ = processor.runQueue.put(link: goroutine)
        }
        if globalHead == nil { globalTail = nil }
        first._withUnsafeGuaranteedRef { $0.schedLink = nil }
        return first
    }

    // MARK: - making goroutines runnable

    /// Puts `goroutine` on `processor`'s queue; with `next`, in its runnext slot.
    /// Precondition: the caller's M holds `processor`.
    func runQueuePut(_ processor: Processor, _ goroutine: Goroutine, next: Bool) {
        runQueuePut(processor, Unmanaged.passUnretained(goroutine), next: next)
    }

    /// `runQueuePut` for a caller that borrows the goroutine: the queue holds unretained pointers (a goroutine
    /// record lives for good), so neither it nor a runnext it displaces is retained on the way.
    func runQueuePut(_ processor: Processor, _ goroutine: Unmanaged<Goroutine>, next: Bool) {
        var goroutine = goroutine
        if next {
            let bits = UInt(bitPattern: goroutine.toOpaque())
            let old = processor.runNext.exchange(bits, ordering: .acquiringAndReleasing)
            if old == 0 { return }
            goroutine = LocalRunQueue.link(old)
        }
        while !processor.runQueue.put(link: goroutine) {
            // Full: move half of it and this one to the global queue, as one batch.
            var batch: [Unmanaged<Goroutine>] = []
            batch.reserveCapacity(Int(LocalRunQueue.capacity / 2) + 1)
            guard processor.runQueue.takeHalf(into: &batch) else { continue }
            batch.append(goroutine)
            gort_lock(lock)
            for link in batch { globalPut(link: link) }
            gort_unlock(lock)
            return
        }
    }

    /// Makes a parked goroutine runnable (Go's goready) and wakes an idle P if needed.
    func ready(_ goroutine: Goroutine, next: Bool = true) {
        assert(goroutine.status == .waiting, "ready of a goroutine that is not waiting")
        guard let raw = gort_tls_get_m() else {
            readyWithoutProcessor(goroutine, nil)
            return
        }
        // Safety: the TLS slot holds this thread's M, which lives forever (currentMachine); borrowing it
        // spares a retain and a release on every wake-up.
        let queued = Unmanaged<Machine>.fromOpaque(raw)._withUnsafeGuaranteedRef { machine -> Bool in
            guard let processor = machine.processorLink else {
                // It wakes a P itself, unless this M runs timers (it will look for work next).
                readyWithoutProcessor(goroutine, machine)
                return false
            }
            goroutine.status = .runnable
            goroutine.waitReason = .none
            if tracer.active.load(ordering: .relaxed) {
                let waker = machine.currentLink?._withUnsafeGuaranteedRef { UInt64($0.id) } ?? 0
                tracer.emit(.unpark, UInt64(goroutine.id), waker,
                            tracer.recordsUnparkStacks.load(ordering: .relaxed) ? tracer.captureStack() : 0)
            }
            // Safety: a P lives for good (`processors`).
            processor._withUnsafeGuaranteedRef { runQueuePut($0, goroutine, next: next) }
            return true
        }
        if queued { wakeProcessor() }
    }

    /// `ready` off a P (a timer runner, a blocking call's body, a thread that is not an M): to the global
    /// queue. Unless the caller already announced itself, it does so here, and so waits out a world stop
    /// before it changes the goroutine (Scheduler+WorldStop.swift).
    private func readyWithoutProcessor(_ goroutine: Goroutine, _ machine: Machine?) {
        let announce = !(machine?.announcedTransitions ?? false)
        if announce { beginTransitionsWithoutProcessor(machine) }
        goroutine.status = .runnable
        goroutine.waitReason = .none
        if tracer.active.load(ordering: .relaxed) {
            tracer.emit(.unpark, UInt64(goroutine.id), UInt64(machine?.current?.id ?? 0),
                        tracer.recordsUnparkStacks.load(ordering: .relaxed) ? tracer.captureStack() : 0)
        }
        gort_lock(lock)
        globalPut(goroutine)
        if announce { transitionsWithoutProcessor -= 1 }
        gort_unlock(lock)
        if let machine, machine.isRunningTimers { return }
        wakeProcessor()
    }

    /// Starts or wakes an M to run an idle P, unless one is already spinning (see the protocol).
    func wakeProcessor() {
        if idleProcessorCount.load(ordering: .sequentiallyConsistent) == 0 { return }
        if spinningCount.load(ordering: .sequentiallyConsistent) != 0 { return }
        guard spinningCount.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged
        else { return }
        startMachine(spinning: true)
    }

    /// Hands an idle P — or `given`, a P the caller owns and gives up (a blocking call's hand-off) —
    /// to an idle or new M. With `spinning`, the caller already counted it in `spinningCount`.
    func startMachine(spinning: Bool, given: Processor? = nil) {
        gort_lock(lock)
        guard let processor = given ?? popIdleProcessor() else {
            gort_unlock(lock)
            if spinning { spinningCount.subtract(1, ordering: .sequentiallyConsistent) }
            return
        }
        processor.status = .running
        let machine = idleMachines
        var interruptPoller = false
        if let machine {
            idleMachines = machine.idleLink
            machine.idleLink = nil
            if watcher === machine {
                watcher = nil
                interruptPoller = watcherPolls
            }
        } else {
            machineCount += 1
        }
        let newID = machineCount
        gort_unlock(lock)
        if let machine {
            machine.nextProcessor = processor
            machine.spinning = spinning
            gort_note_wakeup(machine.note)
            if interruptPoller { netPoller.interrupt() }
        } else {
            let machine = Machine(id: newID)
            machine.nextProcessor = processor
            machine.spinning = spinning
            gort_lock(lock)
            allMachines.append(machine)
            gort_unlock(lock)
            let raw = Unmanaged.passRetained(machine).toOpaque()
            let rc = gort_thread_create(machineMain, raw, 0)
            if rc != 0 { fatal("runtime: cannot create an OS thread (error \(rc))") }
        }
    }

    // MARK: - spawning

    func spawn(_ body: consuming @escaping @Sendable () -> Void, runCompletion: RunCompletion? = nil,
               creatorPC: UInt = 0) {
        // Borrowed, not retained: the M and its P live for good (`allMachines`, `processors`), and so does the
        // parent (`allGoroutines`); retaining them would write lines that the other Ps read.
        let machine = gort_tls_get_m().map { Unmanaged<Machine>.fromOpaque($0) }
        let processor = machine?._withUnsafeGuaranteedRef { $0.processorLink }
        let parent = machine?._withUnsafeGuaranteedRef { $0.currentLink }
        // Off a P the spawn waits out a world stop before it touches the new goroutine (readyWithoutProcessor).
        let announce = processor == nil && !(machine?._withUnsafeGuaranteedRef { $0.announcedTransitions } ?? false)
        if announce { beginTransitionsWithoutProcessor(machine?.takeUnretainedValue()) }
        // Unretained, like the pools it comes from: at 2 Ps the record was last written by the P that retired it.
        let link: Unmanaged<Goroutine>
        if let processor {
            link = processor._withUnsafeGuaranteedRef { processor in
                Processor.countByOwner(processor.spawnedHere)
                if processor.freeGoroutines.isEmpty { refillFreeGoroutines(processor) }
                return processor.freeGoroutines.popLast() ?? newGoroutine()
            }
        } else {
            spawnedWithoutProcessor.add(1, ordering: .relaxed)
            link = takeGlobalFreeGoroutine() ?? newGoroutine()
        }
        let parentID = parent?._withUnsafeGuaranteedRef { $0.id } ?? 0
        let id = nextGoroutineID.wrappingAdd(1, ordering: .relaxed).oldValue
        // Moved into the record, from `go`'s caller through `go` and here: a copy would retain it.
        var movedBody: (@Sendable () -> Void)? = consume body
        link._withUnsafeGuaranteedRef { goroutine in
            goroutine.id = id
            goroutine.parentID = parentID
            goroutine.leakScope = parent?._withUnsafeGuaranteedRef { $0.leakScope } ?? gort_tls_get_scope()
            goroutine.body = movedBody.take()
            goroutine.creatorPC = creatorPC
            goroutine.status = .runnable
            goroutine.runCompletion = runCompletion
        }
        // Here, not in the closure above: the stack's first frame must be this function's.
        if tracer.active.load(ordering: .relaxed) {
            tracer.emit(.spawn, UInt64(parentID), UInt64(id), tracer.captureStack())
        }
        if let processor, runCompletion == nil {
            processor._withUnsafeGuaranteedRef { runQueuePut($0, link, next: true) }
        } else {
            gort_lock(lock)
            if let runCompletion { activeRun = runCompletion }
            globalPut(link: link)
            if announce { transitionsWithoutProcessor -= 1 }
            gort_unlock(lock)
        }
        wakeProcessor()
    }

    private func takeGlobalFreeGoroutine() -> Unmanaged<Goroutine>? {
        gort_lock(lock)
        let goroutine = freeGoroutines.popLast()
        freeGoroutineCount.store(freeGoroutines.count, ordering: .relaxed)
        gort_unlock(lock)
        return goroutine
    }

    /// Moves up to a batch of free goroutines from the global pool to `processor`'s.
    private func refillFreeGoroutines(_ processor: Processor) {
        if freeGoroutineCount.load(ordering: .relaxed) == 0 { return }
        gort_lock(lock)
        Self.movePoolBatch(from: &freeGoroutines, to: &processor.freeGoroutines)
        freeGoroutineCount.store(freeGoroutines.count, ordering: .relaxed)
        gort_unlock(lock)
    }

    /// Moves a batch (`poolBatch`, or what there is) of the most recently freed entries from the end of one pool
    /// to the end of the other: a P's pool and a global one trade this way in both directions. Lock held.
    private static func movePoolBatch<Entry>(from source: inout [Entry], to destination: inout [Entry]) {
        let count = min(poolBatch, source.count)
        destination.append(contentsOf: source[(source.count - count)...])
        source.removeLast(count)
    }

    /// A new record, kept for good in `allGoroutines` (which is why the caller may hold it unretained).
    private func newGoroutine() -> Unmanaged<Goroutine> {
        let goroutine = Goroutine()
        gort_lock(lock)
        allGoroutines.append(goroutine)
        gort_unlock(lock)
        return Unmanaged.passUnretained(goroutine)
    }

    // MARK: - the scheduling loop (runs on g0)

    func scheduleLoop(_ machine: Machine) -> Never {
        while true {
            // Safety: a goroutine record lives for good (`allGoroutines`).
            findRunnable(machine)._withUnsafeGuaranteedRef { execute($0, on: machine) }
        }
    }

    private func stack(for processor: Processor) -> gort_stack_t {
        if let stack = processor.freeStacks.popLast() { return stack }
        gort_lock(lock)
        // A batch of the most recently freed (resident) stacks, or one whose pages were released.
        Self.movePoolBatch(from: &freeStacks, to: &processor.freeStacks)
        let pooled = processor.freeStacks.popLast() ?? releasedStacks.popLast()
        gort_unlock(lock)
        if let pooled { return pooled }
        var stack = gort_stack_t()
        guard gort_stack_alloc(&stack) else { fatal("runtime: out of address space for goroutine stacks") }
        return stack
    }

    private func execute(_ goroutine: Goroutine, on machine: Machine) {
        // Unretained: a P lives for good (`processors`). The two calls that take it borrow it from `processorLink`
        // (`_withUnsafeGuaranteedRef`): passing this reference would retain it.
        unowned(unsafe) let processor = machine.processor!
        processor.scheduleTick &+= 1
        if goroutine.stack == nil {
            let stack = machine.processorLink!._withUnsafeGuaranteedRef { self.stack(for: $0) }
            goroutine.stack = stack
            goroutine.context.pointee.stackPointer = gort_context_make(
                stack.top, goroutineMain, Unmanaged.passUnretained(goroutine).toOpaque())
            gort_fiber_create(goroutine.fiber)
        }
        // The context's line is read here first: its saved stack pointer names the lines the switch will need.
        if let savedStackPointer = goroutine.context.pointee.stackPointer { gort_prefetch_resume(savedStackPointer) }
        goroutine.status = .running
        machine.current = goroutine
        // Copies the stack back if it was shrunk while parked.
        gort_stack_will_run(goroutine.stack!.slot, UInt64(goroutine.id))
        let tracing = tracer.active.load(ordering: .relaxed)
        // Sampling for a recording, or for a CPU profile alone (CPUProfiler.swift).
        var profiling = tracing
        if tracing {
            // A goroutine may run long without a schedule point: start sampling before it runs.
            if tracer.profileEpoch.load(ordering: .relaxed) != machine.profileEpoch { tracer.serviceProfiler(machine) }
            tracer.emit(.start, UInt64(goroutine.id))
        } else if machine.isSampling || tracer.profileEpoch.load(ordering: .relaxed) != machine.profileEpoch {
            tracer.serviceProfiler(machine)
            profiling = true
        }
        if profiling {
            // Safety: stack is set above; the bounds are the goroutine's own slot.
            gort_profile_set_context(UInt64(goroutine.id), UInt(bitPattern: goroutine.stack!.base),
                                     UInt(bitPattern: goroutine.stack!.top))
        }
        // Tells the monitor and the preemption signal handler what runs now (Monitor.swift).
        gort_preempt_switch_in(machine.preemption.state, UInt64(goroutine.id), UInt(bitPattern: goroutine.stack!.base),
                               UInt(bitPattern: goroutine.stack!.top))
        // Safety: the goroutine's saved stack pointer was written by gort_context_switch or
        // gort_context_make, and no other M runs it (it was taken off a run queue exactly once).
        swift_task_enterThreadLocalContext(goroutine.exclusivityState)
        // Safety: stack is set above.
        let stack = goroutine.stack!
        gort_fiber_switch_begin(machine.g0Fiber, goroutine.fiber, stack.base, stack.top - stack.base, false)
        gort_context_switch(machine.g0StackPointer, goroutine.context.pointee.stackPointer)
        gort_fiber_switch_end(machine.g0Fiber)
        swift_task_exitThreadLocalContext(goroutine.exclusivityState)
        gort_preempt_switch_out(machine.preemption.state)
        machine.current = nil
        if profiling { gort_profile_set_context(0, machine.threadStackLow, machine.threadStackHigh) }
        if tracing {
            var grownGoroutine: UInt64 = 0, oldSize: UInt64 = 0, newSize: UInt64 = 0
            if gort_stack_take_growth(&grownGoroutine, &oldSize, &newSize) {
                tracer.emit(.stackGrow, grownGoroutine, oldSize, newSize)
            }
        }
        let action = machine.action
        machine.action = .none
        switch action {
        case .park:
            // Before any lock is released: from then on a waker may resume the goroutine.
            gort_stack_did_park(goroutine.stack!.slot, goroutine.context.pointee.stackPointer)
            let timer = goroutine.parkTimer
            goroutine.parkTimer = nil
            let single = goroutine.parkLock
            goroutine.parkLock = nil
            let many = !goroutine.parkLocks.isEmpty
            // Take the locks out of the goroutine: once the timer is armed or the first lock is
            // released, it may be readied, run on another M and park again, refilling its fields.
            if many { swap(&goroutine.parkLocks, &machine.unlockScratch) }
            if let timer {
                timers.add(timer)
                wakeWatcherIfEarlier(timer.when)
            }
            if let single { gort_unlock(single) }
            if many {
                for lock in machine.unlockScratch.reversed() { gort_unlock(lock) }
                machine.unlockScratch.removeAll(keepingCapacity: true)
            }
        case .yield:
            goroutine.status = .runnable
            if tracer.active.load(ordering: .relaxed) {
                tracer.emit(.unpark, UInt64(goroutine.id), UInt64(goroutine.id), 0)
            }
            gort_lock(lock)
            globalPut(goroutine)
            if machine.announcedTransitions {
                // A blocking call that came back to no P (exitBlockingCall): its transitions end here.
                machine.announcedTransitions = false
                transitionsWithoutProcessor -= 1
            }
            gort_unlock(lock)
            // A blocking call that came back to no P: this M has none, and an idle P may have
            // appeared since it looked (its M re-checks the global queue under `lock` first).
            if machine.processor == nil { wakeProcessor() }
        case .preempt:
            goroutine.status = .runnable
            gort_lock(lock)
            globalPut(goroutine)
            gort_unlock(lock)
            // Another P may take it at once (Go puts preempted goroutines on the global queue too).
            wakeProcessor()
        case .exit:
            machine.processorLink!._withUnsafeGuaranteedRef { retire(goroutine, processor: $0) }
        case .none:
            fatal("runtime: a goroutine switched to the scheduler without saying why")
        }
    }

    private func retire(_ goroutine: Goroutine, processor: Processor) {
        if tracer.active.load(ordering: .relaxed) { tracer.emit(.end, UInt64(goroutine.id)) }
        gort_fiber_destroy(goroutine.fiber)
        let completion = goroutine.runCompletion
        if let stack = goroutine.stack {
            gort_stack_retire(stack.slot)
            processor.freeStacks.append(stack)
            if processor.freeStacks.count >= Self.localPoolLimit {
                gort_lock(lock)
                Self.movePoolBatch(from: &processor.freeStacks, to: &freeStacks)
                let surplus = freeStacks.count > Self.residentPoolLimit
                gort_unlock(lock)
                // A pool this large is left over from a burst: the shrinker returns its pages.
                if surplus { gort_stack_shrinker_wake() }
            }
            goroutine.stack = nil
        }
        goroutine.reset()
        goroutine.status = .dead
        Processor.countByOwner(processor.retiredHere)
        processor.freeGoroutines.append(Unmanaged.passUnretained(goroutine))
        if processor.freeGoroutines.count >= Self.localPoolLimit {
            gort_lock(lock)
            Self.movePoolBatch(from: &processor.freeGoroutines, to: &freeGoroutines)
            freeGoroutineCount.store(freeGoroutines.count, ordering: .relaxed)
            gort_unlock(lock)
        }
        if let completion {
            gort_lock(lock)
            if activeRun === completion { activeRun = nil }
            gort_unlock(lock)
            gort_note_wakeup(completion.note)
        }
    }

    /// Returns a runnable goroutine; `machine` holds a P on return. Sleeps while there is none.
    private func findRunnable(_ machine: Machine) -> Unmanaged<Goroutine> {
        while true {
            if machine.processor == nil {
                sleepUntilHandedProcessor(machine)
                continue
            }
            if machine.isSampling || tracer.active.load(ordering: .relaxed)
                || tracer.profileEpoch.load(ordering: .relaxed) != machine.profileEpoch { tracer.serviceProfiler(machine) }
            // A flush request, or a world stop's (then this M parks here with its P until the restart).
            if tracer.flushEpoch.load(ordering: .relaxed) != machine.flushedEpoch { honourFlushRequest(machine) }
            // Safety: a P lives for good (`processors`); borrowed, it costs no retain and release per switch.
            if let goroutine = machine.processorLink!._withUnsafeGuaranteedRef({ lookForWork(machine, $0) }) {
                return goroutine
            }
        }
    }

    /// One pass of `findRunnable` with the P `machine` holds: a goroutine to run (unretained: a goroutine record
    /// lives for good), or nil to go round again.
    private func lookForWork(_ machine: Machine, _ processor: Processor) -> Unmanaged<Goroutine>? {
        if processor.id >= processorCount.load(ordering: .acquiring) {
            retireProcessor(machine)
            return nil
        }
        if timers.count.load(ordering: .relaxed) > 0 { runExpiredTimers() }

        if processor.scheduleTick % 61 == 0, globalCount.load(ordering: .relaxed) > 0 {
            gort_lock(lock)
            let goroutine = globalGet(processor, limit: 1)
            gort_unlock(lock)
            if let goroutine { return found(goroutine, machine) }
        }
        // On the same tick, a P that never runs dry still looks at the network poller.
        if processor.scheduleTick % 61 == 0, netPoller.hasWaiters { _ = netPoller.pollAndReady() }
        if let goroutine = localGet(processor) { return found(goroutine, machine) }
        if globalCount.load(ordering: .relaxed) > 0 {
            gort_lock(lock)
            let goroutine = globalGet(processor, limit: 0)
            gort_unlock(lock)
            if let goroutine { return found(goroutine, machine) }
        }
        // Goroutines whose sockets became ready (a non-blocking poll, as Go's findrunnable
        // does before stealing); they land in this P's queue.
        if netPoller.hasWaiters, netPoller.pollAndReady() > 0 { return nil }

        // Steal, but keep the number of spinning Ms at most half the busy Ps: more would burn
        // CPU for nothing.
        let busy = processorCount.load(ordering: .relaxed) - idleProcessorCount.load(ordering: .relaxed)
        if machine.spinning || 2 * spinningCount.load(ordering: .relaxed) < busy {
            if !machine.spinning {
                machine.spinning = true
                spinningCount.add(1, ordering: .sequentiallyConsistent)
            }
            if let goroutine = steal(machine, processor) {
                machine.idlePassesBesideBusy = 0
                return found(Unmanaged.passUnretained(goroutine), machine)
            }
            // Nothing to steal, but another P runs: stay spinning, with the P, for a few more passes, each after
            // a short sleep, before going to sleep for good. A busy P that readies goroutines into its own runnext
            // and runs them itself (a ring of channels) wakes a sleeping M on every ready; while one spins, those
            // wake-ups skip the futex. Going to sleep after one pass, the spinner was woken again within ~50 µs,
            // each wake-up costing the busy M a system call and an inter-processor interrupt.
            if machine.idlePassesBesideBusy < Self.idlePassLimit, anotherProcessorRuns(than: processor) {
                machine.idlePassesBesideBusy += 1
                gort_usleep(3)
                return nil
            }
            machine.idlePassesBesideBusy = 0
        }

        // Nothing: give up the P (step 1 of the protocol).
        gort_lock(lock)
        if let goroutine = globalGet(processor, limit: 0) {
            gort_unlock(lock)
            return found(goroutine, machine)
        }
        releaseProcessor(machine, processor)
        gort_unlock(lock)

        if machine.spinning {
            // Step 2: stop spinning, then look again at every queue.
            machine.spinning = false
            let before = spinningCount.subtract(1, ordering: .sequentiallyConsistent).oldValue
            assert(before > 0, "negative spinning count")
            if let processor = reacquireIfWorkAppeared() {
                machine.processor = processor
                machine.spinning = true
                spinningCount.add(1, ordering: .sequentiallyConsistent)
                return nil
            }
        }
        // Step 3 happens at the top of `findRunnable`'s loop: machine.processor is nil.
        return nil
    }

    @inline(__always)
    private func found(_ goroutine: Unmanaged<Goroutine>, _ machine: Machine) -> Unmanaged<Goroutine> {
        if machine.spinning {
            machine.spinning = false
            let before = spinningCount.subtract(1, ordering: .sequentiallyConsistent).oldValue
            // The last spinning M found work: there may be more, so keep one looking.
            if before == 1 { wakeProcessor() }
        }
        return goroutine
    }

    private func localGet(_ processor: Processor) -> Unmanaged<Goroutine>? {
        let next = processor.runNext.load(ordering: .relaxed)
        if next != 0,
           processor.runNext.compareExchange(expected: next, desired: 0, ordering: .acquiringAndReleasing).exchanged {
            return LocalRunQueue.link(next)
        }
        return processor.runQueue.getLink()
    }

    private func steal(_ machine: Machine, _ processor: Processor) -> Goroutine? {
        let count = processorCount.load(ordering: .relaxed)
        if count < 2 { return nil }
        for round in 0..<4 {
            let start = machine.random(below: count)
            for offset in 0..<count {
                let victim = self.processor((start + offset) % count)
                if victim === processor { continue }
                let n = victim.runQueue.grab(into: processor.runQueue)
                if n > 0 {
                    if tracer.active.load(ordering: .relaxed) {
                        tracer.emit(.steal, UInt64(processor.id), UInt64(victim.id), UInt64(n))
                    }
                    return processor.runQueue.publishGrabbed(n)
                }
                if round == 3 {
                    let next = victim.runNext.load(ordering: .acquiring)
                    if next != 0 {
                        if victim.isRunning.load(ordering: .relaxed) {
                            // Give the victim's M ~3 µs to run its own runnext first: stealing a
                            // goroutine its producer is about to run only adds a cache miss. Asleep in
                            // the kernel, as Go's usleep(3): a busy wait kept this CPU (and its SMT
                            // sibling) busy and read the victim's runnext line all along.
                            gort_usleep(3)
                        }
                        if victim.runNext.compareExchange(expected: next, desired: 0, ordering: .acquiringAndReleasing).exchanged {
                            if tracer.active.load(ordering: .relaxed) {
                                tracer.emit(.steal, UInt64(processor.id), UInt64(victim.id), 1)
                            }
                            return LocalRunQueue.goroutine(next)
                        }
                    }
                }
            }
        }
        return nil
    }

    private func anotherProcessorRuns(than processor: Processor) -> Bool {
        for index in 0..<processorCount.load(ordering: .relaxed) {
            let other = self.processor(index)
            if other !== processor, other.isRunning.load(ordering: .relaxed) { return true }
        }
        return false
    }

    /// Lock held. Puts the M's P on the idle list (or disables it) and detaches it.
    func releaseProcessor(_ machine: Machine, _ processor: Processor) {
        assert(gort_lock_is_held(lock))
        assert(processor.runQueue.isEmpty && processor.runNext.load(ordering: .relaxed) == 0)
        processor.isRunning.store(false, ordering: .relaxed)
        machine.processor = nil
        if tracer.active.load(ordering: .relaxed) { tracer.emit(.procStop, UInt64(processor.id)) }
        if processor.id >= processorCount.load(ordering: .relaxed) {
            processor.status = .disabled
        } else {
            processor.status = .idle
            pushIdleProcessor(processor)
        }
    }

    /// A P beyond maxProcs: move its work to the global queue and give it up.
    private func retireProcessor(_ machine: Machine) {
        let processor = machine.processor!
        var moved: [Goroutine] = []
        while let goroutine = localGet(processor) { moved.append(goroutine.takeUnretainedValue()) }
        gort_lock(lock)
        for goroutine in moved { globalPut(goroutine) }
        releaseProcessor(machine, processor)
        gort_unlock(lock)
        if machine.spinning {
            machine.spinning = false
            spinningCount.subtract(1, ordering: .sequentiallyConsistent)
        }
        // Work it moved, or work already waiting in the global queue (a goroutine that yielded on
        // this P just before it retired), now needs an enabled P: this M is about to sleep.
        if !moved.isEmpty || globalCount.load(ordering: .sequentiallyConsistent) > 0 { wakeProcessor() }
    }

    private func reacquireIfWorkAppeared() -> Processor? {
        let count = processorCount.load(ordering: .relaxed)
        var workSeen = globalCount.load(ordering: .sequentiallyConsistent) > 0
        if !workSeen {
            for index in 0..<count where processor(index).hasWork {
                workSeen = true
                break
            }
        }
        guard workSeen else { return nil }
        gort_lock(lock)
        let processor = popIdleProcessor()
        processor?.status = .running
        processor?.isRunning.store(true, ordering: .relaxed)
        gort_unlock(lock)
        if let processor { traceProcessorStart(processor) }
        return processor
    }

    /// Step 3: sleep until a waker hands this M a P. The timer watcher sleeps only until the
    /// earliest timer, then runs the expired ones.
    private func sleepUntilHandedProcessor(_ machine: Machine) {
        if machine.isSampling || tracer.active.load(ordering: .relaxed)
                || tracer.profileEpoch.load(ordering: .relaxed) != machine.profileEpoch { tracer.serviceProfiler(machine) }
        if tracer.flushEpoch.load(ordering: .relaxed) != machine.flushedEpoch { honourFlushRequest(machine) }
        gort_lock(lock)
        checkDeadlock()
        var deadline: Int64 = -1
        // With goroutines waiting on I/O the watcher blocks in epoll_wait (timers or not), and
        // takes over from a watcher that only sleeps on its note (that one still wakes at its
        // own deadline and runs the timers).
        let pollNetwork = netPoller.hasWaiters && !pollerBusy
        var polls = false
        if watcher == nil || (pollNetwork && !watcherPolls),
           timers.count.load(ordering: .relaxed) > 0 || pollNetwork {
            watcher = machine
            watcherPolls = pollNetwork
            polls = pollNetwork
            if polls { pollerBusy = true }
            deadline = timers.count.load(ordering: .relaxed) > 0 ? timers.earliest.load(ordering: .relaxed) : -1
            watcherDeadline = deadline >= 0 ? deadline : .max
        }
        gort_note_clear(machine.note)
        machine.idleLink = idleMachines
        idleMachines = machine
        gort_unlock(lock)

        let woken: Bool
        var polled: [Goroutine] = []
        if polls {
            // Returns on an event, the deadline, or an interrupt from whoever took this M off the
            // idle list; the "not woken" path below sorts out which.
            polled = netPoller.poll(timeout: deadline >= 0 ? max(0, deadline - gort_nanotime()) : -1)
            woken = false
        } else if deadline >= 0 {
            woken = gort_note_timed_sleep(machine.note, max(0, deadline - gort_nanotime()))
        } else {
            gort_note_sleep(machine.note)
            woken = true
        }
        if !woken {
            // Timed out as the watcher: leave the idle list unless a waker picked us meanwhile.
            gort_lock(lock)
            let picked = !removeIdleMachine(machine)
            if watcher === machine { watcher = nil }
            if polls { pollerBusy = false }
            if !picked {
                // Off the idle list, about to run timers without a P: not while the world is stopped.
                waitWhileWorldStopped(machine)
                timerRunners.add(1, ordering: .sequentiallyConsistent)
                transitionsWithoutProcessor += 1
                machine.announcedTransitions = true
            }
            gort_unlock(lock)
            if picked {
                gort_note_sleep(machine.note)
                // Polled goroutines go to the global queue, and wake a P: the waker may have
                // handed this M none (an earlier timer, a trace flush). `ready` waits out a world stop.
                for goroutine in polled { ready(goroutine) }
            } else {
                // Goroutines the timers (or the poller) ready go to the global queue without
                // waking anyone (`isRunningTimers`): this M takes a P for them itself.
                machine.isRunningTimers = true
                for goroutine in polled { ready(goroutine) }
                runExpiredTimers()
                machine.isRunningTimers = false
                gort_lock(lock)
                if globalCount.load(ordering: .relaxed) > 0, let processor = popIdleProcessor() {
                    processor.status = .running
                    processor.isRunning.store(true, ordering: .relaxed)
                    machine.processor = processor
                }
                timerRunners.subtract(1, ordering: .sequentiallyConsistent)
                transitionsWithoutProcessor -= 1
                machine.announcedTransitions = false
                gort_unlock(lock)
                if let processor = machine.processor { traceProcessorStart(processor) }
                if machine.processor != nil { wakeProcessor() }
                return  // back to the loop: run, sleep again, or be handed a P
            }
        }
        machine.processor = machine.nextProcessor
        machine.nextProcessor = nil
        machine.processor?.isRunning.store(true, ordering: .relaxed)
        if let processor = machine.processor { traceProcessorStart(processor) }
    }

    func traceProcessorStart(_ processor: Processor) {
        if tracer.active.load(ordering: .relaxed) { tracer.emit(.procStart, UInt64(processor.id)) }
    }

    /// All Ms ever started. `locked`: the caller holds `lock`.
    func machinesSnapshot(locked: Bool) -> [Machine] {
        if !locked { gort_lock(lock) }
        let result = allMachines
        if !locked { gort_unlock(lock) }
        return result
    }

    /// Wakes every idle M without handing it a P: each flushes its trace buffer and sleeps again.
    /// `whileAsleep` runs for each of them first, off the idle list and before its wake-up: an M on the
    /// idle list writes nothing until a waker takes it off and wakes it (sleepUntilHandedProcessor), so
    /// until the wake-up its trace buffer is the caller's (ordered by `lock`, then by the note).
    /// `only`: which idle Ms to wake (called under `lock`, while each is asleep); the others stay asleep.
    func wakeIdleMachinesToFlush(only selected: (Machine) -> Bool = { _ in true },
                                 whileAsleep: (Machine) -> Void = { _ in }) {
        gort_lock(lock)
        var woken: [Machine] = []
        var kept: [Machine] = []
        while let machine = idleMachines {
            idleMachines = machine.idleLink
            machine.idleLink = nil
            if selected(machine) { woken.append(machine) } else { kept.append(machine) }
        }
        for machine in kept.reversed() {
            machine.idleLink = idleMachines
            idleMachines = machine
        }
        var interruptPoller = false
        if let current = watcher, woken.contains(where: { $0 === current }) {
            interruptPoller = watcherPolls
            watcher = nil
        }
        gort_unlock(lock)
        for machine in woken {
            whileAsleep(machine)
            gort_note_wakeup(machine.note)
        }
        if interruptPoller { netPoller.interrupt() }
    }

    /// Whether an idle M watches the timers (and the poller). A hint: read under `lock`, stale after.
    var hasWatcher: Bool {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return watcher != nil
    }

    /// Wakes the timer watcher when a timer earlier than its deadline was added; with no watcher,
    /// makes sure some M will look (one that finds no work becomes the watcher).
    func wakeWatcherIfEarlier(_ when: Int64) {
        gort_lock(lock)
        if watcher != nil, when >= watcherDeadline {
            gort_unlock(lock)
            return
        }
        let current = watcher
        let interruptPoller = current != nil && watcherPolls
        if let current {
            watcher = nil
            // Unlink it so that the wakeup is not mistaken for a P hand-off.
            _ = removeIdleMachine(current)
        }
        gort_unlock(lock)
        if let current {
            // nextProcessor stays nil: it re-enters the loop, re-evaluates the earliest timer.
            gort_note_wakeup(current.note)
            if interruptPoller { netPoller.interrupt() }
        } else {
            wakeProcessor()
        }
    }

    private func runExpiredTimers() {
        let now = gort_nanotime()
        if timers.earliest.load(ordering: .relaxed) > now { return }
        for timer in timers.popExpired(now: now) { timer.fire() }
    }

    // MARK: - deadlock

    /// Lock held. Exits the process when no goroutine can ever run again while a run waits.
    private func checkDeadlock() {
        assert(gort_lock_is_held(lock))
        guard activeRun != nil else { return }
        guard idleProcessorCount.load(ordering: .sequentiallyConsistent) == processorCount.load(ordering: .relaxed),
              spinningCount.load(ordering: .sequentiallyConsistent) == 0,
              timerRunners.load(ordering: .sequentiallyConsistent) == 0,
              timers.count.load(ordering: .sequentiallyConsistent) == 0,
              globalCount.load(ordering: .sequentiallyConsistent) == 0,
              Syscalls.inProgress.load(ordering: .sequentiallyConsistent) == 0,
              // A blocking call that came back to no P counts itself here, under this lock, from when it
              // stops counting in `inProgress` until its goroutine is on the global queue; so do `ready`
              // and `spawn` off a P. Without this, that window looked like a deadlock (a TSan CI run).
              transitionsWithoutProcessor == 0,
              !netPoller.hasWaiters  // a socket may still become ready
        else { return }
        // The idle count covers the Ps below maxProcs only. A P beyond it that an M still holds (it retires
        // when that M next schedules) may be running the run's main goroutine: after a run with more Ps, a
        // sleeping M called that a deadlock (ThreadSanitizer's CI run, LeakCheckTests: "all goroutines are
        // asleep" listing only an earlier run's leaked goroutines). Status is written under the lock.
        for index in processorCount.load(ordering: .relaxed)..<processorsCreated.load(ordering: .relaxed)
        where processor(index).status != .disabled {
            return
        }
        var report = "fatal error: all goroutines are asleep - deadlock!\n"
        for goroutine in allGoroutines where goroutine.status == .waiting {
            report += "\ngoroutine \(goroutine.id) [\(goroutine.waitReason)]:\n"
            if goroutine.parentID > 0 {
                report += "\tcreated by goroutine \(goroutine.parentID)\n"
            } else {
                report += "\tcreated outside any goroutine\n"
            }
        }
        writeStandardError(report)
        tracer.stop(othersAreAsleep: true)
        gort_exit(2)
    }
}

/// The process-wide scheduler.
let scheduler = Scheduler()

/// Entry of every M thread.
private func machineMain(_ raw: UnsafeMutableRawPointer?) {
    // Safety: startMachine passed a retained Machine; that reference is kept for the M's life.
    let machine = Unmanaged<Machine>.fromOpaque(raw!).takeUnretainedValue()
    gort_tls_set_m(raw)
    gort_preempt_bind_thread(machine.preemption.state)
    // Stack growth faults are handled on it: a goroutine at its guard has no stack left.
    if !gort_signal_stack_install() { fatal("runtime: cannot install an alternate signal stack") }
    gort_thread_stack_bounds(&machine.threadStackLow, &machine.threadStackHigh)
    gort_fiber_init_thread(machine.g0Fiber)
    machine.processor = machine.nextProcessor
    machine.nextProcessor = nil
    machine.processor?.isRunning.store(true, ordering: .relaxed)
    if let processor = machine.processor { scheduler.traceProcessorStart(processor) }
    scheduler.scheduleLoop(machine)
}

/// First function on every goroutine stack.
private func goroutineMain(_ raw: UnsafeMutableRawPointer?) {
    runBody(raw!)
    // Nothing retained may live in this frame: it never returns.
    let machineRaw = gort_tls_get_m()!
    let (slot, target, fiber, g0Fiber, g0Low, g0High) = Unmanaged<Machine>.fromOpaque(machineRaw)
        ._withUnsafeGuaranteedRef { machine in
            machine.action = .exit
            let goroutine = machine.current!
            return (goroutine.stackPointerSlot, machine.g0StackPointer.pointee, goroutine.fiber, machine.g0Fiber,
                    machine.threadStackLow, machine.threadStackHigh)
        }
    // Here, not in the closure: the sanitizers must see the switch in the frame that makes it.
    gort_fiber_switch_begin(fiber, g0Fiber, UnsafeRawPointer(bitPattern: g0Low), Int(bitPattern: g0High &- g0Low), true)
    gort_context_switch(slot, target)
    fatalError("unreachable: a dead goroutine was resumed")
}

@inline(never)
private func runBody(_ raw: UnsafeMutableRawPointer) {
    // Safety: execute passed an unretained pointer to the goroutine being started; goroutines
    // are never freed.
    // Borrowed, and the body moved out rather than copied: a retain of either is an atomic write to a line that
    // the spawning P wrote last (at 2 Ps, most goroutines run on another P than their spawner).
    guard let body = Unmanaged<Goroutine>.fromOpaque(raw)._withUnsafeGuaranteedRef({ goroutine in
        gort_fiber_switch_end(goroutine.fiber)  // the first code of a fresh goroutine
        return goroutine.body.take()
    }) else { return }
    body()
}

// MARK: - operations on the current goroutine

extension Scheduler {
    /// Parks the current goroutine (see the protocol at the top); `locks` are released, and
    /// `timer` armed, only once it is off its stack.
    /// Precondition: called on a goroutine; `locks` are held by the caller.
    func park(_ reason: WaitReason, unlocking locks: UnsafeMutablePointer<gort_lock_t>? = nil, timer: RuntimeTimer? = nil) {
        guard let raw = gort_tls_get_m() else {
            fatal("runtime: blocking operation (\(reason)) outside a goroutine; call it inside Runtime.run { } or go { }")
        }
        let profiledSince = ContentionProfiles.enabled.load(ordering: .relaxed) ? gort_nanotime() : 0
        // Safety: the TLS slot holds this thread's M, which lives forever (currentMachine); borrowing it
        // spares a retain and a release on every park. The goroutine may resume on another M: nothing
        // after the switch uses this one.
        Unmanaged<Machine>.fromOpaque(raw)._withUnsafeGuaranteedRef { machine in
            guard let current = machine.currentLink else {
                fatal("runtime: blocking operation (\(reason)) outside a goroutine; call it inside Runtime.run { } or go { }")
            }
            if machine.processor == nil { fatalInsideBlockingCall(String(describing: reason)) }
            if gort_preempt_is_held(machine.preemption.state) { fatalWhileHeld(String(describing: reason)) }
            // Safety: a goroutine record lives for good (`allGoroutines`).
            current._withUnsafeGuaranteedRef { goroutine in
                goroutine.parkLock = locks
                goroutine.parkTimer = timer
                goroutine.status = .waiting
                goroutine.waitReason = reason
                if tracer.active.load(ordering: .relaxed) { tracePark(goroutine, reason) } else { goroutine.waitSinceTicks = 0 }
                machine.action = .park
                switchToScheduler(goroutine, machine)
            }
        }
        if profiledSince != 0 { ContentionProfiles.resumed(reason, delay: gort_nanotime() - profiledSince) }
    }

    /// Like `park`, for select: `goroutine.parkLocks` already lists the locks.
    func parkPrepared(_ goroutine: Goroutine, _ reason: WaitReason) {
        let machine = Self.currentMachine()!
        if machine.processor == nil { fatalInsideBlockingCall(String(describing: reason)) }
        if gort_preempt_is_held(machine.preemption.state) { fatalWhileHeld(String(describing: reason)) }
        goroutine.status = .waiting
        goroutine.waitReason = reason
        if tracer.active.load(ordering: .relaxed) { tracePark(goroutine, reason) } else { goroutine.waitSinceTicks = 0 }
        machine.action = .park
        let profiledSince = ContentionProfiles.enabled.load(ordering: .relaxed) ? gort_nanotime() : 0
        switchToScheduler(goroutine, machine)
        if profiledSince != 0 { ContentionProfiles.resumed(reason, delay: gort_nanotime() - profiledSince) }
    }

    @inline(never)
    private func tracePark(_ goroutine: Goroutine, _ reason: WaitReason) {
        // The stack first: defining it may emit a `stack` event, which must not follow the park's time.
        let stack = tracer.captureStack(running: goroutine)
        let now = tracer.ticks()
        goroutine.waitSinceTicks = now
        tracer.emit(.park, at: now, UInt64(goroutine.id), UInt64(parkReason(reason).rawValue), stack)
    }

    func yield() {
        guard let machine = Self.currentMachine(), let goroutine = machine.current else {
            gort_os_yield()
            return
        }
        if machine.processor == nil { fatalInsideBlockingCall("yield") }
        if gort_preempt_is_held(machine.preemption.state) { fatalWhileHeld("yield") }
        if tracer.active.load(ordering: .relaxed) { tracePark(goroutine, .yield) }
        machine.action = .yield
        switchToScheduler(goroutine, machine)
    }

    @inline(__always)
    func switchToScheduler(_ goroutine: Goroutine, _ machine: Machine) {
        // Safety: we run on `goroutine`'s stack on `machine`; g0's stack pointer was saved by the
        // switch that started us. After this returns we may be on another M: nothing read from
        // `machine` before the switch is used after it.
        gort_fiber_switch_begin(goroutine.fiber, machine.g0Fiber, UnsafeRawPointer(bitPattern: machine.threadStackLow),
                                Int(bitPattern: machine.threadStackHigh &- machine.threadStackLow), false)
        gort_context_switch(goroutine.stackPointerSlot, machine.g0StackPointer.pointee)
        gort_fiber_switch_end(goroutine.fiber)
    }
}
