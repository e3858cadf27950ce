import GoRuntime
import Synchronization
import Testing

@Suite("Sync")
struct SyncTests {
    @Test("a Mutex counter hammered by 8 goroutines × 100,000 increments ends exact")
    func mutexCounter() {
        let total = Runtime.run(maxProcs: 2) { () -> Int in
            let mutex = GoRuntime.Mutex()
            let counter = Shared(0)
            let group = WaitGroup()
            for _ in 0..<8 {
                group.add(1)
                go {
                    for _ in 0..<100_000 { mutex.withLock { counter.value += 1 } }
                    group.done()
                }
            }
            group.wait()
            return counter.value
        }
        #expect(total == 800_000)
    }

    @Test("a Mutex waiter parks the goroutine, not the thread: one P still runs others")
    func mutexParksGoroutine() {
        Runtime.run(maxProcs: 1) {
            let mutex = GoRuntime.Mutex()
            mutex.lock()
            let acquired = Channel<Bool>(capacity: 1)
            go {
                mutex.lock()
                acquired.send(true)
                mutex.unlock()
            }
            Runtime.yield()  // the goroutine blocks on the mutex; we keep running on the one P
            #expect(acquired.count == 0)
            mutex.unlock()
            #expect(acquired.receive() == true)
        }
    }

    @Test("tryLock fails on a held mutex and succeeds on a free one")
    func tryLock() {
        Runtime.run {
            let mutex = GoRuntime.Mutex()
            #expect(mutex.tryLock())
            #expect(!mutex.tryLock())
            mutex.unlock()
            #expect(mutex.tryLock())
            mutex.unlock()
        }
    }

    @Test("under contention every waiter eventually gets the mutex (starvation mode)")
    func noWaiterStarves() {
        // The bug this catches: a mutex without starvation mode. On 1 P the greedy worker holds the mutex
        // while it sleeps, and re-locks it right after unlocking, before the waiter it woke can run: only
        // the hand-off of starvation mode (a waiter that waited over 1 ms is given the mutex) lets the others
        // in. Checked by disabling the switch to starvation mode: the others then stay at 0 acquisitions.
        // Counted, not timed: the run ends when every other worker has had the mutex `enough` times, or,
        // failing that, after `greedyBound` acquisitions of the greedy one. A wall-clock window (this test
        // used 100 ms) can pass on a loaded machine before the other workers have run at all; a late timer
        // only makes a waiter wait longer, which is what starvation mode reacts to.
        let workers = 3, enough = 10
        // At least 0.5 s of 100 µs holds: hundreds of chances for the 1 ms hand-off.
        let greedyBound = 5_000
        let acquisitions = Runtime.run(maxProcs: 1) { () -> [Int] in
            let mutex = GoRuntime.Mutex()
            let counts = Shared([Int](repeating: 0, count: workers))
            let stop = Shared(false)
            let group = WaitGroup()
            for worker in 0..<workers {
                group.add(1)
                go {
                    while true {
                        if worker != 0 { Runtime.sleep(for: .microseconds(100)) }
                        mutex.lock()
                        if stop.value {
                            mutex.unlock()
                            break
                        }
                        counts.value[worker] += 1
                        if counts.value[0] >= greedyBound || counts.value[1...].allSatisfy({ $0 >= enough }) {
                            stop.value = true
                        }
                        if worker == 0 { Runtime.sleep(for: .microseconds(100)) }  // parked, holding it
                        mutex.unlock()
                    }
                    group.done()
                }
            }
            group.wait()
            return counts.value
        }
        #expect(acquisitions[1...].allSatisfy { $0 >= enough }, "acquisitions per worker (0 is greedy): \(acquisitions)")
    }

    @Test("RWMutex: readers share, a writer is alone")
    func rwMutex() {
        let (maxReaders, violations) = Runtime.run(maxProcs: 2) { () -> (Int, Int) in
            let lock = RWMutex()
            let readers = Atomic<Int>(0)
            let writers = Atomic<Int>(0)
            let maxSeen = Atomic<Int>(0)
            let bad = Atomic<Int>(0)
            let group = WaitGroup()
            for index in 0..<16 {
                group.add(1)
                go {
                    for _ in 0..<2_000 {
                        if index % 4 == 0 {
                            lock.lock()
                            if writers.add(1, ordering: .relaxed).newValue != 1 || readers.load(ordering: .relaxed) != 0 {
                                bad.add(1, ordering: .relaxed)
                            }
                            writers.subtract(1, ordering: .relaxed)
                            lock.unlock()
                        } else {
                            lock.readLock()
                            let now = readers.add(1, ordering: .relaxed).newValue
                            if writers.load(ordering: .relaxed) != 0 { bad.add(1, ordering: .relaxed) }
                            var seen = maxSeen.load(ordering: .relaxed)
                            while now > seen {
                                let (done, current) = maxSeen.compareExchange(expected: seen, desired: now, ordering: .relaxed)
                                if done { break }
                                seen = current
                            }
                            Runtime.yield()
                            readers.subtract(1, ordering: .relaxed)
                            lock.readUnlock()
                        }
                    }
                    group.done()
                }
            }
            group.wait()
            return (maxSeen.load(ordering: .relaxed), bad.load(ordering: .relaxed))
        }
        #expect(violations == 0)
        #expect(maxReaders > 1, "readers never overlapped")
    }

    @Test("WaitGroup.wait returns once every goroutine is done")
    func waitGroup() {
        let finished = Runtime.run(maxProcs: 2) { () -> Int in
            let group = WaitGroup()
            let done = Atomic<Int>(0)
            for _ in 0..<1_000 {
                group.add(1)
                go {
                    Runtime.yield()
                    done.add(1, ordering: .relaxed)
                    group.done()
                }
            }
            group.wait()
            group.wait()  // a second wait on a zero counter returns at once
            return done.load(ordering: .relaxed)
        }
        #expect(finished == 1_000)
    }

    @Test("Once runs its action exactly once, and later callers see it done")
    func once() {
        let (calls, sawDone) = Runtime.run(maxProcs: 2) { () -> (Int, Bool) in
            let once = Once()
            let calls = Atomic<Int>(0)
            let initialised = Atomic<Bool>(false)
            let allSaw = Atomic<Bool>(true)
            let group = WaitGroup()
            for _ in 0..<100 {
                group.add(1)
                go {
                    once.run {
                        Runtime.sleep(for: .milliseconds(1))
                        calls.add(1, ordering: .relaxed)
                        initialised.store(true, ordering: .relaxed)
                    }
                    if !initialised.load(ordering: .relaxed) { allSaw.store(false, ordering: .relaxed) }
                    group.done()
                }
            }
            group.wait()
            return (calls.load(ordering: .relaxed), allSaw.load(ordering: .relaxed))
        }
        #expect(calls == 1)
        #expect(sawDone)
    }

    @Test("Cond: signal wakes one waiter, broadcast wakes all")
    func cond() {
        let result = Runtime.run(maxProcs: 2) { () -> (Int, Int) in
            let mutex = GoRuntime.Mutex()
            let cond = Cond(mutex)
            let ready = Shared(0)
            let woken = Atomic<Int>(0)
            let generation = Shared(0)
            let group = WaitGroup()
            for _ in 0..<5 {
                group.add(1)
                go {
                    mutex.lock()
                    ready.value += 1
                    let start = generation.value
                    while generation.value == start { cond.wait() }
                    woken.add(1, ordering: .relaxed)
                    mutex.unlock()
                    group.done()
                }
            }
            while mutex.withLock({ ready.value }) < 5 { Runtime.yield() }
            // Signal one: exactly one can proceed once the generation changes for it.
            mutex.withLock { generation.value += 1 }
            cond.signal()
            while woken.load(ordering: .relaxed) < 1 { Runtime.sleep(for: .milliseconds(1)) }
            Runtime.sleep(for: .milliseconds(5))
            let afterSignal = woken.load(ordering: .relaxed)
            cond.broadcast()
            group.wait()
            return (afterSignal, woken.load(ordering: .relaxed))
        }
        #expect(result.0 == 1)
        #expect(result.1 == 5)
    }
}
