// Flushing the trace when the program is told to terminate (SIGINT, SIGTERM, SIGHUP) or crashes.
//
// Design note
// -----------
// A signal handler may interrupt any thread anywhere — inside malloc, holding the scheduler's lock,
// halfway through writing an event into its M's buffer — so the handler itself does nothing but
// async-signal-safe steps and hands the work to a dedicated *flush thread*, which runs in normal
// context and can take locks and allocate like any other thread:
//   1. At install (tracing starts): for each of SIGINT, SIGTERM and SIGHUP whose disposition is still
//      the default, install `on_termination_signal`; a program that set its own handler, or ignores
//      the signal (nohup, a background job), keeps it. A handler the program installs later replaces
//      ours — then the program decides what the signal does. Also create one watchdog timer per
//      signal (timer_create is not async-signal-safe; timer_settime is) and the flush thread, with
//      every signal blocked, so no handler ever runs on it.
//   2. The handler: restores the default disposition (a second identical signal kills at once),
//      claims the flush (first signal wins; a different termination signal arriving during a flush
//      is re-raised and kills at once), arms that signal's watchdog and writes one byte into a pipe.
//      write, sigaction, timer_settime, raise, getpid are all on POSIX's async-signal-safe list.
//   3. The flush thread reads the byte and calls back into the runtime (Tracer.stopBySignal), which
//      asks every M to flush its own buffer at its next schedule point and waits a bounded time for
//      them (the same protocol as Trace.stop, Tracer.swift), then writes the end chunk. Then it
//      unblocks the signal on itself and raises it: the default action ends the process, so the
//      exit status stays "killed by SIGTERM".
//   4. The watchdog guarantees the signal still kills if the flush hangs (a lock held by a thread
//      that will never release it, a pipe nobody drains): after WATCHDOG_SECONDS it delivers the same
//      signal again, whose disposition is the default by then.
//   5. A child forked without exec inherits the handlers but neither the thread nor the timers: the
//      handler compares getpid() with the installer's pid and, in a child, just restores the default
//      and re-raises.
// Crashes (gort_signal_flush_from_crash, called from the crash handler in unwind.c on the crashing
// thread): the same thread is asked to flush the *other* Ms (the crashing M has flushed its own
// buffer), without an end chunk; the crashing thread waits for it at most CRASH_WAIT_NANOSECONDS,
// sleeping with nanosleep (async-signal-safe), and then chains to the previous handler whatever
// happened. If the crash left a lock held that the flush needs, the flush thread blocks and the wait
// simply expires: the crash is reported a little later, never lost.
//
// Rejected: flushing from the handler itself (sealing a chunk allocates and takes the writer's mutex,
// either of which the interrupted thread may hold); flushing other Ms' buffers from outside while they
// run (the per-event fast path has no atomics, so a reader could see a half-written event; a seqlock
// per event would tax every event to help only at exit); blocking the signals in every thread and
// sigwait-ing on one (the program's own threads and its use of sigprocmask would change — the tracer
// must not change what it observes).
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include "signal_thread.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WATCHDOG_SECONDS = 2 };
static const int64_t CRASH_WAIT_NANOSECONDS = 250000000;  // the flush waits 200 ms for running Ms, plus slack
static const int termination_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { SIGNAL_COUNT = sizeof termination_signals / sizeof termination_signals[0] };

static void (*flush_callback)(int signal, int crashed);
static int wake_pipe[2] = {-1, -1};
static pid_t installer_pid;
static timer_t watchdogs[SIGNAL_COUNT];
static _Atomic int watchdog_ready[SIGNAL_COUNT];
static _Atomic int installed[SIGNAL_COUNT];
/// The signal being flushed for (0: none yet). Claimed once; never reset (the process is ending).
static _Atomic int claimed_signal;
/// Crash flushes: 1 while requested, 2 when the flush thread has finished it.
static _Atomic int crash_flush_state;

static int signal_index(int signal) {
    for (int index = 0; index < SIGNAL_COUNT; index++) {
        if (termination_signals[index] == signal) return index;
    }
    return -1;
}

static void restore_default(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, NULL);
}

static void on_termination_signal(int signal) {
    int saved_errno = errno;
    restore_default(signal);
    int index = signal_index(signal);
    int expected = 0;
    if (getpid() != installer_pid || index < 0
        || !atomic_compare_exchange_strong(&claimed_signal, &expected, signal)) {
        // A forked child without the flush thread, or a flush is already under way: the default
        // action, now.
        raise(signal);
        errno = saved_errno;
        return;
    }
    if (atomic_load(&watchdog_ready[index])) {
        struct itimerspec when;
        memset(&when, 0, sizeof when);
        when.it_value.tv_sec = WATCHDOG_SECONDS;
        timer_settime(watchdogs[index], 0, &when, NULL);
    }
    char byte = 's';
    if (write(wake_pipe[1], &byte, 1) != 1) raise(signal);  // no flush thread to wake: just die
    errno = saved_errno;
}

static void *flush_thread_main(void *unused) {
    (void)unused;
    for (;;) {
        char byte = 0;
        ssize_t count = read(wake_pipe[0], &byte, 1);
        if (count < 0 && errno == EINTR) continue;
        if (count != 1) return NULL;
        if (byte == 'c') {
            flush_callback(0, 1);
            atomic_store(&crash_flush_state, 2);
            continue;  // the crash handler chains on; the process is ending, or survives its "crash"
        }
        int signal = atomic_load(&claimed_signal);
        if (signal == 0) continue;
        flush_callback(signal, 0);
        restore_default(signal);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, signal);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(signal);
        // Not reached: the default action of each of these signals ends the process.
        gort_exit(128 + signal);
    }
}

int gort_signal_flush_install(void (*callback)(int signal, int crashed)) {
    if (flush_callback != NULL) return -1;
    if (pipe2(wake_pipe, O_CLOEXEC) != 0) return -1;
    flush_callback = callback;
    installer_pid = getpid();
    // 512 KiB: Swift code runs on it (the runtime's stop path).
    if (gort_start_signal_free_thread(flush_thread_main, 512 * 1024) != 0) {
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        wake_pipe[0] = wake_pipe[1] = -1;
        flush_callback = NULL;
        return -1;
    }
    int count = 0;
    for (int index = 0; index < SIGNAL_COUNT; index++) {
        int signal = termination_signals[index];
        struct sigaction current;
        if (sigaction(signal, NULL, &current) != 0) continue;
        bool isDefault = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
        if (!isDefault) continue;  // the program's own handler, or SIG_IGN: leave it alone
        struct sigevent event;
        memset(&event, 0, sizeof event);
        event.sigev_notify = SIGEV_SIGNAL;
        event.sigev_signo = signal;
        if (timer_create(CLOCK_MONOTONIC, &event, &watchdogs[index]) == 0) atomic_store(&watchdog_ready[index], 1);
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_termination_signal;
        // SA_RESTART: the program's blocking calls restart as they would have without us.
        action.sa_flags = SA_RESTART | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        for (int other = 0; other < SIGNAL_COUNT; other++) sigaddset(&action.sa_mask, termination_signals[other]);
        if (sigaction(signal, &action, NULL) == 0) {
            atomic_store(&installed[index], 1);
            count++;
        }
    }
    return count;
}

bool gort_signal_flush_is_installed(int signal) {
    int index = signal_index(signal);
    return index >= 0 && atomic_load(&installed[index]) != 0;
}

void gort_signal_flush_from_crash(void) {
    if (flush_callback == NULL || getpid() != installer_pid) return;
    int expected = 0;
    if (atomic_load(&claimed_signal) != 0 || !atomic_compare_exchange_strong(&crash_flush_state, &expected, 1)) return;
    char byte = 'c';
    if (write(wake_pipe[1], &byte, 1) != 1) return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load(&crash_flush_state) == 2) return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t elapsed = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
        if (elapsed >= CRASH_WAIT_NANOSECONDS) return;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}
