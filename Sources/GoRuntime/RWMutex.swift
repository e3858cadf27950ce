// RWMutex.swift — a reader/writer lock (Go's sync.RWMutex algorithm).
//
// `readerCount` counts active readers; a writer subtracts `maxReaders` from it, which both tells
// arriving readers to wait on `readerSemaphore` and, through the value it had, how many active
// readers the writer must wait for (`readerWait`). The last of those releases `writerSemaphore`.
// Writers exclude each other with a Mutex. A pending writer blocks new readers, so writers are
// not starved by a stream of readers.
import Synchronization

/// A reader/writer lock (Go's `sync.RWMutex`): any number of readers, or one writer.
///
/// A writer that is waiting blocks new readers, so a stream of readers cannot starve it. Not reentrant:
/// a goroutine that holds a read lock and asks for another may wait forever if a writer arrived
/// in between. Waiting parks the goroutine, not its thread.
public final class RWMutex: @unchecked Sendable {
    private static let maxReaders: Int32 = 1 << 30

    private let writerLock = Mutex(reason: .rwmutexWrite)
    private let writerSemaphore = RuntimeSemaphore()
    private let readerSemaphore = RuntimeSemaphore()
    private let readerCount = Atomic<Int32>(0)
    private let readerWait = Atomic<Int32>(0)

    /// An unlocked reader/writer lock.
    public init() {}

    /// Locks for reading, parking while a writer holds the lock or waits for it.
    public func readLock() {
        Scheduler.preemptionPoint()
        if readerCount.add(1, ordering: .acquiringAndReleasing).newValue < 0 {
            readerSemaphore.acquire(.rwmutexRead)  // a writer is pending
        }
    }

    /// Releases one read lock; the last reader out lets a waiting writer in.
    /// Precondition: the lock is read-locked; otherwise a fatal error.
    public func readUnlock() {
        let r = readerCount.subtract(1, ordering: .acquiringAndReleasing).newValue
        if r < 0 {
            if r + 1 == 0 || r + 1 == -Self.maxReaders { fatal("sync: RUnlock of unlocked RWMutex") }
            if readerWait.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                writerSemaphore.release()  // the last reader the writer waited for
            }
        }
    }

    /// Locks for writing, parking until no reader and no other writer holds the lock.
    public func lock() {
        writerLock.lock()
        let r = readerCount.add(-Self.maxReaders, ordering: .acquiringAndReleasing).newValue + Self.maxReaders
        if r != 0, readerWait.add(r, ordering: .acquiringAndReleasing).newValue != 0 {
            writerSemaphore.acquire(.rwmutexWrite)
        }
    }

    /// Releases the write lock and lets the readers that queued behind it in.
    /// Precondition: the lock is write-locked; otherwise a fatal error.
    public func unlock() {
        let r = readerCount.add(Self.maxReaders, ordering: .acquiringAndReleasing).newValue
        if r >= Self.maxReaders { fatal("sync: Unlock of unlocked RWMutex") }
        for _ in 0..<r { readerSemaphore.release() }
        writerLock.unlock()
    }

    /// Runs `body` holding a read lock, released however `body` exits.
    ///
    /// - Parameter body: The work to do under the lock.
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws.
    public func withReadLock<R>(_ body: () throws -> R) rethrows -> R {
        readLock()
        defer { readUnlock() }
        return try body()
    }

    /// Runs `body` holding the write lock, released however `body` exits.
    ///
    /// - Parameter body: The work to do under the lock.
    /// - Returns: What `body` returns.
    /// - Throws: Whatever `body` throws.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
