// Select.swift — Go's select over send, receive and timeout cases, with an optional default.
//
// The algorithm (Go's selectgo):
//   1. Shuffle the cases (poll order) and sort the distinct channels by address (lock order, so
//      two selects over the same channels cannot deadlock on their locks).
//   2. Lock every channel; poll the cases in poll order; the first ready one wins. Because the
//      order is a uniformly random permutation, each ready case wins with equal probability.
//   3. None ready: with a default, unlock and run it. Otherwise enqueue one wait record per case,
//      publish a fresh ticket in `selectDone`, and park; g0 arms the timeout (if any) and only then unlocks.
//   4. Whoever wakes us claimed this wait's ticket in `selectDone` and recorded the winning record (or the
//      timeout); a timeout that fires late holds an older ticket and claims nothing (Goroutine.swift).
//      Relock every channel, remove the other records, unlock, cancel the timer, run the winner.
import CGoRuntime

/// One case of a `select`.
public struct SelectCase {
    enum Operation {
        case send
        case receive
        case timeout(Duration)
    }

    let operation: Operation
    let channel: (any SelectableChannel)?
    /// Receive: moves the value out of the given memory (nil when the channel is closed) and runs
    /// the case's body.
    let completeReceive: ((UnsafeMutableRawPointer?) -> Void)?
    /// Send: initialises the given memory with the value to send.
    let storeValue: ((UnsafeMutableRawPointer) -> Void)?
    /// Send and timeout: the case's body.
    let body: (() -> Void)?
    /// Send: destroys a value stored by `storeValue` that was never delivered.
    var dropValue: ((UnsafeMutableRawPointer) -> Void)? = nil

    func dropStoredValue(_ memory: UnsafeMutableRawPointer) { dropValue?(memory) }

    /// Receives from `channel`; `body` gets the value, or nil if the channel is closed.
    public static func receive<T>(_ channel: Channel<T>, _ body: @escaping (T?) -> Void) -> SelectCase {
        SelectCase(
            operation: .receive, channel: channel,
            completeReceive: { memory in
                body(memory.map { $0.assumingMemoryBound(to: T.self).move() })
            },
            storeValue: nil, body: nil)
    }

    /// Sends `value` on `channel`, then runs `body`. Sending on a closed channel is a fatal error.
    public static func send<T>(_ channel: Channel<T>, _ value: T, _ body: @escaping () -> Void = {}) -> SelectCase {
        SelectCase(
            operation: .send, channel: channel, completeReceive: nil,
            storeValue: { $0.initializeMemory(as: T.self, to: value) }, body: body,
            dropValue: { $0.assumingMemoryBound(to: T.self).deinitialize(count: 1) })
    }

    /// Fires when no other case became ready within `duration`.
    public static func after(_ duration: Duration, _ body: @escaping () -> Void) -> SelectCase {
        SelectCase(operation: .timeout(duration), channel: nil, completeReceive: nil, storeValue: nil, body: body)
    }
}

/// Waits until one of `cases` can proceed and runs it; among several ready cases one is chosen
/// uniformly at random. With `default`, runs it instead of waiting when no case is ready.
/// With no cases and no default, parks forever (Go's `select {}`).
public func select(_ cases: SelectCase..., default defaultBody: (() -> Void)? = nil) {
    Scheduler.preemptionPoint()
    runSelect(cases, defaultBody)
}

private func runSelect(_ cases: [SelectCase], _ defaultBody: (() -> Void)?) {
    let machine = Scheduler.currentMachine()
    guard let goroutine = machine?.current else {
        if let defaultBody {
            // Outside a goroutine we may still poll.
            if pollOnly(cases) { return }
            defaultBody()
            return
        }
        fatal("select would block outside a goroutine; call it inside Runtime.run { } or go { }")
    }
    let machineRef = machine!

    // 1. poll order and lock order
    var order = Array(cases.indices)
    if order.count > 1 {
        for index in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(index, machineRef.random(below: index + 1))
        }
    }
    var locks: [UnsafeMutablePointer<gort_lock_t>] = []
    var timeoutIndex: Int?
    for (index, selectCase) in cases.enumerated() {
        if let channel = selectCase.channel {
            locks.append(channel.lockPointer)
        } else if case .timeout = selectCase.operation {
            if let current = timeoutIndex, case .timeout(let a) = cases[current].operation,
               case .timeout(let b) = selectCase.operation, b >= a {
                continue
            }
            timeoutIndex = index
        }
    }
    locks.sort { UInt(bitPattern: $0) < UInt(bitPattern: $1) }
    var uniqueLocks: [UnsafeMutablePointer<gort_lock_t>] = []
    for lock in locks where uniqueLocks.last != lock { uniqueLocks.append(lock) }

    if uniqueLocks.isEmpty && timeoutIndex == nil {
        if let defaultBody {
            defaultBody()
            return
        }
        scheduler.park(.selectNoCases)
        fatal("runtime: a goroutine parked in an empty select was woken")
    }

    // One wait record per channel case; the record's memory also serves as the receive buffer.
    var sudogs: [Sudog?] = Array(repeating: nil, count: cases.count)
    for (index, selectCase) in cases.enumerated() {
        guard let channel = selectCase.channel else { continue }
        let sudog = goroutine.acquireSudog(size: channel.elementSize, alignment: channel.elementAlignment)
        sudog.isSelect = true
        sudog.caseIndex = index
        sudog.isSend = { if case .send = selectCase.operation { return true } else { return false } }()
        sudogs[index] = sudog
    }
    func releaseAll() {
        for sudog in sudogs { if let sudog { goroutine.releaseSudog(sudog) } }
    }

    // 2. poll
    for lock in uniqueLocks { gort_lock(lock) }
    for index in order {
        let selectCase = cases[index]
        guard let channel = selectCase.channel else { continue }
        switch selectCase.operation {
        case .send:
            if channel.pollSend(selectCase.storeValue!) {
                unlock(uniqueLocks)
                releaseAll()
                selectCase.body?()
                return
            }
        case .receive:
            let memory = sudogs[index]!.element
            switch channel.pollReceive(into: memory) {
            case .received:
                unlock(uniqueLocks)
                selectCase.completeReceive!(memory)
                releaseAll()
                return
            case .closed:
                unlock(uniqueLocks)
                releaseAll()
                selectCase.completeReceive!(nil)
                return
            case .notReady:
                break
            }
        case .timeout:
            break
        }
    }

    // 3. nothing ready
    if let defaultBody {
        unlock(uniqueLocks)
        releaseAll()
        defaultBody()
        return
    }
    goroutine.selectWaits &+= 1
    let ticket = goroutine.selectWaits << 1
    // Releasing: pairs with a claimer's acquiring load of the ticket (Goroutine.swift).
    goroutine.selectDone.store(ticket, ordering: .releasing)
    goroutine.selectWinner = nil
    goroutine.selectTimedOut = false
    for (index, selectCase) in cases.enumerated() {
        guard let sudog = sudogs[index], let channel = selectCase.channel else { continue }
        if sudog.isSend { selectCase.storeValue!(sudog.element) }
        sudog.success = false
        channel.enqueue(sudog)
    }
    var timer: RuntimeTimer?
    if let timeoutIndex, case .timeout(let duration) = cases[timeoutIndex].operation {
        timer = RuntimeTimer(when: gort_nanotime() + nanoseconds(duration), goroutine: goroutine, kind: .selectTimeout(ticket: ticket))
    }
    goroutine.parkLocks.append(contentsOf: uniqueLocks)
    goroutine.parkTimer = timer
    scheduler.parkPrepared(goroutine, .select)

    // 4. woken
    if let timer { scheduler.timers.remove(timer) }
    let winner = goroutine.selectWinner
    goroutine.selectWinner = nil
    for lock in uniqueLocks { gort_lock(lock) }
    for (index, selectCase) in cases.enumerated() {
        guard let sudog = sudogs[index], let channel = selectCase.channel, sudog !== winner else { continue }
        channel.dequeue(sudog)
    }
    unlock(uniqueLocks)
    // Values stored for send cases that did not win are still in their records: destroy them.
    for (index, selectCase) in cases.enumerated() {
        guard let sudog = sudogs[index], sudog !== winner, sudog.isSend else { continue }
        selectCase.dropStoredValue(sudog.element)
    }

    if goroutine.selectTimedOut || winner == nil {
        guard let timeoutIndex else { fatal("runtime: a select with no timeout was woken with no winning case") }
        releaseAll()
        cases[timeoutIndex].body?()
        return
    }
    let winningCase = cases[winner!.caseIndex]
    let success = winner!.success
    switch winningCase.operation {
    case .send:
        releaseAll()
        if !success { fatal("send on closed channel") }
        winningCase.body?()
    case .receive:
        winningCase.completeReceive!(success ? winner!.element : nil)
        releaseAll()
    case .timeout:
        releaseAll()
        winningCase.body?()
    }
}

/// Outside a goroutine: try each case once without blocking. Returns whether one ran.
private func pollOnly(_ cases: [SelectCase]) -> Bool {
    for selectCase in cases {
        guard let channel = selectCase.channel else { continue }
        gort_lock(channel.lockPointer)
        switch selectCase.operation {
        case .send:
            if channel.pollSend(selectCase.storeValue!) {
                gort_unlock(channel.lockPointer)
                selectCase.body?()
                return true
            }
        case .receive:
            let memory = UnsafeMutableRawPointer.allocate(byteCount: max(channel.elementSize, 1), alignment: channel.elementAlignment)
            defer { memory.deallocate() }
            switch channel.pollReceive(into: memory) {
            case .received:
                gort_unlock(channel.lockPointer)
                selectCase.completeReceive!(memory)
                return true
            case .closed:
                gort_unlock(channel.lockPointer)
                selectCase.completeReceive!(nil)
                return true
            case .notReady: break
            }
        case .timeout: break
        }
        gort_unlock(channel.lockPointer)
    }
    return false
}

private func unlock(_ locks: [UnsafeMutablePointer<gort_lock_t>]) {
    for lock in locks.reversed() { gort_unlock(lock) }
}

func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 { return 0 }
    if seconds > Int64.max / 1_000_000_000 - 1 { return Int64.max / 2 }
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}
