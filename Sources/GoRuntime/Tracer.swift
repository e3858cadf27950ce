// Tracer.swift — the runtime's instrumentation hooks and trace recording.
//
// Vocabulary: a *recording* writes events to a trace (a file, or the pipe of `gotrace record`);
// a *consumer* is a program's own callback. Either makes `tracer.active` true, and every hook in
// the scheduler is `if tracer.active.load(.relaxed) { tracer.… }`: with neither, a hook costs
// one load and one well-predicted branch.
//
// Protocol (what keeps the per-M buffers race-free without locks or atomics per event):
//   1. Each M owns a `MachineTrace` (buffer, string and stack caches) and is the only thread that
//      writes it while it may run. Threads that are not Ms (the caller of `Runtime.run`, the flush
//      thread of TraceSignalFlush.swift) write the shared `external` buffer under `lock`.
//   2. A full buffer is sealed into a chunk and written by its own M (TraceFileWriter keeps each
//      chunk contiguous in the stream). So is a partial one, every GOTRACE_FLUSH_INTERVAL (250 ms), when
//      the monitor's periodic flush moves `flushEpoch` (and wakes the idle Ms that hold events): what a
//      program killed outright loses is bounded in time (`periodicFlush`). A file recording that compresses
//      hands the sealed chunk to the compressing thread instead, so zlib runs beside the Ms
//      (ChunkCompressor.swift).
//   3. `start` and `stop` (also at exit, and on a terminating signal: TraceSignalFlush.swift) stop the
//      world for their snapshot (Scheduler+WorldStop.swift): every M parks at its next schedule point
//      — the check there is the existing load of `flushEpoch`, which the stop bumps — running
//      goroutines are asked to yield at once (the monitor's flag and signal, Monitor.swift), idle Ms
//      and Ps are taken by the stopper, and paths that change goroutines without a P wait for the
//      restart. No goroutine changes state between the snapshot and the end of the trace, so the
//      final snapshot is exact, and the start snapshot precedes every event of the goroutines it
//      lists. With the world stopped, `stop` writes the snapshot, deactivates tracing (unless a
//      consumer is registered), flushes every stopped M's buffer itself (an M inside a blocking call
//      counts as stopped, Scheduler+WorldStop.swift) — a stopped M writes nothing
//      until the restart, and the scheduler's lock and its note order the hand-over — writes the end
//      chunk and restarts the world; the program carries on (and may record again). The stop is
//      bounded (`worldStopBound`, 1 s; the signal path passes its own): an M that does not stop in
//      time — a goroutine looping in code that cannot be interrupted — is left running, its last
//      partial chunk is lost unless it stops before the end chunk, and the
//      trace says so in a `log` event (category `runtime`: "… M(s) did not stop within … ms").
//      `start` and `stop` run one at a time; a second caller waits (at the barrier, on an M).
//   5. A flight recording (`gotrace record --flight-recorder`, `Trace.startFlightRecorder`) is cut into
//      generations every GOTRACE_GENERATION_INTERVAL ms by the monitor (`cutGeneration`, with the world
//      stopped as for a stop: flush every M, a `generation` marker, every M forgets its definitions, the
//      module map and a snapshot, a second marker; GoTraceFormat/GenerationChunk.swift), so that the
//      recorder — or the in-process `FlightWindow` — can drop old generations and keep windows that stand alone.
//   4. After a deadlock, every other M is asleep: the dying M flushes their buffers itself, without a
//      world stop (it holds the scheduler's lock). After a crash, the flush thread asks every other M
//      to flush its own buffer at its next schedule point (`requestFlushesAndWait`, bounded), with
//      no end chunk and no world stop.
//
// Stacks: captured by walking frame pointers (CGoRuntime/unwind.c) within the running stack's
// bounds; deduplicated per M by a 64-bit hash of the PCs, which a hook computes in the walk itself and
// looks up before storing any PC (gort_stack_hash); ids are process-unique, and an M defines
// an id in its own stream before first using it, so every reference is preceded by its definition.
// Timestamps: the TSC (rdtscp, ~16 ns) in units of 16 cycles (`tscTicksShift`) when the kernel's own
// clocksource is the TSC — then it is invariant and synchronised across CPUs — calibrated against
// CLOCK_MONOTONIC over 2 ms when a recording starts; otherwise CLOCK_MONOTONIC in nanoseconds (~20 ns
// here). Either way one clock serves every CPU, so causally ordered events are ordered in time on every
// M (no "time stamps out of order").
import CGoRuntime
import GoTraceFormat
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One M's tracing state. Only its M touches it (see the protocol).
final class MachineTrace: @unchecked Sendable {
    let buffer: TraceBuffer
    let machineID: UInt64
    @exclusivity(unchecked) var sequence: UInt64 = 0
    @exclusivity(unchecked) var generation: UInt64
    /// Direct-mapped cache from a stack's 64-bit hash to its id: no hashing of the hash, no
    /// allocation. A collision evicts the older stack, which is then simply defined again under
    /// a new id — duplicates cost bytes, never correctness.
    let stackCache: UnsafeMutablePointer<(hash: UInt64, id: UInt64)>
    static let stackCacheSize = 4096
    @exclusivity(unchecked) var stringIDs: [String: UInt64] = [:]

    init(machineID: UInt64, generation: UInt64, startTicks: UInt64) {
        self.machineID = machineID
        self.generation = generation
        buffer = TraceBuffer(baseTicks: startTicks)
        stackCache = .allocate(capacity: Self.stackCacheSize)
        stackCache.initialize(repeating: (0, 0), count: Self.stackCacheSize)
    }

    deinit { stackCache.deallocate() }

    @inline(__always)
    func cachedStackID(_ hash: UInt64) -> UInt64? {
        let entry = stackCache[Int(truncatingIfNeeded: hash) & (Self.stackCacheSize - 1)]
        return entry.hash == hash && entry.id != 0 ? entry.id : nil
    }

    @inline(__always)
    func cacheStackID(_ hash: UInt64, _ id: UInt64) {
        stackCache[Int(truncatingIfNeeded: hash) & (Self.stackCacheSize - 1)] = (hash, id)
    }

    /// Forgets every string and stack this M defined, so the next use defines them again: a flight
    /// recording's new generation must not refer to definitions in one that may be dropped (`cutGeneration`).
    /// Precondition: the caller owns this M's trace now (as for writing its buffer).
    func forgetDefinitions() {
        // Safety: the cache holds `stackCacheSize` initialised entries (init), and the caller owns them now.
        stackCache.update(repeating: (0, 0), count: Self.stackCacheSize)
        stringIDs.removeAll(keepingCapacity: true)
    }
}

/// The in-process flight recorder's window, shared by the Ms that hand it chunks (the writer's sink) and
/// `Trace.writeFlightRecording`.
final class FlightRecorderMemory: Sendable {
    let window: Synchronization.Mutex<FlightWindow>
    init(_ window: FlightWindow) { self.window = Synchronization.Mutex(window) }
}

/// An event as a program's own consumer sees it (`Trace.setEventConsumer`).
public struct TraceHookEvent: Sendable {
    /// The event kind's name in the trace format (`spawn`, `park`, …).
    public var kind: String
    /// When the event happened, in nanoseconds of the runtime's monotonic clock (comparable between
    /// events of one process, not a wall-clock time).
    public var timestampNanoseconds: Int64
    /// The id of the M (a scheduler thread) that recorded the event; also 0 for a thread outside the
    /// scheduler.
    public var machine: Int
    /// The event's arguments in the order the format's kind table gives.
    public var arguments: [UInt64]
}

final class Tracer: @unchecked Sendable {
    let active = Atomic<Bool>(false)
    let generation = Atomic<UInt64>(0)
    let flushEpoch = Atomic<UInt64>(0)
    let nextStackID = Atomic<UInt64>(1)
    let nextStringID = Atomic<UInt64>(1)
    /// CPU sampling (CGoRuntime/profile.c): the rate in Hz while recording (0: off), and an epoch
    /// each M compares with its own to start or stop its SIGPROF timer at its next schedule point.
    let profileRate = Atomic<Int>(0)
    let profileEpoch = Atomic<UInt64>(0)
    /// Whether a consumer is registered: events are built for it only then.
    let hasConsumer = Atomic<Bool>(false)
    /// GOTRACE_UNPARK_STACKS=1: `unpark` events carry the waker's stack. Off by default (stack 0): no analyzer
    /// of ours reads it, and walking the waker's frames on every wake-up is a large part of a traced channel
    /// round trip (issue #17). Read at each start; relaxed: a start's world stop publishes it.
    let recordsUnparkStacks = Atomic<Bool>(false)
    /// The periodic flush (`periodicFlush`): its interval while recording (0: off), and when it is due
    /// next (monotonic ns; written by `start` and by the monitor thread, which alone acts on it).
    let periodicFlushInterval = Atomic<Int64>(0)
    let periodicFlushDue = Atomic<Int64>(.max)
    /// A flight recording's generation cuts (`periodicGenerationCut`): the interval (0: not a flight recording)
    /// and when the next is due (monotonic ns); written by `start` and by the monitor thread, as above.
    let generationInterval = Atomic<Int64>(0)
    let generationDue = Atomic<Int64>(.max)
    /// How long a recording's start or stop waits for the world to stop. Go's waits without a bound; ours
    /// gives up on an M whose goroutine loops where it cannot be interrupted. A second, not the 200 ms it
    /// was: on a 2-core machine under a test suite's load (load average 10–17) a stop once took longer,
    /// and a stop that gives up leaves an inexact snapshot. Only such a looping goroutine waits this long;
    /// a normal stop takes 1–5 ms, 50 ms under that load.
    static let worldStopBound: Int64 = 1_000_000_000

    /// GOTRACE_FLUSH_INTERVAL's default, in milliseconds.
    static let defaultPeriodicFlushMilliseconds: Int64 = 250

    /// GOTRACE_FLUSH_INTERVAL: milliseconds between periodic flushes, 0 for none (what a program killed
    /// outright may lose). Anything else is ignored with a warning, as GOTRACE_MAX_STACK is.
    static var periodicFlushMillisecondsFromEnvironment: Int64 {
        guard let text = getenvString("GOTRACE_FLUSH_INTERVAL") else { return defaultPeriodicFlushMilliseconds }
        guard let milliseconds = Int64(text), milliseconds >= 0, milliseconds <= 3_600_000 else {
            writeStandardError("gotrace runtime: warning: ignoring GOTRACE_FLUSH_INTERVAL=\(text) "
                               + "(want milliseconds from 0 to 3600000, e.g. 250; 0 turns the periodic flush off)\n")
            return defaultPeriodicFlushMilliseconds
        }
        return milliseconds
    }
    /// Guards everything below.
    private let lock: UnsafeMutablePointer<gort_lock_t>
    @exclusivity(unchecked) private var writer: TraceFileWriter?
    @exclusivity(unchecked) private var ownedDescriptor: Int32 = -1
    @exclusivity(unchecked) private var isPipe = false
    @exclusivity(unchecked) private var external: MachineTrace?
    @exclusivity(unchecked) private(set) var startTicks: UInt64 = 0
    @exclusivity(unchecked) private var consumer: (@Sendable (TraceHookEvent) -> Void)?
    @exclusivity(unchecked) private var environmentChecked = false
    @exclusivity(unchecked) private var exitHookInstalled = false
    /// A `start` or `stop` is under way: they stop the world, one at a time (the next waits).
    @exclusivity(unchecked) private var changing = false
    /// Set once, before the first recording starts; read without the lock afterwards.
    @exclusivity(unchecked) private var clockChosen = false
    @exclusivity(unchecked) private(set) var usesTSC = false
    @exclusivity(unchecked) private var ticksPerSecond: UInt64 = 1_000_000_000
    /// The last generation cut of this recording (0: none yet).
    @exclusivity(unchecked) private var generationNumber: UInt64 = 0
    /// The in-process flight recorder's window (`Trace.startFlightRecorder`); kept after the recording stops,
    /// so `Trace.writeFlightRecording` can still write it, until the next recording starts.
    @exclusivity(unchecked) private var flightWindow: FlightRecorderMemory?

    /// GOTRACE_GENERATION_INTERVAL: milliseconds between a flight recording's generation cuts, set by `gotrace
    /// record --flight-recorder` (0 or absent: none). Anything else is ignored with a warning.
    static var generationIntervalMillisecondsFromEnvironment: Int64 {
        guard let text = getenvString("GOTRACE_GENERATION_INTERVAL") else { return 0 }
        guard let milliseconds = Int64(text), milliseconds >= 0, milliseconds <= 3_600_000 else {
            writeStandardError("gotrace runtime: warning: ignoring GOTRACE_GENERATION_INTERVAL=\(text) "
                               + "(want milliseconds from 0 to 3600000)\n")
            return 0
        }
        return milliseconds
    }

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
    }

    var isRecording: Bool {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return writer != nil
    }

    // MARK: - starting and stopping

    /// Starts recording if the environment asks for it (`GOTRACE_FD`, else `GOTRACE_OUT`); once.
    func startFromEnvironmentOnce() {
        gort_lock(lock)
        if environmentChecked {
            gort_unlock(lock)
            return
        }
        environmentChecked = true
        gort_unlock(lock)
        if let text = getenvString("GOTRACE_FD"), let fd = Int32(text), fd >= 0 {
            unsetenv("GOTRACE_FD")
            // Children of the traced program must not write into the recorder's pipe.
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            do {
                try start(fileDescriptor: fd, compressing: false, owned: true, pipe: true)
            } catch {
                writeStandardError("gotrace runtime: cannot trace to GOTRACE_FD=\(fd): \(error)\n")
            }
        } else if let path = getenvString("GOTRACE_OUT"), !path.isEmpty {
            do {
                try start(path: path)
            } catch {
                writeStandardError("gotrace runtime: cannot trace to GOTRACE_OUT=\(path): \(error)\n")
            }
        }
    }

    func start(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw TraceError.cannotOpen(path: path, errno: errno) }
        do {
            try start(fileDescriptor: fd, compressing: true, owned: true, pipe: false)
        } catch {
            close(fd)
            throw error
        }
    }

    func start(fileDescriptor: Int32, compressing: Bool, owned: Bool, pipe: Bool) throws {
        try beginRecording(owned: owned ? fileDescriptor : -1, pipe: pipe,
                  generationIntervalNanoseconds: Self.generationIntervalMillisecondsFromEnvironment * 1_000_000) {
            ticksPerSecond, now in
            try withSIGPIPEBlocked {
                try TraceFileWriter(fileDescriptor: fileDescriptor, ticksPerSecond: ticksPerSecond, startTicks: now,
                                    startWallTimeNanoseconds: gort_walltime(), compressing: compressing)
            }
        }
    }

    /// The in-process flight recorder: a recording whose chunks go into a `FlightWindow` in memory
    /// (compressed by the Ms that seal them), cut into generations a quarter of `windowNanoseconds` apart.
    func startFlightRecorder(windowNanoseconds: UInt64) throws {
        let window = FlightRecorderMemory(FlightWindow(windowNanoseconds: windowNanoseconds))
        let interval = Int64(clamping: FlightWindow.generationInterval(windowNanoseconds: windowNanoseconds))
        try beginRecording(owned: -1, pipe: false, generationIntervalNanoseconds: interval, flightWindow: window) {
            ticksPerSecond, now in
            TraceFileWriter(sink: { bytes in window.window.withLock { $0.append(bytes) } }, ticksPerSecond: ticksPerSecond,
                            startTicks: now, startWallTimeNanoseconds: gort_walltime(), compressing: true)
        }
    }

    /// Writes the in-process flight recorder's window to `path`: while recording, up to a generation cut made
    /// now (so it ends with an exact snapshot); after `stop`, up to the recording's end.
    func writeFlightRecording(to path: String) throws {
        gort_lock(lock)
        let window = flightWindow
        let recording = writer != nil
        gort_unlock(lock)
        guard let window else { throw TraceError.noFlightRecorder }
        if recording { cutGeneration(waitNanoseconds: Self.worldStopBound) }
        // A recording stopped meanwhile has its end chunk: then the window ends there instead.
        let ending: FlightWindow.Ending = isRecording ? .atLastCut : .asReceived
        let file = window.window.withLock { $0.encoded(ending) }
        guard let bytes = file?.bytes else { throw TraceError.noFlightRecorder }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw TraceError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        do {
            try TraceFileWriter.writeAll(bytes, to: fd)
        } catch {
            throw TraceError.write("cannot write \(path): \(error)")
        }
    }

    private func beginRecording(owned descriptor: Int32, pipe: Bool, generationIntervalNanoseconds: Int64,
                       flightWindow window: FlightRecorderMemory? = nil,
                       makeWriter: (_ ticksPerSecond: UInt64, _ now: UInt64) throws -> TraceFileWriter) throws {
        beginChange()
        gort_lock(lock)
        if writer != nil {
            changing = false
            gort_unlock(lock)
            throw TraceError.alreadyRecording
        }
        chooseClock()
        let now = ticks()
        let newWriter: TraceFileWriter
        do {
            newWriter = try makeWriter(ticksPerSecond, now)
        } catch {
            changing = false
            gort_unlock(lock)
            throw TraceError.write("\(error)")
        }
        writer = newWriter
        ownedDescriptor = descriptor
        isPipe = pipe
        flightWindow = window
        generationNumber = 0
        startTicks = now
        let newGeneration = generation.add(1, ordering: .sequentiallyConsistent).newValue
        external = MachineTrace(machineID: 0, generation: newGeneration, startTicks: now)
        if !exitHookInstalled {
            exitHookInstalled = true
            _ = gort_atexit(traceAtExit)
            gort_install_crash_handler(traceOnCrash)
            installTerminationFlush()
        }
        gort_unlock(lock)
        emitModules()
        // The start snapshot with the world stopped, as the final one (`stop`): every event of the
        // recording follows it, so it shows each goroutine in the state its first event starts from.
        let notStopped = scheduler.stopTheWorld(waitNanoseconds: Self.worldStopBound, startsRecording: true)
        recordsUnparkStacks.store(getenvString("GOTRACE_UNPARK_STACKS") == "1", ordering: .relaxed)
        active.store(true, ordering: .sequentiallyConsistent)
        // 99 Hz, not 100: a round rate samples in lock-step with periodic work (fgprof's argument).
        let rate = getenvString("GOTRACE_CPU_RATE").flatMap { Int($0) } ?? 99
        if rate > 0 {
            gort_profile_install_handler()
            profileRate.store(min(rate, 10_000), ordering: .relaxed)
            profileEpoch.add(1, ordering: .sequentiallyConsistent)
        }
        let flushMilliseconds = Self.periodicFlushMillisecondsFromEnvironment
        periodicFlushInterval.store(flushMilliseconds * 1_000_000, ordering: .relaxed)
        periodicFlushDue.store(flushMilliseconds > 0 ? gort_nanotime() + flushMilliseconds * 1_000_000 : .max,
                               ordering: .relaxed)
        generationInterval.store(generationIntervalNanoseconds, ordering: .relaxed)
        generationDue.store(generationIntervalNanoseconds > 0 ? gort_nanotime() + generationIntervalNanoseconds : .max,
                            ordering: .relaxed)
        emitSnapshot(schedulerLocked: false)
        // The Ps that run through the start have no `proc-start` in this recording: the caller's own here,
        // the stopped Ms' when each runs again (Scheduler+WorldStop.swift), so that their events belong
        // to a P. Without it a P started before the recording (Runtime.run starts its Ms first) was idle
        // in every analysis ("busy 0%" for a program that did nothing but spin).
        if let processor = Scheduler.currentMachine()?.processor { scheduler.traceProcessorStart(processor) }
        if notStopped > 0 { logNotStopped(notStopped, waitNanoseconds: Self.worldStopBound, what: "start") }
        scheduler.restartTheWorld()
        endChange()
    }

    /// Waits until no other `start` or `stop` is under way, and claims the turn.
    func beginChange() {
        while true {
            gort_lock(lock)
            if !changing {
                changing = true
                gort_unlock(lock)
                return
            }
            gort_unlock(lock)
            // On an M, the other one may be stopping the world and waiting for this M: stop here too.
            if let me = Scheduler.currentMachine() {
                gort_lock(scheduler.lock)
                let recordingStarted = scheduler.waitWhileWorldStopped(me)
                gort_unlock(scheduler.lock)
                if recordingStarted, let processor = me.processor { scheduler.traceProcessorStart(processor) }
            }
            gort_os_yield()
        }
    }

    func endChange() {
        gort_lock(lock)
        changing = false
        gort_unlock(lock)
    }

    /// Says in the trace that the snapshot may disagree with the goroutines of Ms that did not stop.
    private func logNotStopped(_ count: Int, waitNanoseconds: Int64, what: String) {
        emit(.log, 0, stringID("runtime"),
             stringID("trace \(what): \(count) M(s) did not stop within \(waitNanoseconds / 1_000_000) ms; "
                + "the snapshot may not be exact"))
    }

    /// Ends the recording: the world stopped (Scheduler+WorldStop.swift), a final snapshot, every M's
    /// buffer flushed, the end chunk written, the world restarted. `othersAreAsleep`: every other M is
    /// known to sleep in the scheduler (after a deadlock; the caller holds the scheduler's lock), so
    /// the world is still already and their buffers can be flushed from here. `waitNanoseconds`: how
    /// long to wait for the world to stop. `endSignal`: the signal that ends the program (the end chunk
    /// records it; 0: none — TraceSignalFlush.swift).
    func stop(othersAreAsleep: Bool = false, waitNanoseconds: Int64 = worldStopBound, endSignal: Int32 = 0) {
        // After a deadlock no start or stop can be under way (a world stop holds the idle Ps, and the
        // deadlock verdict needs every P idle), and the caller holds the scheduler's lock: no waiting.
        if !othersAreAsleep { beginChange() }
        gort_lock(lock)
        guard writer != nil else {
            if !othersAreAsleep { changing = false }
            gort_unlock(lock)
            return
        }
        gort_unlock(lock)
        generationInterval.store(0, ordering: .relaxed)
        generationDue.store(.max, ordering: .relaxed)
        // A CPU profile under way (the debug server's) keeps sampling at its own rate.
        let keptRate = cpuProfiler.wantedRate
        if profileRate.exchange(keptRate, ordering: .relaxed) != keptRate {
            profileEpoch.add(1, ordering: .sequentiallyConsistent)
        }
        let me = Scheduler.currentMachine()
        if othersAreAsleep {
            if let me { serviceProfiler(me) }
            emitSnapshot(schedulerLocked: true)
            if consumerIsNil { active.store(false, ordering: .sequentiallyConsistent) }
            flushEpoch.add(1, ordering: .sequentiallyConsistent)
            if let me { flushOwn(me) }
            for machine in scheduler.machinesSnapshot(locked: true) where machine !== me {
                flushOwn(machine)
            }
        } else {
            let notStopped = scheduler.stopTheWorld(waitNanoseconds: waitNanoseconds)
            if let me { serviceProfiler(me) }
            emitSnapshot(schedulerLocked: false)
            if notStopped > 0 { logNotStopped(notStopped, waitNanoseconds: waitNanoseconds, what: "stop") }
            if consumerIsNil { active.store(false, ordering: .sequentiallyConsistent) }
            flushEveryMachineDuringWorldStop(me)
        }
        gort_lock(lock)
        if let external { sealAndWrite(external, writer: writer) }
        if let writer {
            // Every chunk before the end chunk, and written before the descriptor is closed (ChunkCompressor.swift;
            // returns at once when nothing is queued).
            chunkCompressor.drain()
            _ = try? withSIGPIPEBlocked {
                try writer.finish(endWallTimeNanoseconds: gort_walltime(), endSignal: UInt64(max(0, endSignal)))
            }
        }
        writer = nil
        external = nil
        if ownedDescriptor >= 0 { close(ownedDescriptor) }
        ownedDescriptor = -1
        gort_unlock(lock)
        if !othersAreAsleep {
            scheduler.restartTheWorld()
            endChange()
        }
    }

    /// With the world stopped: writes the caller's buffer, those of the Ms settled in blocking calls and those
    /// of the stopped Ms. `me`: the caller's M, if it is one.
    private func flushEveryMachineDuringWorldStop(_ me: Machine?) {
        if let me { flushOwn(me) }
        for machine in scheduler.machinesSettledInBlockingCalls() where machine !== me {
            // Safety: a settled M writes nothing until it has passed the barrier on its way back
            // (BlockingCall.swift); its flag's release/acquire publishes its last writes.
            writeBuffer(of: machine)
        }
        // Twice: an M that stops late (after the bound) still parks at the barrier, and its buffer
        // is then ours too until the restart.
        let flushed = flushStoppedMachines(from: 0, except: me)
        _ = flushStoppedMachines(from: flushed, except: me)
    }

    /// Flushes the buffers of the Ms stopped by the world stop, from position `start` of their arrival
    /// order; returns the position after the last one.
    private func flushStoppedMachines(from start: Int, except me: Machine?) -> Int {
        let stopped = scheduler.stoppedMachines(from: start)
        let epoch = flushEpoch.load(ordering: .sequentiallyConsistent)
        for machine in stopped where machine !== me {
            // Safety: a stopped M sleeps until the restart and writes nothing meanwhile; its last writes
            // were published by the scheduler's lock, which it released before sleeping and
            // `stoppedMachines` took after (Scheduler+WorldStop.swift).
            writeBuffer(of: machine)
            machine.flushedEpoch = epoch
        }
        return start + stopped.count
    }

    /// The monitor's tick during a flight recording: cuts a generation once `generationInterval` has passed.
    func periodicGenerationCut(now: Int64) {
        guard now >= generationDue.load(ordering: .relaxed) else { return }
        let interval = generationInterval.load(ordering: .relaxed)
        guard interval > 0 else { return }
        cutGeneration(waitNanoseconds: Self.worldStopBound)
        generationDue.store(gort_nanotime() + interval, ordering: .relaxed)
    }

    /// Starts a new generation of the recording (step 5 of the protocol; GoTraceFormat/GenerationChunk.swift):
    /// with the world stopped, every M's buffer is written, a `begin` marker, every M's definitions forgotten,
    /// the module map and a snapshot written and flushed, a `snapshot-written` marker. From any thread (the
    /// monitor's, or a goroutine's for `Trace.writeFlightRecording`). Does nothing when not recording.
    func cutGeneration(waitNanoseconds: Int64) {
        beginChange()
        gort_lock(lock)
        guard writer != nil else {
            changing = false
            gort_unlock(lock)
            return
        }
        generationNumber += 1
        let number = generationNumber
        gort_unlock(lock)
        let me = Scheduler.currentMachine()
        let notStopped = scheduler.stopTheWorld(waitNanoseconds: waitNanoseconds, startsRecording: true)
        flushEveryMachineDuringWorldStop(me)
        gort_lock(lock)
        if let external { sealAndWrite(external, writer: writer) }
        gort_unlock(lock)
        writeGenerationMarker(number, .begin)
        // Safety: the same ownership as the flushes just made — every M listed is stopped (or settled in a
        // blocking call) until the restart, or is the caller's own.
        let current = generation.load(ordering: .relaxed)
        var owned = scheduler.stoppedMachines(from: 0) + scheduler.machinesSettledInBlockingCalls()
        if let me { owned.append(me) }
        for machine in owned {
            if let trace = machine.trace, trace.generation == current { trace.forgetDefinitions() }
        }
        gort_lock(lock)
        external?.forgetDefinitions()
        gort_unlock(lock)
        emitModules()
        emitSnapshot(schedulerLocked: false)
        if let processor = me?.processor { scheduler.traceProcessorStart(processor) }
        if notStopped > 0 { logNotStopped(notStopped, waitNanoseconds: waitNanoseconds, what: "generation cut") }
        if let me { flushOwn(me) }
        gort_lock(lock)
        if let external { sealAndWrite(external, writer: writer) }
        gort_unlock(lock)
        writeGenerationMarker(number, .snapshotWritten)
        scheduler.restartTheWorld()
        endChange()
    }

    private func writeGenerationMarker(_ number: UInt64, _ phase: GenerationChunk.Phase) {
        gort_lock(lock)
        let currentWriter = writer
        gort_unlock(lock)
        guard let currentWriter else { return }
        // A marker divides the stream: the chunks before it are written first (ChunkCompressor.swift).
        chunkCompressor.drain()
        let marker = GenerationChunk(generation: number, phase: phase, ticks: ticks(), wallTimeNanoseconds: gort_walltime())
        do {
            try withSIGPIPEBlocked { try currentWriter.write(generationChunk: marker) }
        } catch {
            // The recorder went away: stop tracing, keep running (as `sealAndWrite`).
            active.store(false, ordering: .sequentiallyConsistent)
        }
    }

    /// Lock held.
    private func chooseClock() {
        if clockChosen { return }
        clockChosen = true
        guard gort_tsc_is_clocksource() else { return }
        // 2 ms of calibration: the clocks' read jitter (~100 ns) makes the rate good to ~0.005%. Each end
        // reads the TSC between two CLOCK_MONOTONIC reads and keeps the tightest of a few tries: on a loaded
        // machine the thread may be descheduled between two reads for milliseconds, and one such pause
        // inside a single unbracketed pair would skew the rate — every duration in the trace — by as much.
        let start = Self.tightestClockPair()
        var end = start
        while end.monotonic - start.monotonic < 2_000_000 { end = Self.tightestClockPair() }
        guard end.ticks > start.ticks else { return }
        let tscPerSecond = (end.ticks - start.ticks) * 1_000_000_000 / UInt64(end.monotonic - start.monotonic)
        ticksPerSecond = tscPerSecond >> Self.tscTicksShift
        usesTSC = ticksPerSecond > 0
    }

    /// The trace's tick is 2^4 = 16 TSC cycles (about 5–7 ns at 2.3–3 GHz; Go's tracer divides by 64). The
    /// cycles below it are noise to every analysis — a hand-off between Ms alone takes tens of ns, so no two
    /// causally ordered events on different Ms fall into one tick — but they were the bytes zlib could not
    /// shrink: each event's delta carried about four random low bits (pingpong 1.12 → 0.58 bytes per event,
    /// workers 2.5 → 0.96; docs/performance.md).
    static var tscTicksShift: UInt64 { 4 }

    /// The TSC and CLOCK_MONOTONIC read together: the TSC between two monotonic reads, whose midpoint it is
    /// paired with; of five tries, the one whose monotonic reads were closest together.
    private static func tightestClockPair() -> (monotonic: Int64, ticks: UInt64) {
        var best: (monotonic: Int64, ticks: UInt64, width: Int64) = (0, 0, .max)
        for _ in 0..<5 {
            let before = gort_nanotime()
            let ticks = gort_cputicks()
            let after = gort_nanotime()
            if after - before < best.width { best = (before + (after - before) / 2, ticks, after - before) }
        }
        return (best.monotonic, best.ticks)
    }

    @inline(__always)
    func ticks() -> UInt64 {
        usesTSC ? gort_cputicks() >> Self.tscTicksShift : UInt64(gort_nanotime())
    }

    private var consumerIsNil: Bool {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return consumer == nil
    }

    func setConsumer(_ newConsumer: (@Sendable (TraceHookEvent) -> Void)?) {
        gort_lock(lock)
        consumer = newConsumer
        hasConsumer.store(newConsumer != nil, ordering: .sequentiallyConsistent)
        let recording = writer != nil
        gort_unlock(lock)
        active.store(recording || newConsumer != nil, ordering: .sequentiallyConsistent)
    }

    // MARK: - flushing

    /// At an M's schedule points: starts or stops its sampling timer when the profiling epoch moved,
    /// and turns the samples its signal handler queued into `cpu-sample` events.
    /// Precondition: called on `machine`'s own thread (the sample ring is per thread).
    func serviceProfiler(_ machine: Machine) {
        let epoch = profileEpoch.load(ordering: .relaxed)
        if machine.profileEpoch != epoch {
            machine.profileEpoch = epoch
            let rate = profileRate.load(ordering: .relaxed)
            if rate > 0 {
                machine.isSampling = gort_profile_thread_start(Int32(rate)) == 0
            } else {
                gort_profile_thread_stop()
            }
        }
        guard machine.isSampling else { return }
        var dropped: UInt32 = 0
        _ = gort_profile_drain({ _, goroutine, pcs, depth in
            guard let pcs else { return }
            let sample = UnsafeBufferPointer(start: pcs, count: Int(depth))
            if cpuProfiler.isCollecting.load(ordering: .relaxed) { cpuProfiler.record(sample) }
            guard tracer.active.load(ordering: .relaxed) else { return }
            tracer.emit(.cpuSample, goroutine, tracer.stackID(sample))
        }, nil, &dropped)
        if dropped > 0, let trace = machine.trace { trace.buffer.noteDropped(Int(dropped)) }
        if profileRate.load(ordering: .relaxed) == 0 { machine.isSampling = false }
    }

    /// Asks every M to flush its own buffer (the crash path, step 4 of the protocol): bumps `flushEpoch`, flushes the
    /// caller's own M, flushes each idle M's buffer for it while it sleeps (it cannot write to it until
    /// woken, which happens after: Scheduler.wakeIdleMachinesToFlush) and wakes it, then waits until
    /// each other M with a buffer acknowledged the epoch at a schedule point, or `waitNanoseconds`
    /// passed. Returns how many Ms did not acknowledge in time.
    @discardableResult
    func requestFlushesAndWait(waitNanoseconds: Int64) -> Int {
        let epoch = flushEpoch.add(1, ordering: .sequentiallyConsistent).newValue
        let me = Scheduler.currentMachine()
        if let me { flushOwn(me) }
        scheduler.wakeIdleMachinesToFlush(whileAsleep: { asleep in
            // Safety: `asleep` is off the idle list and not yet woken, so it writes nothing to its buffer
            // until after this closure; its last writes were published by the scheduler's lock, which
            // the caller of this closure took after `asleep` released it (Scheduler.wakeIdleMachinesToFlush).
            if asleep !== me { writeBuffer(of: asleep) }
            asleep.flushedEpoch = epoch
        })
        let deadline = gort_nanotime() + waitNanoseconds
        var pending = 0
        repeat {
            pending = scheduler.machinesSnapshot(locked: false).count {
                $0 !== me && $0.hasTrace && $0.flushedEpoch < epoch
            }
            if pending == 0 { break }
            gort_os_yield()
        } while gort_nanotime() < deadline
        return pending
    }

    /// The crash path's second half, on the flush thread (TraceSignalFlush.swift): every other M
    /// flushes at its next schedule point within `waitNanoseconds`; the external buffer is written.
    /// No end chunk: a crashed program's trace is incomplete.
    func flushOthersAfterCrash(waitNanoseconds: Int64) {
        guard active.load(ordering: .relaxed) else { return }
        requestFlushesAndWait(waitNanoseconds: waitNanoseconds)
        gort_lock(lock)
        if let external { sealAndWrite(external, writer: writer) }
        gort_unlock(lock)
        // What the Ms queued for the compressing thread, within the crash handler's wait (it allows 250 ms,
        // the wait above up to 200): a few milliseconds per queued chunk.
        chunkCompressor.drain(waitNanoseconds: 40_000_000)
    }

    /// The periodic flush, on the monitor thread (Monitor.swift, every tick): once `periodicFlushInterval`
    /// has passed since the last one, every M writes its partial chunk — an M with a P at its next schedule
    /// point (within a time slice, as preemption makes one), an idle M that holds events is woken to do it
    /// and sleeps again — and the external buffer is written here. What a recording can lose to a death
    /// that runs no code of ours (SIGKILL, the OOM killer) is then bounded by the interval plus a time
    /// slice, rather than by each M's 64 KiB buffer, which an idle M may hold for the rest of the run.
    /// The M-side writes stay on the Ms: the monitor never writes another M's buffer.
    func periodicFlush(now: Int64) {
        let due = periodicFlushDue.load(ordering: .relaxed)
        guard now >= due, active.load(ordering: .relaxed) else { return }
        let interval = periodicFlushInterval.load(ordering: .relaxed)
        periodicFlushDue.store(interval > 0 ? now + interval : .max, ordering: .relaxed)
        gort_lock(lock)
        let recording = writer != nil
        if recording, let external, !external.buffer.isEmpty { sealAndWrite(external, writer: writer) }
        let currentGeneration = generation.load(ordering: .relaxed)
        gort_unlock(lock)
        guard recording else { return }
        flushEpoch.add(1, ordering: .sequentiallyConsistent)
        scheduler.wakeIdleMachinesToFlush(only: { machine in
            // Safety: `machine` is asleep on the idle list; its last buffer writes were published by the
            // scheduler's lock, which the caller holds.
            guard let trace = machine.trace else { return false }
            return trace.generation == currentGeneration && !trace.buffer.isEmpty
        })
    }

    /// Called by an M at a schedule point when `flushEpoch` moved, and by `stop`.
    func flushOwn(_ machine: Machine) {
        let epoch = flushEpoch.load(ordering: .sequentiallyConsistent)
        // Samples still in this thread's ring go into the buffer before it is sealed (the ring is
        // per thread: only the M itself can drain it).
        if machine.isSampling, machine === Scheduler.currentMachine() { serviceProfiler(machine) }
        writeBuffer(of: machine)
        machine.flushedEpoch = epoch
    }

    /// Seals and writes `machine`'s buffer if it holds events of the current recording.
    /// Precondition: the caller owns that buffer now — it runs on `machine`, or `machine` sleeps (idle,
    /// or stopped) and the scheduler's lock ordered its last writes before this call.
    private func writeBuffer(of machine: Machine) {
        guard let trace = machine.trace, trace.generation == generation.load(ordering: .relaxed) else { return }
        gort_lock(lock)
        let currentWriter = writer
        gort_unlock(lock)
        sealAndWrite(trace, writer: currentWriter)
    }

    /// `besideMachines`: a file recording's chunk may go to the compressing thread (ChunkCompressor.swift);
    /// false from the crash handler, which must not wait for that thread's lock.
    private func sealAndWrite(_ trace: MachineTrace, writer: TraceFileWriter?, besideMachines: Bool = true) {
        guard !trace.buffer.isEmpty || trace.buffer.byteCount > 0 else { return }
        let chunk = trace.buffer.sealChunk(machine: trace.machineID, sequence: trace.sequence)
        trace.sequence += 1
        guard let writer else { return }
        if besideMachines, ChunkCompressor.takes(writer), chunkCompressor.submit(chunk, to: writer) { return }
        do {
            try withSIGPIPEBlocked { try writer.write(rawChunk: chunk) }
        } catch {
            // The recorder went away (EPIPE) or the disk is full: stop tracing, keep running.
            active.store(false, ordering: .sequentiallyConsistent)
        }
    }

    /// Best effort from a crash handler: write this thread's buffer; no end chunk (the trace reads
    /// as incomplete, which it is).
    func flushOnCrash() {
        guard active.load(ordering: .relaxed) else { return }
        if let machine = Scheduler.currentMachine() {
            if let trace = machine.trace {
                gort_lock(lock)
                let currentWriter = writer
                gort_unlock(lock)
                sealAndWrite(trace, writer: currentWriter, besideMachines: false)
            }
            // Done for good: the flush of the other Ms (flushOthersAfterCrash) does not wait for this one.
            machine.flushedEpoch = .max
        }
    }

    // MARK: - emitting

    /// The calling M's trace state for the current recording, created or reset as needed.
    @inline(__always)
    private func machineTrace(_ machine: Machine) -> MachineTrace {
        let currentGeneration = generation.load(ordering: .relaxed)
        if let trace = machine.trace, trace.generation == currentGeneration { return trace }
        let trace = MachineTrace(machineID: UInt64(machine.id), generation: currentGeneration, startTicks: startTicksSnapshot)
        machine.trace = trace
        return trace
    }

    private var startTicksSnapshot: UInt64 {
        gort_lock(lock)
        defer { gort_unlock(lock) }
        return startTicks
    }

    /// Runs `write` on the caller's buffer (an M's own, or the external one under the lock),
    /// flushing and retrying once when it is full.
    private func withBuffer(_ write: (MachineTrace, UInt64) -> Bool) {
        let now = ticks()
        if let machine = Scheduler.currentMachine() {
            let trace = machineTrace(machine)
            if !write(trace, now) {
                gort_lock(lock)
                let currentWriter = writer
                gort_unlock(lock)
                sealAndWrite(trace, writer: currentWriter)
                if !write(trace, now) { trace.buffer.noteDropped() }
            }
        } else {
            gort_lock(lock)
            if let external {
                if !write(external, now) {
                    sealAndWrite(external, writer: writer)
                    if !write(external, now) { external.buffer.noteDropped() }
                }
            }
            gort_unlock(lock)
        }
    }

    /// The fast path: `write` on the calling M's trace state for the current recording, if it has one already;
    /// false if it has none (or `write` returns false). Borrowed, not retained: a retain and a release per
    /// event were a fifth of a traced channel round trip (issue #17).
    @inline(__always)
    private func withCurrentTrace(_ write: (MachineTrace) -> Bool) -> Bool {
        guard let raw = gort_tls_get_m() else { return false }
        let currentGeneration = generation.load(ordering: .relaxed)
        // Safety: the TLS slot holds this thread's M, which lives forever (Scheduler.currentMachine); its
        // `trace` is replaced only on this thread (`machineTrace`), never inside `write`, so the borrowed
        // object stays referenced by the M for the whole call.
        return Unmanaged<Machine>.fromOpaque(raw)._withUnsafeGuaranteedRef { machine in
            guard let link = machine.traceLink else { return false }
            return link._withUnsafeGuaranteedRef { trace in trace.generation == currentGeneration && write(trace) }
        }
    }

    func emit(_ kind: EventKind, _ a: UInt64) {
        let now = ticks()
        if !withCurrentTrace({ $0.buffer.emit(kind, at: now, a) }) {
            withBuffer { trace, _ in trace.buffer.emit(kind, at: now, a) }
        }
        if hasConsumer.load(ordering: .relaxed) { deliver(kind, [a]) }
    }

    func emit(_ kind: EventKind, _ a: UInt64, _ b: UInt64) {
        let now = ticks()
        if !withCurrentTrace({ $0.buffer.emit(kind, at: now, a, b) }) {
            withBuffer { trace, _ in trace.buffer.emit(kind, at: now, a, b) }
        }
        if hasConsumer.load(ordering: .relaxed) { deliver(kind, [a, b]) }
    }

    func emit(_ kind: EventKind, _ a: UInt64, _ b: UInt64, _ c: UInt64) {
        emit(kind, at: ticks(), a, b, c)
    }

    /// `emit` at a time the caller read (`ticks()`) for something else as well: a park's wait starts when its
    /// event says, and a timestamp read is the largest single cost of an event (rdtscp waits for the loads
    /// before it; docs/performance.md).
    func emit(_ kind: EventKind, at now: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64) {
        if !withCurrentTrace({ $0.buffer.emit(kind, at: now, a, b, c) }) {
            withBuffer { trace, _ in trace.buffer.emit(kind, at: now, a, b, c) }
        }
        if hasConsumer.load(ordering: .relaxed) { deliver(kind, [a, b, c]) }
    }

    func emit(_ kind: EventKind, _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) {
        withBuffer { trace, now in trace.buffer.emit(kind, at: now, a, b, c, d) }
        if hasConsumer.load(ordering: .relaxed) { deliver(kind, [a, b, c, d]) }
    }

    private func deliver(_ kind: EventKind, _ arguments: [UInt64]) {
        gort_lock(lock)
        let consumer = self.consumer
        gort_unlock(lock)
        guard let consumer else { return }
        let machine = Scheduler.currentMachine()
        // The consumer is the program's code, which the safe-PC rule lets a signal suspend; but the runtime
        // calls it from inside its own operations (a park, with the channel's lock held), where the goroutine
        // must not leave its M. Held for the call, as a world stop's stopper is (Scheduler+WorldStop.swift);
        // a consumer that blocks is a fatal error (`Scheduler.park`).
        if let machine { gort_preempt_hold(machine.preemption.state) }
        consumer(TraceHookEvent(kind: kind.description, timestampNanoseconds: gort_nanotime(),
                                machine: machine?.id ?? 0, arguments: arguments))
        if let machine { gort_preempt_release(machine.preemption.state) }
    }

    /// The id of `text` in the caller's stream, defining it first if needed.
    func stringID(_ text: String) -> UInt64 {
        if text.isEmpty { return 0 }
        var result: UInt64 = 0
        withBuffer { trace, now in
            if let id = trace.stringIDs[text] {
                result = id
                return true
            }
            let id = nextStringID.wrappingAdd(1, ordering: .relaxed).oldValue
            guard trace.buffer.emitString(id: id, text, at: now) else { return false }
            trace.stringIDs[text] = id
            result = id
            return true
        }
        return result
    }

    /// Captures the caller's stack and returns its id in the caller's stream (0 if none).
    @inline(never)
    func captureStack() -> UInt64 {
        // Safety: the TLS slot holds this thread's M, which lives forever (Scheduler.currentMachine); borrowed,
        // as is the running goroutine it refers to (alive while it runs this).
        let goroutineStack = gort_tls_get_m().flatMap {
            Unmanaged<Machine>.fromOpaque($0)._withUnsafeGuaranteedRef { $0.current?.stack }
        }
        return captureStack(on: goroutineStack)
    }

    /// `captureStack()` for a caller that has the running goroutine at hand (a park): its stack's bounds come
    /// from it, without a retain of the M's unowned reference to it.
    /// Precondition: `goroutine` runs on the calling thread.
    @inline(never)
    func captureStack(running goroutine: Goroutine) -> UInt64 {
        captureStack(on: goroutine.stack)
    }

    /// The walk both share, inlined into each so that the one frame it skips is theirs: within `stack`, or
    /// within the thread's stack when the caller runs on it (g0, a thread that is not an M).
    @inline(__always)
    private func captureStack(on stack: gort_stack_t?) -> UInt64 {
        var low: UInt = 0
        var high: UInt = 0
        if let stack {
            low = UInt(bitPattern: stack.base)
            high = UInt(bitPattern: stack.top)
        } else if let raw = gort_tls_get_m() {
            // Safety: as in `captureStack()`.
            Unmanaged<Machine>.fromOpaque(raw)._withUnsafeGuaranteedRef { machine in
                low = machine.threadStackLow
                high = machine.threadStackHigh
            }
        } else {
            gort_thread_stack_bounds(&low, &high)
        }
        // Skip the calling function's own frame: the first PC is the hook's caller. A park repeats a few stacks,
        // so it hashes its frames in one pass and captures them only when its M has not defined them yet (both
        // walks start from this frame, so they see the same PCs).
        var depth = 0
        let hash = gort_stack_hash(Self.maxStackDepth, 1, low, high, &depth)
        if depth == 0 { return 0 }
        if let id = cachedStackID(hash) { return id }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.maxStackDepth) { pcs in
            let count = gort_capture_stack(pcs.baseAddress, Self.maxStackDepth, 1, low, high)
            return count == 0 ? 0 : definedStackID(UnsafeBufferPointer(rebasing: pcs[0..<count]), hash: hash)
        }
    }

    /// Frames kept of a captured stack, as before the hashing walk (Go's tracer keeps up to 128).
    private static var maxStackDepth: Int { 32 }

    /// The id the calling M's stream already gave the stack with this hash, if any.
    @inline(__always)
    private func cachedStackID(_ hash: UInt64) -> UInt64? {
        var cached: UInt64 = 0
        return withCurrentTrace({ trace in
            cached = trace.cachedStackID(hash) ?? 0
            return cached != 0
        }) ? cached : nil
    }

    func stackID(_ pcs: UnsafeBufferPointer<UInt64>) -> UInt64 {
        if pcs.isEmpty { return 0 }
        let hash = pcs.reduce(gort_stack_hash_seed(), gort_stack_hash_step)
        if let cached = cachedStackID(hash) { return cached }
        return definedStackID(pcs, hash: hash)
    }

    /// The id of non-empty `pcs`, whose hash is `hash`, in the caller's stream: defined there now unless the
    /// buffer's owner has it already (the M's own cache was just missed; a thread that is not an M, or an M whose
    /// trace belongs to an older generation, is checked here).
    private func definedStackID(_ pcs: UnsafeBufferPointer<UInt64>, hash: UInt64) -> UInt64 {
        var result: UInt64 = 0
        withBuffer { trace, now in
            if let id = trace.cachedStackID(hash) {
                result = id
                return true
            }
            let id = nextStackID.wrappingAdd(1, ordering: .relaxed).oldValue
            guard trace.buffer.emitStack(id: id, pcs, at: now) else { return false }
            trace.cacheStackID(hash, id)
            result = id
            return true
        }
        return result
    }

    private func emitModules() {
        final class Collector {
            var modules: [(String, UInt, String)] = []
        }
        let collector = Collector()
        gort_modules_visit({ context, path, bias, buildID in
            // Safety: context is the Collector passed below, alive for the whole call.
            let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
            collector.modules.append((String(cString: path!), bias, String(cString: buildID!)))
        }, Unmanaged.passUnretained(collector).toOpaque())
        for (path, bias, buildID) in collector.modules {
            let pathID = stringID(path)
            let buildIDString = stringID(buildID)
            emit(.module, pathID, UInt64(bias), buildIDString)
        }
    }

    /// One `snapshot` event per live goroutine: state, wait reason, stack. Parked goroutines'
    /// stacks are walked from the registers their switch saved.
    func emitSnapshot(schedulerLocked: Bool) {
        let current = Scheduler.currentGoroutine()
        let now = ticks()
        var entries: [(UInt64, GoroutineState, ParkReason, UInt64, UInt64)] = []
        if !schedulerLocked { gort_lock(scheduler.lock) }
        let goroutines = scheduler.allGoroutines
        if !schedulerLocked { gort_unlock(scheduler.lock) }
        // A goroutine in `Runtime.blockingCall` keeps the status `running`; its events say syscall.
        let inBlockingCalls = scheduler.goroutinesInBlockingCalls(locked: schedulerLocked)
        for goroutine in goroutines {
            // Each field is read once: another M may change them meanwhile (Goroutine.swift).
            let id = goroutine.id
            let waitReason = goroutine.waitReason
            let state: GoroutineState
            let status = goroutine.status
            switch status {
            case .runnable: state = .runnable
            case .running: state = inBlockingCalls.contains(UInt64(id)) ? .syscall : .running
            case .waiting: state = waitReason == .syscall ? .syscall : .waiting
            case .idle, .dead: continue
            }
            var stack: UInt64 = 0
            if goroutine === current {
                stack = captureStack()
            } else if status == .waiting, case let slot = goroutine.stackSlot, slot != Goroutine.noStackSlot {
                // Pins the stack (it may be shrunk, or being shrunk, meanwhile) and checks that it is
                // still this goroutine's: see stack.c.
                stack = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 32) { pcs in
                    let count = gort_stack_capture_parked(slot, UInt64(id), pcs.baseAddress, 32)
                    return stackID(UnsafeBufferPointer(rebasing: pcs[0..<count]))
                }
            }
            // How long it has waited (or been in its blocking call): what a flight-recorder window that
            // starts here reports as blocked time before the window. 0: not known (it parked untraced).
            let since = goroutine.waitSinceTicks
            let waited = state == .waiting || state == .syscall ? nanoseconds(ticks: now &- since, unlessZero: since) : 0
            entries.append((UInt64(id), state, parkReason(waitReason), stack, waited))
        }
        for (id, state, reason, stack, waited) in entries {
            withBuffer { trace, now in
                trace.buffer.emit(.snapshot, at: now, id, UInt64(state.rawValue), UInt64(reason.rawValue), stack, waited)
            }
            if hasConsumer.load(ordering: .relaxed) {
                deliver(.snapshot, [id, UInt64(state.rawValue), UInt64(reason.rawValue), stack, waited])
            }
        }
    }

    /// `ticks` of the trace's clock in nanoseconds; 0 when `since` is 0 (not known) or `ticks` is implausible
    /// (a `since` later than now).
    private func nanoseconds(ticks: UInt64, unlessZero since: UInt64) -> UInt64 {
        guard since != 0, ticks < UInt64(Int64.max) else { return 0 }
        let product = ticks.multipliedFullWidth(by: 1_000_000_000)
        return product.high < ticksPerSecond ? ticksPerSecond.dividingFullWidth(product).quotient : 0
    }

    private func withSIGPIPEBlocked<R>(_ body: () throws -> R) rethrows -> R {
        gort_sigpipe_block()
        defer { gort_sigpipe_unblock() }
        return try body()
    }
}

func parkReason(_ reason: WaitReason) -> ParkReason {
    switch reason {
    case .chanReceive: return .chanReceive
    case .chanSend: return .chanSend
    case .select, .selectNoCases: return .select
    case .mutex: return .mutex
    case .rwmutexRead, .rwmutexWrite: return .rwmutex
    case .waitGroup: return .waitgroup
    case .cond: return .cond
    case .sleep: return .sleep
    case .io: return .io
    case .syscall: return .syscall
    case .yield: return .yield
    case .preempted: return .preempted
    case .none, .semaphore: return .other
    }
}

enum TraceError: Error, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case alreadyRecording
    case write(String)
    case noFlightRecorder

    var description: String {
        switch self {
        case .cannotOpen(let path, let code): return "cannot open \(path): \(String(cString: strerror(code)))"
        case .alreadyRecording: return "a trace is already being recorded"
        case .write(let text): return text
        case .noFlightRecorder: return "no flight recorder was started (Trace.startFlightRecorder)"
        }
    }
}

let tracer = Tracer()

private func traceAtExit() {
    tracer.stop()
}

private func traceOnCrash(_ signal: Int32) {
    tracer.flushOnCrash()
    // The other Ms' partial chunks, by the flush thread, waited for at most 250 ms.
    gort_signal_flush_from_crash()
}

// MARK: - public API

/// Recording traces and annotating them, like Go's runtime/trace.
public enum Trace {
    /// Starts recording to `path` (zlib-compressed chunks). A program run under `gotrace record`,
    /// or with `GOTRACE_OUT` set, records from its first `Runtime.run` without calling this.
    ///
    /// - Throws: An error that describes the cause if `path` cannot be created or a trace is already
    ///   being recorded.
    public static func start(to path: String) throws {
        try tracer.start(path: path)
    }

    /// Starts recording to an open descriptor (not closed by the runtime).
    ///
    /// - Parameters:
    ///   - fileDescriptor: Where to write the trace; the runtime writes to it and never closes it.
    ///   - compressing: Whether to compress the chunks with zlib (`gotrace record` receives them raw and
    ///     compresses them itself).
    /// - Throws: An error that describes the cause if a trace is already being recorded or the header
    ///   cannot be written.
    public static func start(fileDescriptor: Int32, compressing: Bool = true) throws {
        try tracer.start(fileDescriptor: fileDescriptor, compressing: compressing, owned: false, pipe: false)
    }

    /// Stops recording: writes a final snapshot of every goroutine and the end of the trace.
    public static func stop() { tracer.stop() }

    /// Starts the flight recorder: a recording kept in memory, of which only the last `window` (at least that
    /// much, at most about 1.25 times it) is kept, for as long as the program runs. Write it out with
    /// ``writeFlightRecording(to:)`` when something went wrong; ``stop()`` ends it. The trace is cut into
    /// generations a quarter `window` apart (at least 100 ms), each starting with a snapshot of every
    /// goroutine taken with the world stopped, so every window stands alone. As Go's `trace.FlightRecorder`.
    ///
    /// - Throws: An error that describes the cause if a trace is already being recorded.
    public static func startFlightRecorder(window: Duration) throws {
        let (seconds, attoseconds) = window.components
        let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        try tracer.startFlightRecorder(windowNanoseconds: UInt64(max(nanoseconds, 1)))
    }

    /// Writes the flight recorder's window to `path` (a `.gtrace` file), without stopping it: the last
    /// `window` up to now, ending with a snapshot of every goroutine taken now, so `gotrace stat --check`
    /// reconciles it and `gotrace report` shows goroutines blocked since before the window with their real
    /// blocked time. After ``stop()``, the window up to the stop.
    ///
    /// - Throws: An error that describes the cause if no flight recorder was started or `path` cannot be written.
    public static func writeFlightRecording(to path: String) throws {
        try tracer.writeFlightRecording(to: path)
    }

    /// Whether a trace is being recorded now (by ``start(to:)``, `GOTRACE_OUT` or `gotrace record`).
    public static var isRecording: Bool { tracer.isRecording }

    /// Runs `body` inside a named region of the current goroutine.
    public static func region<Result>(_ name: String, _ body: () throws -> Result) rethrows -> Result {
        guard tracer.active.load(ordering: .relaxed) else { return try body() }
        let goroutine = UInt64(Scheduler.currentGoroutine()?.id ?? 0)
        let nameID = tracer.stringID(name)
        tracer.emit(.regionBegin, goroutine, nameID)
        defer { tracer.emit(.regionEnd, goroutine, nameID) }
        return try body()
    }

    /// Records a message under a category.
    public static func log(_ category: String, _ message: String) {
        guard tracer.active.load(ordering: .relaxed) else { return }
        let goroutine = UInt64(Scheduler.currentGoroutine()?.id ?? 0)
        tracer.emit(.log, goroutine, tracer.stringID(category), tracer.stringID(message))
    }

    /// Registers (or, with nil, removes) a callback that receives every runtime event. It runs on
    /// the thread that caused the event, inside the scheduler: keep it short. Its goroutine is not
    /// preempted while it runs, and a blocking runtime operation in it (a channel operation that waits,
    /// `Runtime.sleep`, a `Mutex` that is taken) is a fatal error.
    public static func setEventConsumer(_ consumer: (@Sendable (TraceHookEvent) -> Void)?) {
        tracer.setConsumer(consumer)
    }
}
