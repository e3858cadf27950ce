// CPU sampling: per-thread SIGPROF timers on each thread's CPU clock, and a per-thread ring of samples.
//
// Protocol (a ring per thread, one producer and one consumer, both on that thread):
//   1. The SIGPROF handler (producer) fills the slot at `head`, then publishes it by advancing `head`
//      after a signal fence; a full ring drops the sample and counts it.
//   2. The thread itself (consumer), at scheduling points, reads up to `head`, then advances `tail`.
//      The handler can interrupt the consumer anywhere: it only writes slots the consumer has released.
// The handler touches only its own thread's TLS and the ring: it is async-signal-safe (no locks, no
// allocation, errno preserved). Stack bounds and the running goroutine come from TLS the scheduler sets
// at each switch, so a frame-pointer walk never leaves the running stack.
// Leaf functions keep no frame: the sample starts with the interrupted PC, then the word at the stack
// pointer when it points into executable code (the leaf's return address), then the frame-pointer chain.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/syscall.h>

enum { RING_SIZE = 1024, MAX_CODE_RANGES = 256 };

typedef struct {
    uint64_t goroutine;
    uint32_t depth;
    uint64_t pcs[GORT_SAMPLE_DEPTH];
} sample_t;

typedef struct {
    uint32_t head;
    uint32_t tail;
    uint32_t dropped;
    sample_t samples[RING_SIZE];
} ring_t;

static __thread ring_t *thread_ring __attribute__((tls_model("initial-exec"))) = NULL;
static __thread uint64_t thread_goroutine __attribute__((tls_model("initial-exec"))) = 0;
static __thread uintptr_t thread_low __attribute__((tls_model("initial-exec"))) = 0;
static __thread uintptr_t thread_high __attribute__((tls_model("initial-exec"))) = 0;
static __thread timer_t thread_timer __attribute__((tls_model("initial-exec")));
static __thread bool thread_timer_armed __attribute__((tls_model("initial-exec"))) = false;

// Executable segments, read once when the handler is installed (the leaf heuristic's "is code").
static uintptr_t code_low[MAX_CODE_RANGES], code_high[MAX_CODE_RANGES];
static int code_ranges = 0;

static int collect_code(struct dl_phdr_info *info, size_t size, void *unused) {
    (void)size;
    (void)unused;
    for (int index = 0; index < info->dlpi_phnum && code_ranges < MAX_CODE_RANGES; index++) {
        const ElfW(Phdr) *phdr = &info->dlpi_phdr[index];
        if (phdr->p_type == PT_LOAD && (phdr->p_flags & PF_X)) {
            code_low[code_ranges] = info->dlpi_addr + phdr->p_vaddr;
            code_high[code_ranges] = info->dlpi_addr + phdr->p_vaddr + phdr->p_memsz;
            code_ranges++;
        }
    }
    return 0;
}

static bool is_code(uintptr_t address) {
    for (int index = 0; index < code_ranges; index++)
        if (address >= code_low[index] && address < code_high[index]) return true;
    return false;
}

// Not ASan-checked: it reads the interrupted stack as an unwinder does, and the word at its sp may lie
// in a redzone the interrupted function poisoned (a sanitizer run reported a stack-buffer-underflow here).
__attribute__((no_sanitize("address")))
static void on_sigprof(int signal, siginfo_t *info, void *raw_context) {
    (void)signal;
    (void)info;
    int saved_errno = errno;
    ring_t *ring = thread_ring;
    if (ring == NULL) goto done;
    uint32_t head = ring->head;
    uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
    if (head - tail >= RING_SIZE) {
        ring->dropped++;
        goto done;
    }
    sample_t *sample = &ring->samples[head % RING_SIZE];
    ucontext_t *context = raw_context;
    uintptr_t pc = (uintptr_t)context->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)context->uc_mcontext.gregs[REG_RSP];
    uintptr_t fp = (uintptr_t)context->uc_mcontext.gregs[REG_RBP];
    uintptr_t low = thread_low, high = thread_high;
    uint32_t depth = 0;
    sample->pcs[depth++] = pc;
    bool on_stack = sp >= low && sp + 8 <= high;
    uintptr_t leaf_return = 0;
    if (on_stack) {
        leaf_return = *(const uintptr_t *)sp;
        if (is_code(leaf_return)) sample->pcs[depth++] = leaf_return;
        else leaf_return = 0;
    }
    if (on_stack) {
        uintptr_t floor = sp;
        while (depth < GORT_SAMPLE_DEPTH) {
            if (fp < floor || high < 16 || fp > high - 16 || (fp & 7) != 0) break;  // no wrap: rbp may hold anything
            const uintptr_t *frame = (const uintptr_t *)fp;
            uintptr_t ret = frame[1];
            if (ret == 0) break;
            // The leaf heuristic guessed right and the chain repeats that return address: once is enough.
            if (!(depth == 2 && leaf_return != 0 && ret == leaf_return)) sample->pcs[depth++] = ret;
            if (frame[0] <= fp) break;
            floor = fp;
            fp = frame[0];
        }
    }
    sample->depth = depth;
    sample->goroutine = thread_goroutine;
    __atomic_signal_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&ring->head, head + 1, __ATOMIC_RELAXED);
done:
    errno = saved_errno;
}

void gort_profile_install_handler(void) {
    static bool installed = false;
    if (installed) return;
    installed = true;
    dl_iterate_phdr(collect_code, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigprof;
    // SA_RESTART: a sample must not turn a program's blocking read into EINTR.
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGPROF, &action, NULL);
}

void gort_profile_set_context(uint64_t goroutine, uintptr_t low, uintptr_t high) {
    // The handler may run between these stores: it then sees a mix, whose bounds are still a real
    // stack's (old or new), and at worst stops its walk early.
    thread_low = 0;
    thread_high = 0;
    thread_goroutine = goroutine;
    thread_low = low;
    thread_high = high;
}

int gort_profile_thread_start(int hz) {
    if (hz <= 0) return EINVAL;
    if (thread_ring == NULL) {
        ring_t *ring = calloc(1, sizeof(ring_t));
        if (ring == NULL) return ENOMEM;
        thread_ring = ring;
    }
    if (!thread_timer_armed) {
        struct sigevent event;
        memset(&event, 0, sizeof event);
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = SIGPROF;
        event._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        // The thread's CPU clock: a thread samples only while it runs, as a CPU profile should.
        if (timer_create(CLOCK_THREAD_CPUTIME_ID, &event, &thread_timer) != 0) return errno;
        thread_timer_armed = true;
    }
    long interval = 1000000000L / hz;
    struct itimerspec spec = {{interval / 1000000000L, interval % 1000000000L},
                              {interval / 1000000000L, interval % 1000000000L}};
    if (timer_settime(thread_timer, 0, &spec, NULL) != 0) return errno;
    return 0;
}

void gort_profile_thread_stop(void) {
    if (!thread_timer_armed) return;
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(thread_timer, 0, &off, NULL);
}

size_t gort_profile_drain(gort_sample_visitor visitor, void *context, uint32_t *dropped) {
    ring_t *ring = thread_ring;
    if (dropped) *dropped = 0;
    if (ring == NULL) return 0;
    uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_ACQUIRE);
    uint32_t tail = ring->tail;
    size_t count = 0;
    while (tail != head) {
        sample_t *sample = &ring->samples[tail % RING_SIZE];
        visitor(context, sample->goroutine, sample->pcs, sample->depth);
        tail++;
        count++;
        __atomic_store_n(&ring->tail, tail, __ATOMIC_RELAXED);
    }
    if (dropped) {
        *dropped = ring->dropped;
        ring->dropped = 0;  // a sample dropped right now is lost from the count; it is only a statistic
    }
    return count;
}
