// Goroutine.swift — the G of the G/M/P model.
//
// A Goroutine object is never freed: dead goroutines go back to a free pool (per P, then global)
// and are reused, as Go keeps its allgs. That makes a raw pointer to a goroutine valid forever,
// which is what lets run queues, timers and wait queues hold unretained references.
//
// A goroutine's stack is attached only while it runs or is parked: a spawned goroutine takes a
// stack from its P's cache when it first runs, and gives it back when it ends, so a million
// goroutines spawned faster than they run do not hold a million stacks.
//
// Ownership of the mutable fields (why `@exclusivity(unchecked)` is sound here):
// - `body`, `stack`, `context`, `sudogCache`, `parkLocks`, `parkTimer`: only the goroutine itself
//   or the M that is switching it in or out touches them, never both at once.
// - `status`, `waitReason`: written by the goroutine before it parks and by the one
//   that readies it (whose release happens before the goroutine can run again, through the run
//   queue's or the channel lock's ordering). The trace snapshot, the leak check and the deadlock
//   report read them — and `id`, `parentID`, `leakScope` and the stack's slot — from other threads
//   while they change: those fields are relaxed atomics, so such a read sees an old or a new value,
//   never a torn one, and is not a data race.
// - `selectWinner`/`selectTimedOut`: written by whoever wins the `selectDone` CAS, read by the
//   goroutine after it has been readied.
// - `selectDone` holds a ticket, not a flag: the number of the select wait (`selectWaits`, which only the
//   goroutine writes and `reset` keeps) times two, plus one once a case or the timeout has claimed it. A
//   channel waker claims the ticket it finds: it holds the lock of a channel the goroutine's record is still
//   queued on, and the goroutine takes that lock to withdraw the record before it can start another select.
//   A timeout claims only the ticket it was armed with: the timer runner may have taken it off the heap
//   before the goroutine, woken by a channel, could remove it, and such a late timer must fail instead of
//   claiming a later select (which would wake a goroutine that is running, or a select with no timeout).
import CGoRuntime
import Synchronization

enum GoroutineStatus: UInt8 {
    case idle       // in a free pool
    case runnable   // on a run queue
    case running
    case waiting    // parked
    case dead
}

/// Why a goroutine is parked. The description follows Go's wording (`goroutine 7 [chan receive]`).
public enum WaitReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Not waiting: the goroutine is runnable or running (described as `running`).
    case none
    /// Receiving from a channel that has nothing to give (`chan receive`).
    case chanReceive
    /// Sending on a channel with no receiver and no buffer space (`chan send`).
    case chanSend
    /// In a `select` none of whose cases is ready (`select`).
    case select
    /// In a `select` with no cases and no default, which waits forever (`select (no cases)`).
    case selectNoCases
    /// Locking a ``Mutex`` another goroutine holds (`sync.Mutex.Lock`).
    case mutex
    /// Read-locking an ``RWMutex`` that a writer holds or waits for (`sync.RWMutex.RLock`).
    case rwmutexRead
    /// Write-locking an ``RWMutex`` that readers or another writer hold (`sync.RWMutex.Lock`).
    case rwmutexWrite
    /// In ``WaitGroup/wait()`` (`sync.WaitGroup.Wait`).
    case waitGroup
    /// In ``Cond/wait()`` (`sync.Cond.Wait`).
    case cond
    /// In ``Runtime/sleep(for:)`` (`sleep`).
    case sleep
    /// Waiting for a socket to become readable or writable (`IO wait`).
    case io
    /// In a blocking system call (`syscall`).
    case syscall
    /// Gave up its processor with ``Runtime/yield()`` (`yield`).
    case yield
    /// Stopped by the scheduler after running too long (`preempted`).
    case preempted
    /// On one of the runtime's internal semaphores (`semacquire`).
    case semaphore

    /// The reason as Go prints it in a goroutine dump: `goroutine 7 [chan receive]:`.
    public var description: String {
        switch self {
        case .none: return "running"
        case .chanReceive: return "chan receive"
        case .chanSend: return "chan send"
        case .select: return "select"
        case .selectNoCases: return "select (no cases)"
        case .mutex: return "sync.Mutex.Lock"
        case .rwmutexRead: return "sync.RWMutex.RLock"
        case .rwmutexWrite: return "sync.RWMutex.Lock"
        case .waitGroup: return "sync.WaitGroup.Wait"
        case .cond: return "sync.Cond.Wait"
        case .sleep: return "sleep"
        case .io: return "IO wait"
        case .syscall: return "syscall"
        case .yield: return "yield"
        case .preempted: return "preempted"
        case .semaphore: return "semacquire"
        }
    }
}

/// The part of a goroutine that assembly touches: its saved stack pointer, then the two words of
/// Swift exclusivity-tracking state that are swapped in while it runs; then what the sanitizers keep
/// about its stack (sanitizer_fibers.h; unused outside sanitizer builds).
struct GoroutineContext {
    var stackPointer: UnsafeMutableRawPointer?
    var exclusivityState: (UInt, UInt)
    var fiber = gort_fiber_t()
}

final class Goroutine: @unchecked Sendable {
    // Layout: a class's stored properties lie in declaration order. What a channel hand-off touches — the
    // switch in and out (`status`, `id`, `context`, `stack`), the park (`parkLock`, `parkTimer`, `parkLocks`,
    // `waitReason`, `waitSinceTicks`) and the wait record (`spareSudog`) — comes first, within the record's
    // first 104 bytes, so that a hand-off to a goroutine whose record has gone cold (ring: 10,000 goroutines
    // take turns) touches two or three lines of it rather than four (docs/performance.md). The rest is read on
    // spawn, exit, select or by diagnostics.
    //
    // The fields that diagnostics read from other threads (see the ownership note above) are relaxed
    // atomics, plain moves on x86-64, so that those reads are defined (and ThreadSanitizer-clean).
    private let statusWord = Atomic<UInt8>(GoroutineStatus.idle.rawValue)
    private let waitReasonWord = Atomic<UInt8>(WaitReason.none.rawValue)
    private let stackSlotWord = Atomic<UInt32>(Goroutine.noStackSlot)
    private let idWord = Atomic<Int64>(0)
    /// Raw memory: the assembly writes the stack pointer here.
    let context: UnsafeMutablePointer<GoroutineContext>
    /// Owned by the goroutine and the M switching it (see above); its slot number is mirrored in
    /// `stackSlot` for the trace snapshot, which reads it from another thread.
    @exclusivity(unchecked) var stack: gort_stack_t? {
        didSet { stackSlotWord.store(stack?.slot ?? Goroutine.noStackSlot, ordering: .relaxed) }
    }
    /// The lock a parked goroutine asks g0 to release (the common single-lock case; select uses
    /// `parkLocks`).
    @exclusivity(unchecked) var parkLock: UnsafeMutablePointer<gort_lock_t>?
    // parking: what the scheduler does for the goroutine once it is off its stack
    @exclusivity(unchecked) var parkTimer: RuntimeTimer?
    /// Released wait records for reuse: one in `spareSudog` (a goroutine outside `select` waits on one thing at a
    /// time, so every channel operation finds it there without touching an array), more in `sudogCache`.
    @exclusivity(unchecked) var spareSudog: Sudog?
    @exclusivity(unchecked) var parkLocks: [UnsafeMutablePointer<gort_lock_t>] = []
    private let waitSinceTicksWord = Atomic<UInt64>(0)

    private let parentIDWord = Atomic<Int64>(0)
    private let leakScopeWord = Atomic<Int64>(0)
    private let creatorPCWord = Atomic<UInt>(0)
    @exclusivity(unchecked) var sudogCache: [Sudog] = []
    static let noStackSlot = UInt32.max

    var id: Int64 {
        get { idWord.load(ordering: .relaxed) }
        set { idWord.store(newValue, ordering: .relaxed) }
    }
    var parentID: Int64 {
        get { parentIDWord.load(ordering: .relaxed) }
        set { parentIDWord.store(newValue, ordering: .relaxed) }
    }
    /// Inherited from the spawner (or, outside goroutines, the spawning thread): the leak-check
    /// scope this goroutine belongs to (LeakCheck.swift); 0 for none.
    var leakScope: Int64 {
        get { leakScopeWord.load(ordering: .relaxed) }
        set { leakScopeWord.store(newValue, ordering: .relaxed) }
    }
    var status: GoroutineStatus {
        // Only GoroutineStatus raw values are ever stored. Release/acquire (plain moves on x86-64):
        // a reader from another thread that sees a status also sees the id and scope set before it.
        get { GoroutineStatus(rawValue: statusWord.load(ordering: .acquiring))! }
        set { statusWord.store(newValue.rawValue, ordering: .releasing) }
    }
    var waitReason: WaitReason {
        // Only WaitReason raw values are ever stored.
        get { WaitReason(rawValue: waitReasonWord.load(ordering: .relaxed))! }
        set { waitReasonWord.store(newValue.rawValue, ordering: .relaxed) }
    }
    /// When it parked or entered `Runtime.blockingCall`, in the tracer's ticks, if a recording was on then
    /// (0: not known). Written by the goroutine itself; a snapshot reads it from another thread (`waited`).
    /// Relaxed, as the fields above: the snapshot runs with the world stopped, after the scheduler's lock
    /// ordered the park (or the blocking call's entry) before it, and a racing read only misdates one wait.
    var waitSinceTicks: UInt64 {
        get { waitSinceTicksWord.load(ordering: .relaxed) }
        set { waitSinceTicksWord.store(newValue, ordering: .relaxed) }
    }
    /// The PC of the `go` statement that created it (0: a run's main goroutine): a dump's `created by`.
    var creatorPC: UInt {
        get { creatorPCWord.load(ordering: .relaxed) }
        set { creatorPCWord.store(newValue, ordering: .relaxed) }
    }
    @exclusivity(unchecked) var body: (@Sendable () -> Void)?
    /// The slot number of `stack`, or `noStackSlot`: readable from any thread. A stale value names a
    /// slot that another goroutine may own by now; gort_stack_capture_parked then checks the owner.
    var stackSlot: UInt32 { stackSlotWord.load(ordering: .relaxed) }
    /// Intrusive link for the global run queue. Unretained, as in every run queue: the record lives for good
    /// (`Scheduler.allGoroutines`), and a count here cost two atomic writes to a line the other Ps read each time
    /// a goroutine passed through the global queue.
    @exclusivity(unchecked) var schedLink: Unmanaged<Goroutine>?
    /// Set on the goroutine a `Runtime.run` waits for.
    @exclusivity(unchecked) var runCompletion: RunCompletion?

    // select
    let selectDone = Atomic<UInt64>(1)
    /// How many times this goroutine object has waited in a select; never reset (see the note above).
    @exclusivity(unchecked) var selectWaits: UInt64 = 0
    @exclusivity(unchecked) var selectWinner: Sudog?
    @exclusivity(unchecked) var selectTimedOut = false

    /// Claims the select wait numbered by `ticket` (see the note above): true for exactly one claimer.
    /// Acquiring and releasing: the claimer's writes (`selectWinner`, the received value) happen before the
    /// goroutine, readied after this, reads them; the goroutine's set-up of the wait happens before ours.
    func claimSelect(ticket: UInt64) -> Bool {
        ticket & 1 == 0
            && selectDone.compareExchange(expected: ticket, desired: ticket | 1, ordering: .acquiringAndReleasing).exchanged
    }




    /// The sanitizers' record of this goroutine's stack (sanitizer_fibers.h): a field of `context`, its
    /// address computed once here rather than at every switch.
    let fiber: UnsafeMutablePointer<gort_fiber_t>

    init() {
        context = .allocate(capacity: 1)
        context.initialize(to: GoroutineContext(stackPointer: nil, exclusivityState: (0, 0)))
        // Safety: a field of the context, which this goroutine owns and never frees.
        fiber = UnsafeMutableRawPointer(context).advanced(by: MemoryLayout<GoroutineContext>.offset(of: \.fiber)!)
            .assumingMemoryBound(to: gort_fiber_t.self)
    }


    var stackPointerSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        // Safety: stackPointer is the first field of GoroutineContext, so the context's address is
        // its address; the memory is owned by this goroutine and never freed.
        UnsafeMutableRawPointer(context).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }

    var exclusivityState: UnsafeMutablePointer<CChar> {
        // Safety: two words of zeroed memory owned by this goroutine, laid out after the pointer.
        (UnsafeMutableRawPointer(context) + MemoryLayout<UnsafeMutableRawPointer?>.stride)
            .assumingMemoryBound(to: CChar.self)
    }

    /// Returns a wait record for this goroutine, able to hold a value of `T`.
    @inline(__always)
    func acquireSudog<T>(for type: T.Type) -> Sudog {
        acquireSudog(size: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
    }

    /// Returns a wait record for this goroutine, able to hold `size` bytes aligned to `alignment`.
    func acquireSudog(size: Int, alignment: Int) -> Sudog {
        let sudog = spareSudog.take() ?? sudogCache.popLast() ?? Sudog()
        sudog.goroutine = self
        sudog.reserve(size: size, alignment: alignment)
        return sudog
    }

    /// Consuming: the caller's record moves into the cache, without a retain and a release.
    func releaseSudog(_ sudog: consuming Sudog) {
        assert(!sudog.isQueued, "a released sudog is still on a wait queue")
        sudog.isSelect = false
        sudog.success = false
        sudog.nextLink = nil
        sudog.prevLink = nil
        sudog.channel = nil
        if spareSudog == nil {
            spareSudog = sudog
        } else if sudogCache.count < 16 {
            sudogCache.append(sudog)
        }
    }

    /// Clears a dead goroutine for reuse. A field already clear is only read: at 2 Ps the record is reused on the
    /// P that spawns, not the one that retired it, and every line written here would have to move back.
    func reset() {
        if body != nil { body = nil }
        status = .idle
        if waitReason != .none { waitReason = .none }
        if runCompletion != nil { runCompletion = nil }
        if selectWinner != nil { selectWinner = nil }
        if selectTimedOut { selectTimedOut = false }
        if parkTimer != nil { parkTimer = nil }
        if parkLock != nil { parkLock = nil }
        if !parkLocks.isEmpty { parkLocks.removeAll(keepingCapacity: true) }
        if context.pointee.exclusivityState != (0, 0) { context.pointee.exclusivityState = (0, 0) }
        context.pointee.stackPointer = nil
    }
}

/// A wait record: a goroutine waiting on a channel, semaphore or condition. Values cross between
/// goroutines only through `element`, which is heap memory owned by the record — never through
/// another goroutine's stack.
final class Sudog: @unchecked Sendable {
    /// The waiting goroutine, unretained: every goroutine record lives for good (`Scheduler.allGoroutines`).
    /// `Unmanaged` so that a waker can hand it to `ready` without a retain (`goroutineLink`).
    @exclusivity(unchecked) var goroutineLink: Unmanaged<Goroutine>
    var goroutine: Goroutine {
        get { goroutineLink.takeUnretainedValue() }
        set { goroutineLink = Unmanaged.passUnretained(newValue) }
    }
    // The wait queue's links, unretained (see WaitQueue). `Unmanaged`, not `unowned(unsafe)`: loading an
    // `unowned(unsafe)` reference into a local retains it, and the queue's relinking paid four
    // retain/release pairs per dequeue on every channel hand-off (Benchmarks/callgrind.sh).
    @exclusivity(unchecked) var nextLink: Unmanaged<Sudog>?
    @exclusivity(unchecked) var prevLink: Unmanaged<Sudog>?
    /// The record queued after this one.
    var next: Sudog? { nextLink?.takeUnretainedValue() }
    @exclusivity(unchecked) var isQueued = false
    @exclusivity(unchecked) var isSelect = false
    @exclusivity(unchecked) var isSend = false
    @exclusivity(unchecked) var success = false
    @exclusivity(unchecked) var caseIndex = 0
    @exclusivity(unchecked) var ticket: UInt32 = 0
    @exclusivity(unchecked) unowned(unsafe) var channel: AnyObject?
    @exclusivity(unchecked) var element: UnsafeMutableRawPointer
    @exclusivity(unchecked) var elementCapacity: Int
    @exclusivity(unchecked) var elementAlignment: Int

    private static let placeholder = Goroutine()

    init() {
        goroutineLink = Unmanaged.passUnretained(Sudog.placeholder)
        elementCapacity = 64
        elementAlignment = 16
        element = .allocate(byteCount: 64, alignment: 16)
    }

    func reserve(size: Int, alignment: Int) {
        if size > elementCapacity || alignment > elementAlignment {
            element.deallocate()
            elementCapacity = max(size, elementCapacity)
            elementAlignment = max(alignment, elementAlignment)
            element = .allocate(byteCount: elementCapacity, alignment: elementAlignment)
        }
    }
}

/// A FIFO of wait records, intrusive through `Sudog.nextLink/prevLink`. Guarded by its owner's lock.
struct WaitQueue {
    // Unretained (`Unmanaged`, as `Sudog`'s links): a queued record is kept alive by the parked goroutine
    // that owns it, and the owner's lock keeps it queued while the queue touches it, so each
    // `_withUnsafeGuaranteedRef` below is safe.
    private var headLink: Unmanaged<Sudog>?
    private var tailLink: Unmanaged<Sudog>?

    var isEmpty: Bool { headLink == nil }

    /// The first record, if any.
    var head: Sudog? { headLink?.takeUnretainedValue() }

    mutating func enqueue(_ sudog: Sudog) {
        assert(!sudog.isQueued)
        let link = Unmanaged.passUnretained(sudog)
        sudog.nextLink = nil
        sudog.prevLink = tailLink
        if let tailLink { tailLink._withUnsafeGuaranteedRef { $0.nextLink = link } } else { headLink = link }
        tailLink = link
        sudog.isQueued = true
    }

    /// Puts `sudog` first (LIFO), for a waiter that has already waited once.
    mutating func enqueueFront(_ sudog: Sudog) {
        assert(!sudog.isQueued)
        let link = Unmanaged.passUnretained(sudog)
        sudog.prevLink = nil
        sudog.nextLink = headLink
        if let headLink { headLink._withUnsafeGuaranteedRef { $0.prevLink = link } } else { tailLink = link }
        headLink = link
        sudog.isQueued = true
    }

    mutating func remove(_ sudog: Sudog) {
        guard sudog.isQueued else { return }
        let next = sudog.nextLink
        let prev = sudog.prevLink
        if let prev { prev._withUnsafeGuaranteedRef { $0.nextLink = next } } else { headLink = next }
        if let next { next._withUnsafeGuaranteedRef { $0.prevLink = prev } } else { tailLink = prev }
        sudog.nextLink = nil
        sudog.prevLink = nil
        sudog.isQueued = false
    }

    /// Removes and returns the first waiter that can still be woken. A waiter parked in `select`
    /// is claimed by winning its goroutine's `selectDone`; one already claimed by another case is
    /// dropped, as its select will clean up after itself.
    mutating func dequeue() -> Sudog? {
        dequeueLink()?.takeUnretainedValue()
    }

    /// `dequeue()`, unretained: the record stays its parked goroutine's (which holds it until it runs again),
    /// so a waker that is done with it before it readies that goroutine needs no retain of it.
    mutating func dequeueLink() -> Unmanaged<Sudog>? {
        while let link = headLink {
            let claimed = link._withUnsafeGuaranteedRef { sudog -> Bool in
                remove(sudog)
                guard sudog.isSelect else { return true }
                // Acquiring: the goroutine's stores to its records (values to send) happen before ours.
                let ticket = sudog.goroutine.selectDone.load(ordering: .acquiring)
                guard sudog.goroutine.claimSelect(ticket: ticket) else { return false }
                sudog.goroutine.selectWinner = sudog
                return true
            }
            if claimed { return link }
        }
        return nil
    }
}
