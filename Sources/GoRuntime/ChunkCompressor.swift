// ChunkCompressor.swift — compresses and writes a file recording's chunks beside the Ms.
//
// Why: with `GOTRACE_OUT` (or `Trace.start` on a descriptor with compression) the M whose buffer filled
// compressed its 64 KiB chunk with zlib before it ran on: about 100 ns per pingpong round trip and 460 ns per
// ring hop at 1 P, against the same program under `gotrace record`, which compresses in the recorder
// (docs/performance.md). Go's tracer hands its full buffers to a reader for the same reason.
//
// Protocol:
//   1. `submit` (from `Tracer.sealAndWrite`, on an M or a stopper) queues a sealed raw chunk with its writer
//      and wakes the thread. When `capacity` chunks wait already it refuses, and the caller writes the chunk
//      itself: memory stays bounded, and a slow disk slows the Ms as it did before.
//   2. The thread (started at the first submit; it lives for good and is not an M: it touches no goroutine
//      and takes no scheduler lock) writes the chunks in the order queued, each through
//      `TraceFileWriter.write(rawChunk:)`, which compresses it and keeps it contiguous in the stream.
//   3. `drain` returns once every chunk submitted before the call has been written, or its bound passed.
//      `Tracer.stop` drains before the end chunk (unbounded: after it the descriptor is closed and its number
//      may be reused), a generation cut before its marker, the crash path after the other Ms flushed
//      (bounded: the process is dying). Chunks may reach the file in another order than they were sealed
//      (an M that writes itself overtakes queued chunks): readers take each M's chunks in sequence order
//      (docs/trace-format.md §7), and only an end chunk or a generation marker depends on file order.
//   4. A write error (a full disk, a socket's reader gone) stops tracing, as it does on an M.
// Not used for a pipe to `gotrace record` (the program compresses nothing) or the in-process flight recorder
// (its sink keeps chunks and generation markers in stream order).
// Rejected: one thread per recording (a thread made and joined at every `Trace.start`/`stop`, for no gain);
// compressing on whichever M drains (it would put zlib back on an M).
import CGoRuntime
import GoTraceFormat
import Synchronization

/// The one compressing writer thread (see the design note).
let chunkCompressor = ChunkCompressor()

final class ChunkCompressor: @unchecked Sendable {
    /// Chunks that may wait: 8 × 64 KiB of raw payload at most.
    static let capacity = 8

    private let lock: UnsafeMutablePointer<gort_lock_t>
    private let note: UnsafeMutablePointer<gort_note_t>
    // Guarded by `lock`.
    @exclusivity(unchecked) private var queue: [(writer: TraceFileWriter, chunk: [UInt8])] = []
    @exclusivity(unchecked) private var submitted: UInt64 = 0
    @exclusivity(unchecked) private var written: UInt64 = 0
    @exclusivity(unchecked) private var started = false
    @exclusivity(unchecked) private var sleeping = false
    /// Set when the thread could not be created: every chunk is then written by its caller.
    @exclusivity(unchecked) private var unavailable = false

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        note = .allocate(capacity: 1)
        note.initialize(to: gort_note_t(key: 0))
    }

    /// Whether a chunk for `writer` belongs here: a descriptor writer that compresses (see the design note).
    static func takes(_ writer: TraceFileWriter) -> Bool {
        writer.isCompressing && writer.fileDescriptor >= 0
    }

    /// Queues `chunk` for `writer` (step 1). Returns false if the caller must write it itself.
    func submit(_ chunk: [UInt8], to writer: TraceFileWriter) -> Bool {
        gort_lock(lock)
        if unavailable || queue.count >= Self.capacity {
            gort_unlock(lock)
            return false
        }
        if !started {
            started = true
            // 256 KiB, reserved and touched on demand: zlib's deflate state lives on the heap.
            if gort_thread_create(chunkCompressorMain, nil, 256 * 1024) != 0 {
                unavailable = true
                gort_unlock(lock)
                return false
            }
        }
        queue.append((writer, chunk))
        submitted += 1
        let wake = sleeping
        sleeping = false
        gort_unlock(lock)
        if wake { gort_note_wakeup(note) }
        return true
    }

    /// Waits until every chunk submitted before this call is written (step 3), at most `waitNanoseconds`
    /// (nil: as long as it takes). Returns whether they all were.
    @discardableResult
    func drain(waitNanoseconds: Int64? = nil) -> Bool {
        gort_lock(lock)
        let target = submitted
        gort_unlock(lock)
        let deadline = waitNanoseconds.map { gort_nanotime() + $0 }
        while true {
            gort_lock(lock)
            let done = written >= target
            gort_unlock(lock)
            if done { return true }
            if let deadline, gort_nanotime() >= deadline { return false }
            gort_os_yield()
        }
    }

    /// The thread's loop (step 2).
    fileprivate func run() -> Never {
        // A socket's reader may go away (the debug server's trace download): an error, not a signal.
        gort_sigpipe_block()
        while true {
            gort_lock(lock)
            guard !queue.isEmpty else {
                // Cleared before the lock is released: a submit that sees `sleeping` wakes a note already clear.
                sleeping = true
                gort_note_clear(note)
                gort_unlock(lock)
                gort_note_sleep(note)
                continue
            }
            let (writer, chunk) = queue.removeFirst()
            gort_unlock(lock)
            do {
                try writer.write(rawChunk: chunk)
            } catch {
                // Step 4. Sequentially consistent, as `Tracer.sealAndWrite`'s own stop on an error.
                tracer.active.store(false, ordering: .sequentiallyConsistent)
            }
            gort_lock(lock)
            written += 1
            gort_unlock(lock)
        }
    }
}

private func chunkCompressorMain(_: UnsafeMutableRawPointer?) {
    chunkCompressor.run()
}
