// Frame-pointer stack capture and the module map, for tracing.
//
// Swift and our C code keep frame pointers: each frame starts with [saved rbp][return address].
// The walk trusts nothing it reads: every frame address must lie inside the given stack bounds,
// be 8-byte aligned and be above the previous one, so a corrupt or foreign chain ends the walk
// instead of faulting. Goroutine stacks end in gort_context_trampoline, whose rbp is 0.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <elf.h>

/// The one walk: visits up to `max` return addresses after skipping `skip`, storing each into `pcs` and/or
/// folding it into `*hash` (either may be NULL; inlined with constant arguments, each use keeps only its part).
/// A frame record [saved rbp][return address] must lie in [low, high − 16], 8-byte aligned, each above the last.
static inline __attribute__((always_inline)) size_t walk_frames(
    uintptr_t fp, uint64_t *pcs, uint64_t *hash, size_t max, size_t skip, uintptr_t low, uintptr_t high) {
    if (high < 16 || high - 16 < low) return 0;
    // One unsigned compare for both bounds (no wrap: rbp may hold anything, and fp - low wraps above span).
    const uintptr_t span = high - 16 - low;
    size_t count = 0;
    for (;;) {
        if (fp - low > span || (fp & 7) != 0) break;
        const uintptr_t *frame = (const uintptr_t *)fp;
        uintptr_t next = frame[0];
        uintptr_t pc = frame[1];
        if (pc == 0) break;
        if (skip > 0) skip--;
        else {
            if (count == max) break;
            if (pcs) pcs[count] = pc;
            if (hash) *hash = gort_stack_hash_step(*hash, pc);
            count++;
        }
        if (next <= fp) break;
        fp = next;
    }
    return count;
}

static size_t walk(uintptr_t fp, uint64_t *pcs, size_t max, size_t skip, uintptr_t low, uintptr_t high) {
    return walk_frames(fp, pcs, NULL, max, skip, low, high);
}

__attribute__((noinline))
size_t gort_capture_stack(uint64_t *pcs, size_t max, size_t skip, uintptr_t low, uintptr_t high) {
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    return walk(fp, pcs, max, skip, low, high);
}

// walk_frames with the hash instead of the stores: the same frames, the same stops.
__attribute__((noinline))
uint64_t gort_stack_hash(size_t max, size_t skip, uintptr_t low, uintptr_t high, size_t *count) {
    uint64_t hash = gort_stack_hash_seed();
    *count = walk_frames((uintptr_t)__builtin_frame_address(0), NULL, &hash, max, skip, low, high);
    return hash;
}

size_t gort_capture_suspended_stack(const void *saved_sp, uint64_t *pcs, size_t max, uintptr_t low, uintptr_t high) {
    // gort_context_switch pushed rbp, rbx, r12, r13, r14, r15 then saved rsp; the return address
    // into the parking function sits just above the six registers.
    const uintptr_t *sp = saved_sp;
    if ((uintptr_t)sp < low || (uintptr_t)(sp + 7) > high) return 0;
    uintptr_t rbp = sp[5];
    uintptr_t ret = sp[6];
    size_t count = 0;
    if (max > 0 && ret != 0) pcs[count++] = ret;
    return count + walk(rbp, pcs + count, max - count, 0, low, high);
}

void gort_thread_stack_bounds(uintptr_t *low, uintptr_t *high) {
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    *low = 0;
    *high = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            *low = (uintptr_t)addr;
            *high = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
}

typedef struct { gort_module_visitor visitor; void *context; } visit_state_t;

static void build_id_hex(const struct dl_phdr_info *info, char *out, size_t out_size) {
    out[0] = 0;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *phdr = &info->dlpi_phdr[index];
        if (phdr->p_type != PT_NOTE) continue;
        const char *note = (const char *)(info->dlpi_addr + phdr->p_vaddr);
        const char *end = note + phdr->p_memsz;
        while (note + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *header = (const ElfW(Nhdr) *)note;
            const char *name = note + sizeof(ElfW(Nhdr));
            const unsigned char *desc = (const unsigned char *)(name + ((header->n_namesz + 3) & ~3u));
            if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                size_t length = header->n_descsz;
                if (length * 2 + 1 > out_size) length = (out_size - 1) / 2;
                for (size_t byte = 0; byte < length; byte++) snprintf(out + byte * 2, 3, "%02x", desc[byte]);
                return;
            }
            note = (const char *)desc + ((header->n_descsz + 3) & ~3u);
        }
    }
}

static int visit_one(struct dl_phdr_info *info, size_t size, void *raw) {
    (void)size;
    visit_state_t *state = raw;
    char path[4096];
    const char *name = info->dlpi_name;
    if (name == NULL || name[0] == 0) {
        ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
        if (length <= 0) return 0;
        path[length] = 0;
        name = path;
    }
    if (strncmp(name, "linux-vdso", 10) == 0) return 0;
    char build_id[129];
    build_id_hex(info, build_id, sizeof build_id);
    state->visitor(state->context, name, (uintptr_t)info->dlpi_addr, build_id);
    return 0;
}

void gort_modules_visit(gort_module_visitor visitor, void *context) {
    visit_state_t state = {visitor, context};
    dl_iterate_phdr(visit_one, &state);
}

static void (*crash_handler)(int) = NULL;
static struct sigaction previous_actions[32];
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT};

void gort_run_crash_hook(int signal) {
    void (*handler)(int) = __atomic_exchange_n(&crash_handler, NULL, __ATOMIC_ACQ_REL);
    // Cleared before the call: a crash inside the handler must not recurse.
    if (handler) handler(signal);
}

static void on_crash(int signal, siginfo_t *info, void *context) {
    // A goroutine's stack growing into its guard is no crash (stack.c); this handler may have been
    // installed above the growth handler, so it asks first.
    if (gort_stack_handle_fault(signal, info, context)) return;
    gort_run_crash_hook(signal);
    // Hand the signal to whoever was there before (Swift's backtracer, or the default action).
    // A fault re-executes the faulting instruction on return and so reaches it with its original
    // context; a signal sent by kill or raise (si_code <= 0) must be raised again.
    sigaction(signal, &previous_actions[signal], NULL);
    if (info == NULL || info->si_code <= 0) raise(signal);
}

void gort_install_crash_handler(void (*handler)(int signal)) {
    crash_handler = handler;
    for (size_t index = 0; index < sizeof crash_signals / sizeof crash_signals[0]; index++) {
        int signal = crash_signals[index];
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_crash;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(signal, &action, &previous_actions[signal]);
    }
}

int gort_atexit(void (*fn)(void)) { return atexit(fn); }

int64_t gort_walltime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gort_sigpipe_block(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void gort_sigpipe_unblock(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0) {}
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
