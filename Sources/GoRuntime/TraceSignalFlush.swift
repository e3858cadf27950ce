// TraceSignalFlush.swift — what a recording keeps when the program is told to terminate or crashes.
//
// Design note. Each M's events wait in its own buffer until ~64 KiB fill a chunk; a program that dies
// before its Ms flush loses each M's partial chunk. For SIGINT, SIGTERM and SIGHUP at their default
// disposition — the program has no handler of its own — and for crashes, the runtime flushes them:
//   1. The handler (CGoRuntime/signal_flush.c) only wakes a dedicated flush thread through a pipe: a
//      handler may interrupt a thread that holds any lock or is inside malloc, so it does no tracing
//      work itself. The thread runs `terminationFlush` in normal context.
//   2. Termination (`crashed == 0`): `Tracer.stop(endSignal:)` — the world stopped (every running M
//      parks at its next schedule point, its goroutine asked to yield at once; idle Ms are taken off
//      the idle list; Scheduler+WorldStop.swift), waited for at most `signalFlushWait`; the final
//      snapshot; every stopped M's buffer flushed by the flush thread while that M sleeps (it cannot
//      write until the restart); then the end chunk, which records the signal. The flush thread then
//      re-raises the signal with its default disposition, so the program dies by it (status 128+N)
//      exactly as it would have.
//   3. Crash (`crashed == 1`): the crashing M has written its own buffer from the crash handler;
//      the flush thread asks the other Ms to flush theirs the same way, without an end chunk, while
//      the crash handler waits at most 250 ms before chaining to the previous handler.
// Nobody ever writes an M's buffer while that M may run: that is the whole data-race argument.
// The price: an M that does not stop within the wait — a goroutine looping where it cannot be
// interrupted, or blocked in a system call — keeps its partial chunk, and the trace is marked
// complete all the same, with a `log` event that says how many Ms did not stop (as with `Trace.stop`
// at exit; docs/reliability.md says so).
// Rejected: flushing a running M's buffer from outside (needs a seqlock or atomic per event on the
// hot path); sealing its chunk from a signal handler of our own on that M (the handler could not do
// it safely, for the reasons in step 1 — the world stop's SIGURG only makes the goroutine yield).
import CGoRuntime

/// How long the termination flush waits for the world to stop: for running Ms to reach a schedule
/// point (idle Ms need no wait). The bound `Trace.stop` uses at exit: a goroutine that parks, yields,
/// sleeps or is preempted reaches one within microseconds, and 200 ms leaves room for a loaded machine
/// to schedule the M's thread at all; yet a supervisor's SIGTERM still ends the program at once to a
/// human, well inside the usual grace period before a SIGKILL. Only an M that does not get there costs
/// the wait.
let signalFlushWait: Int64 = 200_000_000

/// Installs the termination handlers for the signals the program has left at their default (once,
/// when the first recording starts; Tracer.start).
func installTerminationFlush() {
    _ = gort_signal_flush_install(terminationFlush)
}

/// Runs on the flush thread (never on an M, never in a signal handler): see the design note.
private func terminationFlush(_ signal: Int32, _ crashed: Int32) {
    if crashed != 0 {
        tracer.flushOthersAfterCrash(waitNanoseconds: signalFlushWait)
    } else {
        tracer.stop(waitNanoseconds: signalFlushWait, endSignal: signal)
    }
}
