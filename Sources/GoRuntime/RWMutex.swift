// RWMutex.swift — a reader/writer lock (Go's sync.RWMutex algorithm).
//
// `readerCount` counts active readers; a writer subtracts `maxReaders` from it, which both tells
// arriving readers to wait on `readerSemaphore` and, through the value it had, how many active
// readers the writer must wait for (`readerWait`). The last of those releases `writerSemaphore`.
// Writers exclude each other with a Mutex. A pending writer blocks new readers, so writers are
// not starved by a stream of readers.
import Synchronization

public final class RWMutex: @unchecked Sendable {
    private static let maxReaders: Int32 = 1 << 30

    private let writerLock = Mutex(reason: .rwmutexWrite)
    private let writerSemaphore = RuntimeSemaphore()
    private let readerSemaphore = RuntimeSemaphore()
    private let readerCount = Atomic<Int32>(0)
    private let readerWait = Atomic<Int32>(0)

    public init() {}

    public func readLock() {
        Scheduler.preemptionPoint()
        if readerCount.add(1, ordering: .acquiringAndReleasing).newValue < 0 {
            readerSemaphore.acquire(.rwmutexRead)  // a writer is pending
        }
    }

    public func readUnlock() {
        let r = readerCount.subtract(1, ordering: .acquiringAndReleasing).newValue
        if r < 0 {
            if r + 1 == 0 || r + 1 == -Self.maxReaders { fatal("sync: RUnlock of unlocked RWMutex") }
            if readerWait.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                writerSemaphore.release()  // the last reader the writer waited for
            }
        }
    }

    public func lock() {
        writerLock.lock()
        let r = readerCount.add(-Self.maxReaders, ordering: .acquiringAndReleasing).newValue + Self.maxReaders
        if r != 0, readerWait.add(r, ordering: .acquiringAndReleasing).newValue != 0 {
            writerSemaphore.acquire(.rwmutexWrite)
        }
    }

    public func unlock() {
        let r = readerCount.add(Self.maxReaders, ordering: .acquiringAndReleasing).newValue
        if r >= Self.maxReaders { fatal("sync: Unlock of unlocked RWMutex") }
        for _ in 0..<r { readerSemaphore.release() }
        writerLock.unlock()
    }

    public func withReadLock<R>(_ body: () throws -> R) rethrows -> R {
        readLock()
        defer { readUnlock() }
        return try body()
    }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
