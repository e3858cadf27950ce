// Decoding on a second thread: one core inflates and decodes while the other runs the model and plugins.
//
// Design note
// -----------
// Profiles of `gotrace report` (perf record -g, release) split the time roughly 55/45 between producing
// events (reading, inflating, CRC, decoding, merging Ms) and consuming them (goroutine model, plugins).
// The two halves share nothing but the batch, so they pipeline:
//   1. The producer thread owns the wrapped source. It fills a free slot (a batch of events, plus the
//      definitions — strings and stacks — met while filling it, recorded rather than applied) and
//      publishes it.
//   2. The consumer (the session's thread) takes slots in order, applies the slot's definitions to the
//      session's table, and hands the events on. Definitions are therefore applied before the batch that
//      carries them is consumed — exactly when the serial path applies them — and only ever from the
//      consumer's thread: plugins never see the table change under them.
//   3. A returned slot is free again. `slotCount` slots bound the memory (4 × 4096 × 88 bytes ≈ 1.4 MiB).
// Hand-off is a mutex and two condition variables, once per batch (4096 events): its cost vanishes.
// The wrapped source is touched by the producer only until it reports the end; its counters and
// diagnostics are read after the producer thread is joined.
//
// Loading the chunks (read, CRC, inflate) runs on a third thread behind the wrapped source
// (ChunkPrefetcher, for FastEventSource), so the OS balances three stages over the two cores.
// Ownership: the producer thread holds a reference to the shared state (`Pipeline`), never to the
// `PipelinedEventSource` handle the consumer holds. Dropping the handle therefore runs its deinit, which
// stops and joins the producer even if the consumer never called `stop` (a thread holding the handle itself
// kept it alive forever: blocked on a full ring, it never let go, and deinit never ran).
// Rejected: decoding Ms in parallel (the merge by time needs every M's head), and a lock-free ring (one
// hand-off per 4096 events does not need one).

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

/// The consumer's handle: starts, reads and stops the pipeline; stops it when dropped.
final class PipelinedEventSource {
    static let slotCount = 4

    private let pipeline: Pipeline

    init(source: any TraceSource, batchSize: Int) { pipeline = Pipeline(source: source, batchSize: batchSize) }

    deinit { pipeline.stop() }

    /// Starts the producer thread; false if it could not be created (the caller then reads serially).
    func start() -> Bool { pipeline.start() }

    /// The next full batch, its definitions applied to `definitions`; empty at the end. Valid until the
    /// next call (which returns the slot to the producer).
    func next(definitions: TraceDefinitionSink, returning previous: Bool) -> UnsafeBufferPointer<gotrace_event> {
        pipeline.next(definitions: definitions, returning: previous)
    }

    /// Stops and joins the producer (idempotent). After this the wrapped source may be read.
    func stop() { pipeline.stop() }
}

extension PipelinedEventSource {
    /// Definitions met while filling one slot, in order.
    final class RecordedDefinitions: TraceDefinitionSink {
        // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
        // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
        @exclusivity(unchecked) var strings: [(UInt64, [UInt8])] = []
        @exclusivity(unchecked) var stacks: [(UInt64, [UInt64])] = []
        func defineString(_ id: UInt64, _ bytes: [UInt8]) { strings.append((id, bytes)) }
        func defineStack(_ id: UInt64, _ programCounters: [UInt64]) { stacks.append((id, programCounters)) }
        func replay(into sink: TraceDefinitionSink) {
            for (id, bytes) in strings { sink.defineString(id, bytes) }
            for (id, pcs) in stacks { sink.defineStack(id, pcs) }
            strings.removeAll(keepingCapacity: true)
            stacks.removeAll(keepingCapacity: true)
        }
    }

    struct Slot {
        var events: UnsafeMutableBufferPointer<gotrace_event>
        var count = 0
        let definitions = RecordedDefinitions()
    }
}

/// The state the producer thread and the consumer share (see the design note on ownership).
private final class Pipeline: WorkerThread {
    typealias Slot = PipelinedEventSource.Slot

    let source: any TraceSource
    // Safety: `slots` is allocated in init and freed in deinit; a slot is written only by the side that owns
    // it at the time (the producer between taking it free and publishing it, the consumer between taking it
    // full and returning it), and ownership changes under `lock`.
    private let slots: UnsafeMutablePointer<Slot>
    private let batchSize: Int
    @exclusivity(unchecked) private var becameFull = pthread_cond_t()
    // Under `lock`: slots are used round-robin; `produced`/`consumed` count batches.
    @exclusivity(unchecked) private var produced = 0
    @exclusivity(unchecked) private var consumed = 0
    @exclusivity(unchecked) private var finished = false

    init(source: any TraceSource, batchSize: Int) {
        self.source = source
        self.batchSize = batchSize
        slots = UnsafeMutablePointer<Slot>.allocate(capacity: PipelinedEventSource.slotCount)
        for index in 0..<PipelinedEventSource.slotCount {
            (slots + index).initialize(to: Slot(events: .allocate(capacity: batchSize)))
        }
        super.init()
        pthread_cond_init(&becameFull, nil)
    }

    // No `stop` here: the producer holds a reference until it ends, so this runs only after it has ended (and
    // the handle's deinit has joined it).
    deinit {
        for index in 0..<PipelinedEventSource.slotCount { slots[index].events.deallocate() }
        slots.deinitialize(count: PipelinedEventSource.slotCount)
        slots.deallocate()
        pthread_cond_destroy(&becameFull)
    }

    /// The producer (step 1 of the design note), on the worker thread.
    override func work() {
        while true {
            pthread_mutex_lock(&lock)
            while produced - consumed == PipelinedEventSource.slotCount && !stopRequested {
                pthread_cond_wait(&becameFree, &lock)
            }
            let stop = stopRequested
            let index = produced % PipelinedEventSource.slotCount
            pthread_mutex_unlock(&lock)
            if stop { break }
            // Safety: slot `index` is free (produced - consumed < slotCount) and only this thread fills slots.
            let slot = slots + index
            let count = source.nextBatch(into: slot.pointee.events, definitions: slot.pointee.definitions)
            slot.pointee.count = count
            if count == 0 { break }
            pthread_mutex_lock(&lock)
            produced += 1
            pthread_cond_signal(&becameFull)
            pthread_mutex_unlock(&lock)
        }
        // The end, or a stop: the consumer sees `finished` once it has taken every batch produced.
        pthread_mutex_lock(&lock)
        finished = true
        pthread_cond_signal(&becameFull)
        pthread_mutex_unlock(&lock)
    }

    func next(definitions: TraceDefinitionSink, returning previous: Bool) -> UnsafeBufferPointer<gotrace_event> {
        pthread_mutex_lock(&lock)
        if previous {
            consumed += 1
            pthread_cond_signal(&becameFree)
        }
        while produced == consumed && !finished { pthread_cond_wait(&becameFull, &lock) }
        let available = produced > consumed
        let index = consumed % PipelinedEventSource.slotCount
        pthread_mutex_unlock(&lock)
        guard available else { return UnsafeBufferPointer(start: nil, count: 0) }
        // Safety: slot `index` is full and owned by the consumer until the next call.
        let slot = slots + index
        slot.pointee.definitions.replay(into: definitions)
        return UnsafeBufferPointer(start: slot.pointee.events.baseAddress, count: slot.pointee.count)
    }
}

/// What the pipeline's producer and the prefetcher's loader share: a thread of their own that runs `work()`
/// (a subclass's loop), the lock their shared state is under, the condition the worker sleeps on for room,
/// and the request to stop. The thread holds a reference to this object, never to the handle its consumer
/// holds (see the design notes on ownership), from `start` until `work()` returns.
class WorkerThread {
    // Exclusivity: never accessed re-entrantly, as the subclasses' properties (docs/performance.md).
    @exclusivity(unchecked) final var lock = pthread_mutex_t()
    /// Signalled when the worker may go on: room again, or a stop request.
    @exclusivity(unchecked) final var becameFree = pthread_cond_t()
    /// Under `lock`: `work()` returns soon after it is set.
    @exclusivity(unchecked) final var stopRequested = false
    @exclusivity(unchecked) private final var thread = pthread_t()
    @exclusivity(unchecked) private final var threadStarted = false

    init() {
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&becameFree, nil)
    }

    deinit {
        pthread_cond_destroy(&becameFree)
        pthread_mutex_destroy(&lock)
    }

    /// The worker's loop, overridden; returns at its end or once `stopRequested` is set.
    func work() {}

    /// Starts the thread (once); false if it could not be created.
    final func start() -> Bool {
        guard !threadStarted else { return true }
        let box = Unmanaged.passRetained(self)
        let status = pthread_create(&thread, nil, { raw in
            // Safety: `raw` is the retained box passed below; released here when the work ends.
            let worker = Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue()
            worker.work()
            return nil
        }, box.toOpaque())
        if status != 0 {
            box.release()
            return false
        }
        threadStarted = true
        return true
    }

    /// Asks `work()` to return, wakes the worker and joins it (idempotent).
    final func stop() {
        guard threadStarted else { return }
        pthread_mutex_lock(&lock)
        stopRequested = true
        pthread_cond_signal(&becameFree)
        pthread_mutex_unlock(&lock)
        pthread_join(thread, nil)
        threadStarted = false
    }
}
