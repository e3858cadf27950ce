// NetPoller.swift — the network poller: goroutines wait for sockets, not threads (Go's netpoll).
//
// Vocabulary:
//   poll descriptor  one per open socket (`PollDescriptor`): the fd, and per direction (read,
//                    write) a readiness bit, at most one parked goroutine, and its deadline timer.
//   waiter           a goroutine parked with reason `.io` on a poll descriptor.
//   poller           one epoll set for the process, plus an eventfd in it that interrupts a
//                    blocking wait.
//
// Sockets are non-blocking and registered once, edge-triggered, for input and output. An edge
// that arrives with no waiter sets the direction's `ready` bit; a waiter consumes it and retries.
//
// Waiting (on a goroutine), the park protocol of Scheduler.swift:
//   1. the operation failed with EAGAIN; take the descriptor's lock;
//   2. if the direction is `ready`, clear it, unlock and retry (the edge came between the system
//      call and the lock); if the descriptor is closing or the deadline passed, fail;
//   3. otherwise record the goroutine as the direction's waiter, count it in `waiters`, and park
//      with the lock — g0 arms the deadline timer and only then releases the lock;
//   4. whoever takes the waiter out under the lock (an epoll event, the deadline timer, close)
//      writes the outcome, cancels the timer unless it is that timer, and calls `ready`;
//   5. the goroutine resumes, reads its outcome and uncounts itself from `waiters`. Counting down
//      only after it runs again means the deadlock check never sees a moment where an I/O waiter
//      is neither counted nor on a run queue.
//
// Who polls (the scheduler's side; see `findRunnable` and `sleepUntilHandedProcessor`):
//   - an M whose P ran dry polls without blocking before it steals, and every 61st schedule
//     (the global-queue fairness tick), so a busy P still notices I/O;
//   - the timer watcher — the one idle M that owns the timer deadline — blocks in epoll_wait
//     instead of on its futex note while `waiters` > 0, with the earliest timer as timeout. A
//     waker that takes this M off the idle list (a P hand-off, an earlier timer, a trace flush)
//     signals the eventfd. The eventfd is level-triggered and only the blocking wait drains it,
//     so a signal is never consumed by another M's non-blocking poll, and one sent before the
//     wait starts makes the wait return at once. At most one M is in the blocking wait at a
//     time (`Scheduler.pollerBusy`, cleared only once it has relocked after the wait): with two,
//     one could drain the signal meant for the other, which would then sleep on with a P
//     handed to it — a hang this rule was written after.
//
// Closing: every operation holds a reference (`operations`) for its duration; `close` marks the
// descriptor closing and wakes both waiters (they fail with `.closed`); the last reference closes
// the fd and recycles the descriptor. The fd number is therefore never closed while an operation
// might still use it (and, reused by the kernel, reach another socket) — Go's fdMutex, reduced
// to a count.
//
// Descriptors are never freed (like Goroutine objects), so the epoll data word can carry an
// unretained pointer. Its top 16 bits carry the descriptor's incarnation: an event fetched for a
// socket that was closed and whose descriptor was reused is recognised as stale and dropped.
//
// Rejected: one thread blocked per socket (what the runtime avoids); level-triggered
// registration (every non-blocking poll would report every idle readable socket again);
// registering and deregistering interest per wait (two system calls per wait, for nothing with
// edge-triggered events).
import CGoRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A socket direction.
enum PollMode {
    case read, write
}

/// How a parked I/O wait ended; written by whoever took the waiter.
enum PollOutcome {
    case none, ready, timedOut, closed
}

/// One direction of a poll descriptor. Guarded by the descriptor's lock.
struct PollSide {
    /// An edge arrived that no waiter has consumed.
    var ready = false
    /// Unretained: goroutines are never freed, and a parked one stays parked until taken out.
    unowned(unsafe) var waiter: Goroutine?
    /// The waiter's armed deadline timer.
    var timer: RuntimeTimer?
    var outcome: PollOutcome = .none
    /// The deadline for new waits (gort_nanotime), or 0 for none.
    var deadline: Int64 = 0

    /// Takes the waiter out with `outcome`; returns it and its timer (to cancel) if there was one.
    mutating func take(_ outcome: PollOutcome) -> (Goroutine, RuntimeTimer?)? {
        guard let goroutine = waiter else { return nil }
        waiter = nil
        let timer = self.timer
        self.timer = nil
        self.outcome = outcome
        return (goroutine, timer)
    }
}

final class PollDescriptor: @unchecked Sendable {
    let lock: UnsafeMutablePointer<gort_lock_t>
    // Guarded by `lock`.
    @exclusivity(unchecked) var fd: Int32 = -1
    /// Incarnation, bumped on every reuse. Its low 16 bits ride in the epoll data word; owners
    /// (`Socket`) keep all of it, so a stale owner can never act on a reused descriptor.
    @exclusivity(unchecked) var generation: UInt64 = 0
    @exclusivity(unchecked) var closing = false
    @exclusivity(unchecked) var operations = 0
    @exclusivity(unchecked) var read = PollSide()
    @exclusivity(unchecked) var write = PollSide()
    /// Free-list link (the poller's lock).
    @exclusivity(unchecked) var freeLink: PollDescriptor?

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    var token: UInt64 {
        let bits = UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()))
        // x86_64 user addresses fit in 47 bits (48 with 5-level paging only above a hint the
        // allocator never passes), which leaves the top 16 bits for the tag, as in Go.
        precondition(bits >> 48 == 0, "runtime: poll descriptor above the 48-bit address space")
        return bits | (generation & 0xFFFF) << 48
    }

    /// Starts an operation of the owner of incarnation `generation`: fails once it is closing.
    func acquire(_ operation: String, _ generation: UInt64) throws(NetError) -> Int32 {
        gort_lock(lock)
        if closing || generation != self.generation {
            gort_unlock(lock)
            throw NetError(.closed, operation: operation)
        }
        operations += 1
        let fd = self.fd
        gort_unlock(lock)
        return fd
    }

    /// Ends an operation; the last one after `close` closes the fd.
    func release() {
        gort_lock(lock)
        operations -= 1
        let finish = closing && operations == 0
        gort_unlock(lock)
        if finish { netPoller.destroy(self) }
    }

    /// Marks the descriptor closing and wakes both waiters; returns false if it already was.
    @discardableResult
    func close(_ generation: UInt64) -> Bool {
        gort_lock(lock)
        if closing || generation != self.generation {
            gort_unlock(lock)
            return false
        }
        closing = true
        let reader = read.take(.closed)
        let writer = write.take(.closed)
        let finish = operations == 0
        gort_unlock(lock)
        wake(reader)
        wake(writer)
        if finish { netPoller.destroy(self) }
        return true
    }

    /// Sets the deadline (gort_nanotime, 0 = none) for `mode`. A goroutine already waiting gets
    /// the new deadline too: a deadline in the past wakes it at once, as in Go.
    func setDeadline(_ deadline: Int64, _ mode: PollMode, _ generation: UInt64) {
        gort_lock(lock)
        if generation != self.generation {
            gort_unlock(lock)
            return
        }
        var woken: (Goroutine, RuntimeTimer?)?
        var armed: RuntimeTimer?
        withSide(mode) { side in
            side.deadline = deadline
            guard let goroutine = side.waiter else { return }
            // Safety of touching the timer: the waiter is parked and g0 armed its timer before
            // releasing this lock (Scheduler.execute), so it is in the heap or has fired.
            if let old = side.timer {
                side.timer = nil
                scheduler.timers.remove(old)
            }
            if deadline != 0, deadline <= gort_nanotime() {
                woken = side.take(.timedOut)
            } else if deadline != 0 {
                let timer = RuntimeTimer(when: deadline, goroutine: goroutine, kind: .ioDeadline(self))
                side.timer = timer
                scheduler.timers.add(timer)
                armed = timer
            }
        }
        gort_unlock(lock)
        if let armed { scheduler.wakeWatcherIfEarlier(armed.when) }
        wake(woken)
    }

    /// Waits until `mode` may make progress. Precondition: the caller holds an operation
    /// reference (`acquire`) and its last system call on the fd failed with EAGAIN.
    func wait(_ mode: PollMode, _ operation: String) throws(NetError) {
        gort_lock(lock)
        if closing {
            gort_unlock(lock)
            throw NetError(.closed, operation: operation)
        }
        var consumed = false
        var deadline: Int64 = 0
        withSide(mode) { side in
            consumed = side.ready
            side.ready = false
            deadline = side.deadline
        }
        if consumed {
            gort_unlock(lock)
            return
        }
        if deadline != 0, deadline <= gort_nanotime() {
            gort_unlock(lock)
            throw NetError(.timedOut, operation: operation)
        }
        guard let goroutine = Scheduler.currentGoroutine() else {
            // Not on a goroutine: block this thread in poll(2) instead.
            let fd = self.fd
            gort_unlock(lock)
            try Self.waitOnThread(fd, mode, deadline: deadline, operation)
            return
        }
        let timer = deadline != 0 ? RuntimeTimer(when: deadline, goroutine: goroutine, kind: .ioDeadline(self)) : nil
        withSide(mode) { side in
            side.waiter = goroutine
            side.timer = timer
            side.outcome = .none
        }
        netPoller.waiters.add(1, ordering: .sequentiallyConsistent)
        scheduler.park(.io, unlocking: lock, timer: timer)
        netPoller.waiters.subtract(1, ordering: .sequentiallyConsistent)
        gort_lock(lock)
        var outcome = PollOutcome.none
        withSide(mode) { side in
            outcome = side.outcome
            side.outcome = .none
        }
        gort_unlock(lock)
        switch outcome {
        case .ready: return
        case .timedOut: throw NetError(.timedOut, operation: operation)
        case .closed: throw NetError(.closed, operation: operation)
        case .none: fatal("runtime: an I/O waiter resumed without an outcome")
        }
    }

    /// The deadline timer `timer` fired: time out the waiter it was armed for, if still waiting.
    func deadlineFired(_ timer: RuntimeTimer) {
        gort_lock(lock)
        var woken: (Goroutine, RuntimeTimer?)?
        if read.timer === timer {
            woken = read.take(.timedOut)
        } else if write.timer === timer {
            woken = write.take(.timedOut)
        }
        gort_unlock(lock)
        if let (goroutine, _) = woken { scheduler.ready(goroutine) }
    }

    /// Lock held. Applies epoll event bits; returns the waiters to ready.
    func applyEvents(_ events: UInt32, into list: inout [Goroutine]) {
        let failed = UInt32(GORT_EPOLLERR | GORT_EPOLLHUP)
        if events & (UInt32(GORT_EPOLLIN | GORT_EPOLLRDHUP) | failed) != 0 {
            if let (goroutine, timer) = read.take(.ready) {
                if let timer { scheduler.timers.remove(timer) }
                list.append(goroutine)
            } else {
                read.ready = true
            }
        }
        if events & (UInt32(GORT_EPOLLOUT) | failed) != 0 {
            if let (goroutine, timer) = write.take(.ready) {
                if let timer { scheduler.timers.remove(timer) }
                list.append(goroutine)
            } else {
                write.ready = true
            }
        }
    }

    private func wake(_ taken: (Goroutine, RuntimeTimer?)?) {
        guard let (goroutine, timer) = taken else { return }
        if let timer { scheduler.timers.remove(timer) }
        scheduler.ready(goroutine)
    }

    @inline(__always)
    private func withSide(_ mode: PollMode, _ body: (inout PollSide) -> Void) {
        switch mode {
        case .read: body(&read)
        case .write: body(&write)
        }
    }

    private static func waitOnThread(_ fd: Int32, _ mode: PollMode, deadline: Int64, _ operation: String) throws(NetError) {
        var request = pollfd(fd: fd, events: Int16(mode == .read ? POLLIN : POLLOUT), revents: 0)
        while true {
            var timeout: Int32 = -1
            if deadline != 0 {
                let left = deadline - gort_nanotime()
                if left <= 0 { throw NetError(.timedOut, operation: operation) }
                timeout = Int32(min((left + 999_999) / 1_000_000, Int64(Int32.max)))
            }
            let n = poll(&request, 1, timeout)
            if n > 0 { return }
            if n < 0, errno != EINTR { throw NetError(errno: errno, operation: operation) }
        }
    }
}

final class NetPoller: @unchecked Sendable {
    /// Goroutines parked on I/O (counted down only once they run again; see step 5).
    let waiters = Atomic<Int>(0)
    /// Set once the epoll set exists; the scheduler never polls before.
    private let started = Atomic<Bool>(false)
    private let lock: UnsafeMutablePointer<gort_lock_t>
    @exclusivity(unchecked) private var epollDescriptor: Int32 = -1
    @exclusivity(unchecked) private var eventDescriptor: Int32 = -1
    @exclusivity(unchecked) private var free: PollDescriptor?
    /// Every descriptor ever made: they are never freed (the epoll data word points at them).
    @exclusivity(unchecked) private var all: [PollDescriptor] = []

    /// The eventfd's data word: no descriptor is at address 1.
    private static let interruptToken: UInt64 = 1
    /// Events drained per epoll_wait; the rest wait for the next poll.
    private static let batch = 128

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    /// Registers a non-blocking socket; returns its descriptor and the incarnation its owner
    /// passes to every call. The caller owns `fd` until this returns (and closes it on failure).
    func register(_ fd: Int32) throws(NetError) -> (PollDescriptor, UInt64) {
        gort_lock(lock)
        if epollDescriptor < 0 {
            let epoll = gort_epoll_create()
            let event = gort_eventfd_create()
            guard epoll >= 0, event >= 0 else {
                let code = errno
                gort_unlock(lock)
                throw NetError(errno: code, operation: "epoll_create")
            }
            let rc = gort_epoll_ctl(epoll, Int32(GORT_EPOLL_ADD), event, UInt32(GORT_EPOLLIN), Self.interruptToken)
            if rc != 0 { fatal("runtime: cannot add the poller's eventfd to its epoll set (errno \(rc))") }
            epollDescriptor = epoll
            eventDescriptor = event
            started.store(true, ordering: .releasing)
        }
        let descriptor: PollDescriptor
        if let reused = free {
            free = reused.freeLink
            reused.freeLink = nil
            descriptor = reused
        } else {
            descriptor = PollDescriptor()
            all.append(descriptor)
        }
        let epoll = epollDescriptor
        gort_unlock(lock)

        gort_lock(descriptor.lock)
        descriptor.fd = fd
        descriptor.generation &+= 1
        let generation = descriptor.generation
        descriptor.closing = false
        descriptor.operations = 0
        descriptor.read = PollSide()
        descriptor.write = PollSide()
        let token = descriptor.token
        gort_unlock(descriptor.lock)
        let interest = UInt32(GORT_EPOLLIN | GORT_EPOLLOUT | GORT_EPOLLRDHUP) | UInt32(bitPattern: Int32(GORT_EPOLLET))
        let rc = gort_epoll_ctl(epoll, Int32(GORT_EPOLL_ADD), fd, interest, token)
        if rc != 0 {
            recycle(descriptor)
            throw NetError(errno: rc, operation: "epoll_ctl")
        }
        return (descriptor, generation)
    }

    /// Closes the descriptor's fd (which also takes it out of the epoll set: the runtime never
    /// duplicates a socket) and recycles the descriptor.
    func destroy(_ descriptor: PollDescriptor) {
        gort_lock(descriptor.lock)
        let fd = descriptor.fd
        descriptor.fd = -1
        gort_unlock(descriptor.lock)
        if fd >= 0 { _ = Glibc.close(fd) }
        recycle(descriptor)
    }

    private func recycle(_ descriptor: PollDescriptor) {
        gort_lock(lock)
        descriptor.freeLink = free
        free = descriptor
        gort_unlock(lock)
    }

    /// Wakes an M blocked in `poll` (or makes the next blocking poll return at once).
    func interrupt() {
        guard started.load(ordering: .acquiring) else { return }
        // No "already signalled" flag to save writes: a drain racing with it could swallow a
        // signal meant for the next blocking poll. Interrupts are rare (one per hand-off of the
        // blocked watcher), and only one M polls blocking at a time (Scheduler.pollerBusy).
        gort_eventfd_signal(eventDescriptor)
    }

    /// Waits up to `timeout` ns (0: just looks; < 0: until an event or `interrupt`) and returns
    /// the goroutines whose sockets became ready, taken out of their descriptors but not yet
    /// readied: the caller readies them when it can place them (see the scheduler).
    /// Runs on g0 (an M's scheduling loop).
    func poll(timeout: Int64) -> [Goroutine] {
        guard started.load(ordering: .acquiring) else { return [] }
        let epoll = epollDescriptor
        var woken: [Goroutine] = []
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.batch) { events in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.batch) { tokens in
                let n = gort_epoll_wait(epoll, events.baseAddress, tokens.baseAddress, Int32(Self.batch), timeout)
                if n < 0 { fatal("runtime: epoll_wait failed (errno \(-n))") }
                for index in 0..<Int(n) {
                    let token = tokens[index]
                    if token == Self.interruptToken {
                        // Only a blocking poll drains the interrupt: a non-blocking one by another
                        // M would otherwise swallow the signal meant for the blocked watcher.
                        if timeout != 0 { gort_eventfd_drain(eventDescriptor) }
                        continue
                    }
                    // Safety: descriptors are never freed; the tag rejects a reused one.
                    let address = UInt(truncatingIfNeeded: token & 0x0000_FFFF_FFFF_FFFF)
                    let descriptor = Unmanaged<PollDescriptor>.fromOpaque(UnsafeRawPointer(bitPattern: address)!)
                        .takeUnretainedValue()
                    gort_lock(descriptor.lock)
                    if descriptor.generation & 0xFFFF == token >> 48, descriptor.fd >= 0 {
                        descriptor.applyEvents(events[index], into: &woken)
                    }
                    gort_unlock(descriptor.lock)
                }
            }
        }
        return woken
    }

    /// Polls without blocking and readies what it finds on the caller's P; returns how many.
    /// Precondition: on g0 of an M that holds a P.
    func pollAndReady() -> Int {
        let woken = poll(timeout: 0)
        for goroutine in woken { scheduler.ready(goroutine) }
        return woken.count
    }

    var hasWaiters: Bool { waiters.load(ordering: .relaxed) > 0 }
}

/// The process-wide poller. Creating it costs nothing: the epoll set is made at the first socket.
let netPoller = NetPoller()
