// SIGQUIT: the goroutine dump Go prints (GoRuntime/StackDump.swift), written from normal context.
//
// Design note
// -----------
// The handler may interrupt any thread anywhere — inside malloc, holding the scheduler's lock — so it does
// only async-signal-safe things: it writes one byte into a pipe. A dedicated *dump thread*, created at
// install with every signal blocked, reads the byte and calls the runtime's callback in normal context,
// which stops the world (every M parks at a schedule point, holding none of the runtime's locks), walks
// every goroutine and writes the dump with write(2), then ends the process. The handler is installed
// unless the program set a handler of its own, which is left alone as Go leaves it. An *ignored* SIGQUIT is
// replaced, as Go's runtime replaces it (it respects an inherited SIG_IGN only for SIGHUP and SIGINT): a
// non-interactive shell starts every `cmd &` with SIGQUIT ignored, so a service started from a script
// would otherwise never dump.
// Rejected: writing the dump from the handler (naming frames and formatting need memory and the
// scheduler's goroutine list, which the interrupted thread may be changing); sigwait on a thread with
// SIGQUIT blocked everywhere else (it would change the signal masks of the program's own threads).
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include "signal_thread.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void (*quit_callback)(void);
static int quit_pipe[2] = {-1, -1};

static void on_quit_signal(int signal) {
    (void)signal;
    int saved = errno;
    char byte = 1;
    // A full pipe means a dump is already on its way.
    ssize_t written = write(quit_pipe[1], &byte, 1);
    (void)written;
    errno = saved;
}

static void *dump_thread(void *unused) {
    (void)unused;
    for (;;) {
        char byte;
        ssize_t got = read(quit_pipe[0], &byte, 1);
        if (got == 1) {
            quit_callback();
            return NULL;
        }
        if (got < 0 && errno == EINTR) continue;
        return NULL;
    }
}

int gort_quit_install(void (*callback)(void)) {
    struct sigaction current;
    if (sigaction(SIGQUIT, NULL, &current) != 0) return -1;
    if ((current.sa_flags & SA_SIGINFO) || (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN)) return 0;
    if (pipe2(quit_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    // The reading end blocks; only the handler's end must never block.
    fcntl(quit_pipe[0], F_SETFL, 0);
    quit_callback = callback;
    if (gort_start_signal_free_thread(dump_thread, 0) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_quit_signal;
    action.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGQUIT, &action, NULL) != 0) return -1;
    // A parent may have left SIGQUIT blocked (Foundation's Process does): the signal would stay pending for
    // good. Unblocked on the calling thread (the one that starts the first run), as Go unblocks the signals
    // it handles; the kernel delivers a process-wide signal to any thread that does not block it.
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGQUIT);
    pthread_sigmask(SIG_UNBLOCK, &quit, NULL);
    return 1;
}

void gort_abort_with_core(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigaction(SIGABRT, &action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGABRT);
    _exit(2);
}

int gort_anonymous_file(void) {
    return memfd_create("gotrace-debug", MFD_CLOEXEC);
}
