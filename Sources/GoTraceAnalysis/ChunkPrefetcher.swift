// Loading chunks ahead of the decoder, on a thread of its own.
//
// Design note
// -----------
// A report is three stages: load (read, CRC, inflate: ~40% of the work on small chunks), decode and merge
// the Ms (FastEventSource, on PipelinedEventSource's producer thread), and the model and plugins (the
// session's thread). On two cores the first two on one thread left that thread the bottleneck; this puts
// the loading on a third thread, so the OS can balance three stages of similar cost over the cores.
//
// Protocol, per M stream `s` (its chunks in sequence order, from the index):
//   1. Each stream has a ring of `depth` slots (a `PayloadBuffer`, the chunk's base ticks, a state: free,
//      loading, ready). `claimed[s]` counts chunks claimed for loading, `released[s]` those the decoder gave
//      back; `claimed[s] - released[s]` ≤ depth, and chunk k lives in slot k % depth. Counters and states
//      change only under `lock`.
//   2. The loader thread claims the next chunk of the stream with the fewest chunks claimed ahead (the one
//      the decoder will run dry on first) that has room, loads it into its slot outside the lock (a claimed
//      slot is touched by its claimer only), then marks it ready.
//   3. The decoder `take`s chunk k = released[s]. If it is ready, it is the decoder's until `release`. If
//      the loader is loading it, the decoder waits for that one chunk. If no one has claimed it yet — the
//      loader is behind — the decoder claims and loads it itself, with a loader of its own: the two threads
//      share the loading, so the decoding thread's spare time is not spent asleep.
//   4. Waking is rare on purpose (a futex wake per chunk would cost more than a small chunk): the loader
//      sleeps only when every ring is full and is woken when a ring is down to half; the decoder sleeps only
//      on a chunk being loaded, and is woken when that chunk is ready.
// Memory: at most `maxSlots` slots in all (depth ≥ 2 per stream), each as large as the largest chunk it held.
// Ownership: the loader thread holds a reference to the shared state (`PrefetchRings`), never to the
// `ChunkPrefetcher` handle, so dropping the handle runs its deinit, which stops and joins the loader (a thread
// holding the handle itself, waiting for room in full rings, kept it alive forever).
// Rejected: loading in file order regardless of need (an M that writes rarely would make the others'
// queues grow without bound until its chunk comes), and a lock-free ring (a lock per chunk is noise).

#if canImport(Glibc)
import Glibc
#endif
import GoTrace

/// The decoder's handle on the rings: takes and releases chunks; stops the loader when dropped.
final class ChunkPrefetcher {
    /// Slots over all streams: 64 × a 64 KiB runtime chunk = 4 MiB.
    static let maxSlots = 64
    static let maxDepth = 16

    enum SlotState { case free, loading, ready }

    struct Slot {
        var payload = PayloadBuffer()
        /// The chunk's header, or why it did not load (damaged).
        var loaded: Result<ChunkHeader, ChunkLoadFailure> = .failure(.readError)
        var state = SlotState.free
    }

    private let rings: PrefetchRings

    init(chunks: [[ChunkLocation]], loader: ChunkLoader, decoderLoader: ChunkLoader) {
        rings = PrefetchRings(chunks: chunks, loader: loader, decoderLoader: decoderLoader)
    }

    deinit { rings.stop() }

    /// Starts the loader thread (once). Without one (it could not be created) the decoder loads every chunk
    /// itself through step 3.
    func start() { _ = rings.start() }

    /// Stops and joins the loader thread (idempotent).
    func stop() { rings.stop() }

    /// Chunk `chunk` of stream `stream`, loaded: its slot, the caller's until `release(stream)`.
    ///
    /// Precondition: `chunk` is the stream's next chunk (`released[stream]`) and exists; one `take` per
    /// `release`, in order, from one thread (the decoder's).
    func take(_ stream: Int, chunk: Int) -> UnsafeMutablePointer<Slot> { rings.take(stream, chunk: chunk) }

    /// Gives the slot returned by the last `take(stream, …)` back to the loader.
    func release(_ stream: Int) { rings.release(stream) }
}

/// The rings, counters and loader thread the handle and the loader share (see the design note on ownership).
private final class PrefetchRings: WorkerThread {
    typealias Slot = ChunkPrefetcher.Slot

    private let chunks: [[ChunkLocation]]
    private let depth: Int
    /// The loader thread's loader, and the decoder's own (step 3).
    private let loader: ChunkLoader
    private let decoderLoader: ChunkLoader
    // Safety: `streamCount × depth` slots, allocated in init and freed in deinit. A slot's payload is written
    // only by the thread that claimed it, while its state is `loading`, and read by the decoder only while it
    // is taken (ready and not released); states and counters change under `lock`.
    private let slots: UnsafeMutablePointer<Slot>
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var claimed: [Int]
    @exclusivity(unchecked) private var released: [Int]
    @exclusivity(unchecked) private var becameReady = pthread_cond_t()
    @exclusivity(unchecked) private var loaderWaiting = false
    /// The slot the decoder waits for (nil: none).
    @exclusivity(unchecked) private var awaitedSlot: UnsafeMutablePointer<Slot>?

    init(chunks: [[ChunkLocation]], loader: ChunkLoader, decoderLoader: ChunkLoader) {
        self.chunks = chunks
        self.loader = loader
        self.decoderLoader = decoderLoader
        depth = max(2, min(ChunkPrefetcher.maxDepth, ChunkPrefetcher.maxSlots / max(1, chunks.count)))
        let count = max(1, chunks.count * depth)
        slots = .allocate(capacity: count)
        slots.initialize(repeating: Slot(), count: count)
        claimed = Array(repeating: 0, count: chunks.count)
        released = Array(repeating: 0, count: chunks.count)
        super.init()
        pthread_cond_init(&becameReady, nil)
    }

    // No `stop` here: the loader holds a reference until it ends, so this runs only after it has ended (and the
    // handle's deinit has joined it).
    deinit {
        for index in 0..<max(1, chunks.count * depth) { slots[index].payload.deallocate() }
        slots.deinitialize(count: max(1, chunks.count * depth))
        slots.deallocate()
        pthread_cond_destroy(&becameReady)
    }

    func take(_ stream: Int, chunk: Int) -> UnsafeMutablePointer<Slot> {
        precondition(stream < chunks.count && chunk < chunks[stream].count, "ChunkPrefetcher.take: no such chunk")
        let slot = slots + stream * depth + chunk % depth
        pthread_mutex_lock(&lock)
        precondition(released[stream] == chunk, "ChunkPrefetcher.take: out of order")
        if claimed[stream] == chunk {
            // No one has claimed it: the loader is behind. Load it here (step 3).
            claimed[stream] += 1
            slot.pointee.state = .loading
            pthread_mutex_unlock(&lock)
            // Safety: claimed by this thread; the loader thread never touches a slot it did not claim.
            slot.pointee.loaded = decoderLoader.load(chunks[stream][chunk], into: &slot.pointee.payload)
            pthread_mutex_lock(&lock)
            slot.pointee.state = .ready
        }
        while slot.pointee.state != .ready {
            awaitedSlot = slot
            pthread_cond_wait(&becameReady, &lock)
        }
        awaitedSlot = nil
        pthread_mutex_unlock(&lock)
        return slot
    }

    func release(_ stream: Int) {
        pthread_mutex_lock(&lock)
        slots[stream * depth + released[stream] % depth].state = .free
        released[stream] += 1
        if loaderWaiting && claimed[stream] - released[stream] <= depth / 2 {
            loaderWaiting = false
            pthread_cond_signal(&becameFree)
        }
        pthread_mutex_unlock(&lock)
    }

    /// The loader (step 2 of the design note), on the worker thread.
    override func work() {
        pthread_mutex_lock(&lock)
        while !stopRequested {
            // The stream that will run dry first: fewest chunks claimed ahead, with chunks left and room.
            var pick = -1
            var fewest = Int.max
            var anyLeft = false
            for stream in 0..<chunks.count where claimed[stream] < chunks[stream].count {
                anyLeft = true
                let ahead = claimed[stream] - released[stream]
                if ahead < depth && ahead < fewest {
                    pick = stream
                    fewest = ahead
                }
            }
            if !anyLeft { break }
            if pick < 0 {
                loaderWaiting = true
                pthread_cond_wait(&becameFree, &lock)
                continue
            }
            let chunk = claimed[pick]
            claimed[pick] += 1
            let slot = slots + pick * depth + chunk % depth
            slot.pointee.state = .loading
            pthread_mutex_unlock(&lock)
            // Safety: claimed by this thread (step 2): no other thread touches the slot until it is ready.
            slot.pointee.loaded = loader.load(chunks[pick][chunk], into: &slot.pointee.payload)
            pthread_mutex_lock(&lock)
            slot.pointee.state = .ready
            if awaitedSlot == slot { pthread_cond_signal(&becameReady) }
        }
        pthread_mutex_unlock(&lock)
    }
}
