// Threads, thread-local storage, the clock and process exit.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include "signal_thread.h"
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

// initial-exec: this code is linked into executables (and the test bundle), where the general
// dynamic model's __tls_get_addr call would cost more than the rest of the accessor.
static __thread void *current_m __attribute__((tls_model("initial-exec"))) = NULL;

__attribute__((noinline)) void *gort_tls_get_m(void) { return current_m; }
__attribute__((noinline)) void gort_tls_set_m(void *m) { current_m = m; }

static __thread int64_t current_scope __attribute__((tls_model("initial-exec"))) = 0;
int64_t gort_tls_get_scope(void) { return current_scope; }
void gort_tls_set_scope(int64_t scope) { current_scope = scope; }

typedef struct { void (*fn)(void *); void *arg; } thread_start_t;

static void *thread_main(void *raw) {
    thread_start_t start = *(thread_start_t *)raw;
    free(raw);
    start.fn(start.arg);
    return NULL;
}

int gort_thread_create(void (*fn)(void *), void *arg, size_t stack_size) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack_size) pthread_attr_setstacksize(&attr, stack_size);
    thread_start_t *start = malloc(sizeof *start);
    if (!start) return ENOMEM;
    start->fn = fn;
    start->arg = arg;
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, thread_main, start);
    pthread_attr_destroy(&attr);
    if (rc != 0) free(start);
    return rc;
}

int64_t gort_nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int gort_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void gort_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

_Noreturn void gort_exit(int status) { _exit(status); }

bool gort_tsc_is_clocksource(void) {
#if defined(__x86_64__)
    FILE *file = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!file) return false;
    char name[32] = {0};
    bool is_tsc = fgets(name, sizeof name, file) != NULL && strncmp(name, "tsc", 3) == 0 &&
                  (name[3] == '\n' || name[3] == 0);
    fclose(file);
    return is_tsc;
#else
    return false;
#endif
}

int gort_start_signal_free_thread(void *(*main)(void *), size_t stack_size) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    if (stack_size > 0) pthread_attr_setstacksize(&attributes, stack_size);
    int created = pthread_create(&thread, &attributes, main, NULL);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return created;
}
