// The stack arena: growable goroutine stacks, their guard, and the shrinking of idle ones.
//
// Vocabulary.
//   slot        a fixed range of address space reserved to one stack: `reserve` bytes that the
//               stack may grow into, above a permanent bottom guard (GUARD_GAP bytes that are
//               never made accessible). Slots are carved out of arenas of ARENA_SLOTS slots, each
//               arena mapped once with MAP_NORESERVE: untouched pages cost nothing.
//   accessible  the top part of a guarded slot that is read-write; everything below it in the
//               slot is PROT_NONE. It starts at `initial` bytes (8 KiB, or GOTRACE_INITIAL_STACK; at
//               most the limit) and doubles on demand.
//   limit       the most a stack may grow to (default 1 MiB, ≤ reserve); past it, a fatal error.
//
// Growth (on_segv, async-signal-safe). A goroutine that runs past its accessible part faults in
// its own slot. The SIGSEGV handler runs on the thread's alternate signal stack (installed on
// every M by gort_signal_stack_install), finds the slot from the fault address with a lock-free
// walk of the arena table, and checks that the faulting thread runs that slot's goroutine (its
// stack pointer lies in the slot, or the thread's current-stack TLS names it: a SIGPROF handler
// reading the stack runs on the alternate stack). It then doubles the accessible part until it
// covers the fault (mprotect, which is async-signal-safe) and returns, which re-executes the
// faulting instruction. A fault that would need more than the limit prints
// `fatal error: stack overflow in goroutine N (limit X)`, runs the crash hook (trace flush) and
// exits with status 2. Any other fault goes to the handler that was there before (the Swift
// runtime's backtracer, which is installed first), so crashes are reported as before.
//
// The map-count budget. A guarded slot is two mappings (its PROT_NONE part and its read-write
// top); growing extends the read-write mapping and adds none. vm.max_map_count (65530 here)
// bounds the mappings of a process, so guards are given within a budget computed from it (half
// of what remains after MAP_COUNT_RESERVE for the program's own mappings). Past it, a slot is
// left entirely read-write — no guard, no growth faults, its neighbour below unprotected — and
// the runtime warns once, naming the sysctl. Unguarded slots merge into one mapping.
//
// Shrinking idle stacks (gort_stack_shrink_idle). A goroutine parked for long has the live bytes
// of its stack, [saved stack pointer, top), copied into a malloc'd buffer of exactly that size,
// and its accessible pages returned with MADV_DONTNEED; before it next runs they are copied back
// to the same addresses, so pointers into its stack stay valid. This is safe because of the
// invariant the whole runtime keeps: NOTHING EVER WRITES INTO ANOTHER GOROUTINE'S STACK. Values
// pass between goroutines through heap records (wait records, channel buffers, timers); a
// parked goroutine's stack is read only by its owner once it runs again, and by the tracer's
// snapshot, which pins the stack first (gort_stack_capture_parked).
//
// Each slot has one atomic state word, (time << 3) | kind, so that the shrinker, the M that
// resumes the goroutine and the tracer agree without a lock. The protocol:
//   1. the goroutine switches to g0; g0 calls gort_stack_did_park (RUNNING → PARKED) BEFORE it
//      releases the park locks, so no waker can resume it before that store;
//   2. the shrinker stamps a PARKED slot with the time when it first sees it (by CAS, so a slot
//      resumed meanwhile is left alone); once the stamp is old enough it claims the slot by CAS
//      (→ SHRINKING), copies and releases it, and publishes SHRUNK with a release store;
//   3. the M that will run the goroutine calls gort_stack_will_run: PARKED → RUNNING by CAS, or
//      SHRUNK → RUNNING and copies back; it spins while the slot is SHRINKING or PINNED (a copy of
//      at most SHRINK_BATCH stacks and one madvise);
//   4. the tracer pins a PARKED or SHRUNK slot (→ PINNED, remembering which) to read it.
// The release store in 1 (partner: the CAS in 2) publishes the stack's bytes to the shrinker;
// the release store in 2 (partner: the acquire CAS in 3) publishes the copy to the resumer.
//
// The idle threshold adapts per slot. A shrink costs a copy, an madvise and, when the goroutine
// resumes, a page fault and a copy back: wasted on a goroutine that parks a little longer than the
// threshold again and again (each of 10,000 goroutines in a ring of channels, parked ~20 ms a lap,
// made every hop 6× slower). So a stack resumed soon after it was shrunk — within 16 thresholds of
// the shrinker's first sighting — at least doubles its slot's threshold, and at once to twice that
// park if more is needed (up to 2^IDLE_SHIFT_MAX times the base): one wasted shrink, not one per
// doubling, before the threshold outgrows the goroutine's parks; one that stayed parked 64 thresholds or
// more halves it again; a retired slot starts over. A goroutine parked for good (an idle connection),
// or for long stretches, is still shrunk after the base threshold.
//
// Cache colouring. A parked goroutine's hottest bytes are the few lines below its stack pointer (the
// registers gort_context_switch saved). Were every slot's top at the same offset modulo a cache's way
// size, those lines would all fall into a few sets of that cache: 1 MiB + 64 KiB slots made every
// stack top congruent modulo 64 KiB, so the tops of a ring of 10,000 goroutines competed for one set of
// L1 and two of a 1 MiB 8-way L2, and missed the last-level cache on every hop (callgrind's cache
// simulation: 3.3 last-level misses per hop; Go's contiguous 2 KiB stacks, none). So a slot spans an
// odd number of pages (a page is added to guard and reserve if need be), so that consecutive tops walk
// through every page offset of a way, and each stack starts `slot_color` bytes (a multiple of 64
// below 4 KiB, from other digits of the slot number) under its slot's top. `stack_top` is that
// coloured top: the stack in use, its live bytes and the copies of a shrunk one are measured from it;
// the page-level bookkeeping (accessible part, growth, release) from `slot_top`.
//
// Rejected: one mapping per goroutine (a million mappings exceed vm.max_map_count); segmented or
// copied stacks as Go has (need precise stack maps to move pointers; Swift has none); shrinking
// at park time (a goroutine parked for microseconds would pay a copy and a page fault).
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum {
    IDLE_SHIFT_MAX = 7,  // 10 ms << 7: at most 1.28 s before a stack that keeps coming back is shrunk
    ARENA_SLOTS = 4096,
    MAX_ARENAS = 4096,
    // Never made accessible, below every slot's growth room: a frame that skips past the limit
    // lands here, not in the neighbour's stack. 64 KiB exceeds any frame our code has.
    GUARD_GAP = 64 * 1024,
    // Mappings left to the program (libraries, malloc arenas, thread stacks) below the sysctl.
    MAP_COUNT_RESERVE = 16384,
    // Slots released per madvise: a resumer may wait for this many copies plus one madvise.
    SHRINK_BATCH = 64,
    // A stack returned to the pool keeps its growth up to this size (its next goroutine is
    // likely to need as much); beyond it the pages are released and the guard restored.
    POOL_KEEP_BYTES = 64 * 1024,
    SIGNAL_STACK_BYTES = 256 * 1024,
};
// The largest limit: sizes are kept in 32-bit fields.
#define LIMIT_CEILING ((size_t)1 << 30)

enum {
    STATE_RUNNING = 0,  // running, runnable, or in a pool: the owner's
    STATE_PARKED = 1,
    STATE_SHRINKING = 2,
    STATE_SHRUNK = 3,
    STATE_PINNED_PARKED = 4,
    STATE_PINNED_SHRUNK = 5,
    STATE_KIND_MASK = 7,
};

typedef struct {
    void *copy;           // SHRUNK: the live bytes, `live` of them
    uint64_t goroutine;   // the goroutine that last ran on the slot (for stack-shrink events)
    uint32_t live;        // PARKED..SHRUNK: bytes from the saved stack pointer to the top
    uint32_t accessible;  // read-write bytes at the top; 0 for an unguarded slot (all of it)
    // The idle threshold is the base shifted left by this (see the design note). Written by the M
    // that resumes or retires the slot, read by the shrinker: relaxed, a stale value only delays or
    // hastens one shrink.
    _Atomic uint8_t idle_shift;
} slot_info_t;

typedef struct {
    char *base;                  // slot 0's lowest address
    _Atomic uint64_t *states;    // ARENA_SLOTS state words, scanned densely by the shrinker
    slot_info_t *info;           // ARENA_SLOTS
    _Atomic uint32_t dirty;      // a goroutine parked here since the shrinker's last scan
    uint32_t young;              // parked slots the last scan found too young (shrinker only)
} arena_t;

static pthread_mutex_t arena_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t shrink_mutex = PTHREAD_MUTEX_INITIALIZER;
static arena_t arenas[MAX_ARENAS];
static _Atomic size_t arena_count = 0;   // published with release after the arena is filled in
// Fixed once the first arena exists (the layout depends on them).
static size_t initial_bytes = 8 * 1024;
static size_t reserve_bytes = 1024 * 1024;
static size_t slot_size = 0;
static _Atomic size_t limit_bytes = 1024 * 1024;
static size_t guard_budget = 0;
static size_t guards_given = 0;
static bool budget_warned = false;
static size_t next_slot = 0;             // slots handed out in the newest arena
static _Atomic size_t slots_allocated = 0;
// Statistics.
static _Atomic size_t shrunk_now = 0, shrunk_bytes_now = 0, shrinks_total = 0, growths_total = 0;
// The shrinker's sleep: see gort_stack_shrinker_sleep.
static _Atomic uint32_t park_seen = 0, shrinker_dormant = 0;
static gort_note_t shrinker_note;
static struct sigaction previous_segv;

static __thread uint32_t current_slot_plus_one __attribute__((tls_model("initial-exec"))) = 0;
static __thread uint64_t current_goroutine __attribute__((tls_model("initial-exec"))) = 0;
// Growth since the goroutine was switched in, for a stack-grow event at its switch-out.
static __thread size_t grown_from __attribute__((tls_model("initial-exec"))) = 0;
static __thread size_t grown_to __attribute__((tls_model("initial-exec"))) = 0;

// The stack-growth fault path runs in a SIGSEGV handler that may interrupt the thread anywhere, including
// inside a sanitizer's runtime while it holds its own locks (ThreadSanitizer's slot lock): instrumented
// code here, even an instrumented atomic load, would then wait on that lock forever. So the fault path is
// never instrumented (the attribute is a no-op in normal builds).
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define GORT_FAULT_PATH __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef GORT_FAULT_PATH
#define GORT_FAULT_PATH
#endif

GORT_FAULT_PATH static size_t page_size(void) {
    static size_t cached = 0;
    if (cached == 0) cached = (size_t)sysconf(_SC_PAGESIZE);
    return cached;
}

static size_t round_to_page(size_t bytes) {
    size_t page = page_size();
    return (bytes + page - 1) / page * page;
}

int64_t gort_nanotime_coarse(void) {
    // ~4 ms resolution, ~10 ns a call (CLOCK_MONOTONIC costs ~60 ns in this VM): plenty for a
    // 10 ms idleness threshold.
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t read_max_map_count(void) {
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 65530;
    char text[32] = {0};
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 65530;
    return (size_t)strtoull(text, NULL, 10);
}

GORT_FAULT_PATH static void on_segv(int signal, siginfo_t *info, void *context);

void gort_stack_configure(size_t initial, size_t limit) {
    pthread_mutex_lock(&arena_mutex);
    if (atomic_load(&arena_count) == 0) {
        size_t page = page_size();
        initial_bytes = round_to_page(initial < 2 * page ? 2 * page : initial);
        if (limit > LIMIT_CEILING) limit = LIMIT_CEILING;
        reserve_bytes = round_to_page(limit < initial_bytes ? initial_bytes : limit);
        atomic_store(&limit_bytes, reserve_bytes);
        size_t maps = read_max_map_count();
        guard_budget = maps > MAP_COUNT_RESERVE ? (maps - MAP_COUNT_RESERVE) / 2 : 0;
    }
    pthread_mutex_unlock(&arena_mutex);
}

size_t gort_stack_limit(void) { return atomic_load(&limit_bytes); }
size_t gort_stack_reserve(void) { return reserve_bytes; }

bool gort_stack_set_limit(size_t limit, size_t *previous) {
    pthread_mutex_lock(&arena_mutex);
    *previous = atomic_load(&limit_bytes);
    bool ok = true;
    if (limit > LIMIT_CEILING) limit = LIMIT_CEILING;
    size_t rounded = round_to_page(limit < initial_bytes ? initial_bytes : limit);
    if (atomic_load(&arena_count) == 0) {
        reserve_bytes = rounded;
    } else if (rounded > reserve_bytes) {
        ok = false;
    }
    if (ok) atomic_store(&limit_bytes, rounded);
    pthread_mutex_unlock(&arena_mutex);
    return ok;
}

static void install_segv_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    // SA_ONSTACK: an overflowing goroutine has no stack left to run a handler on.
    // SA_NODEFER: a fault inside a handler chained to (the backtracer) must still be delivered.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
}

static inline char *slot_top(const arena_t *arena, size_t index);
static inline char *stack_top(const arena_t *arena, size_t index);

#if defined(GORT_SANITIZER_FIBERS)
// LeakSanitizer's check at exit scans every root region. A whole arena is one, and a slot beyond the
// guard budget is read-write in full, so after a million goroutines the scan read terabytes of zero
// pages (and built gigabytes of page tables). This runs first (atexit order: LSan installed its check
// before main) and leaves as roots only the slots in use: a parked stack from its saved stack pointer,
// a running or runnable one over its read-write part. A slot is in use while `goroutine` is set
// (gort_stack_will_run to gort_stack_retire); a shrunk stack's copy is heap memory, reachable through
// the tables, which stay registered. Other Ms may still run meanwhile; a goroutine that parks, grows or
// starts after this pass may keep a reference LSan does not see (a false report, never a missed one).
// Not TSan-checked: those Ms write the slot fields it reads (a retiring M clears `goroutine`), a race this
// pass accepts by design (its worst outcome is the false report above); ThreadSanitizer reported it once,
// from a test's child process that exited with an M still retiring a goroutine.
__attribute__((no_sanitize("thread")))
static void narrow_leak_roots_at_exit(void) {
    size_t count = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (size_t a = 0; a < count; a++) {
        arena_t *arena = &arenas[a];
        gort_sanitizer_unroot_region(arena->base, slot_size * ARENA_SLOTS);
        for (size_t index = 0; index < ARENA_SLOTS; index++) {
            const slot_info_t *info = &arena->info[index];
            if (info->goroutine == 0) continue;
            uint64_t kind = atomic_load_explicit(&arena->states[index], memory_order_acquire) & STATE_KIND_MASK;
            if (kind == STATE_SHRUNK || kind == STATE_PINNED_SHRUNK) continue;
            // A running stack: its whole accessible part; a parked one: its live bytes under its coloured top.
            char *top = kind == STATE_RUNNING ? slot_top(arena, index) : stack_top(arena, index);
            size_t bytes = kind == STATE_RUNNING ? (info->accessible != 0 ? info->accessible : reserve_bytes) : info->live;
            if (bytes > 0) gort_sanitizer_root_region(top - bytes, bytes);
        }
    }
}
#endif

// Lock held. Maps a new arena and its per-slot tables; false when the address space is exhausted.
static bool add_arena(void) {
    size_t count = atomic_load_explicit(&arena_count, memory_order_relaxed);
    if (count == MAX_ARENAS) return false;
    if (count == 0) {
        // An odd number of pages, one more than guard and reserve if need be (see "Cache colouring").
        slot_size = GUARD_GAP + reserve_bytes;
        if ((slot_size / page_size()) % 2 == 0) slot_size += page_size();
        install_segv_handler();
#if defined(GORT_SANITIZER_FIBERS)
        atexit(narrow_leak_roots_at_exit);
#endif
    }
    size_t bytes = slot_size * ARENA_SLOTS;
    void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return false;
    size_t table_bytes = ARENA_SLOTS * (sizeof(uint64_t) + sizeof(slot_info_t));
    void *tables = mmap(NULL, table_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (tables == MAP_FAILED) {
        munmap(memory, bytes);
        return false;
    }
    // LeakSanitizer: goroutine stacks hold roots, and a shrunk stack's heap copy is reachable only
    // through its slot's entry in the tables.
    gort_sanitizer_stack_arena_mapped(memory, bytes);
    gort_sanitizer_stack_arena_mapped(tables, table_bytes);
    arena_t *arena = &arenas[count];
    arena->base = memory;
    arena->states = tables;
    arena->info = (slot_info_t *)((char *)tables + ARENA_SLOTS * sizeof(uint64_t));
    atomic_store(&arena->dirty, 0);
    arena->young = 0;
    next_slot = 0;
    // Partner: the acquire loads of arena_count in find_slot (signal handler) and the shrinker.
    atomic_store_explicit(&arena_count, count + 1, memory_order_release);
    return true;
}

// Copies a parked goroutine's live stack bytes to or from its heap copy. Under AddressSanitizer the
// stack's frames carry poisoned redzones in the shadow memory, so an intercepted memcpy would report this
// whole-region copy as an overflow: the copy is uninstrumented and volatile (so the compiler cannot turn
// it back into a call to the intercepted memcpy). Outside ASan it is plain memcpy.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_STACK_COPY_UNINSTRUMENTED 1
#endif
#endif
#ifdef GORT_STACK_COPY_UNINSTRUMENTED
__attribute__((no_sanitize("address"))) static void copy_stack_bytes(void *to, const void *from, size_t count) {
    volatile unsigned char *destination = to;
    const volatile unsigned char *source = from;
    for (size_t index = 0; index < count; index++) destination[index] = source[index];
}
#else
static inline void copy_stack_bytes(void *to, const void *from, size_t count) { memcpy(to, from, count); }
#endif

static inline char *slot_top(const arena_t *arena, size_t index) {
    return arena->base + (index + 1) * slot_size;
}

// How far below its slot's top a stack starts: 64 line offsets, taken from the slot number's digits
// above the 32 page offsets of a 128 KiB way (a 1 MiB 8-way L2) that consecutive slots already walk
// through (see "Cache colouring").
static inline size_t slot_color(size_t index) { return ((index / 32) % 64) * 64; }

// The top of the stack in use (16-byte aligned): what gort_stack_t.top says and live bytes count from.
static inline char *stack_top(const arena_t *arena, size_t index) {
    return slot_top(arena, index) - slot_color(index);
}

bool gort_stack_alloc(gort_stack_t *out) {
    pthread_mutex_lock(&arena_mutex);
    if (slot_size == 0 || next_slot == ARENA_SLOTS) {
        if (!add_arena()) {
            pthread_mutex_unlock(&arena_mutex);
            return false;
        }
    }
    size_t arena_index = atomic_load_explicit(&arena_count, memory_order_relaxed) - 1;
    arena_t *arena = &arenas[arena_index];
    size_t index = next_slot++;
    char *base = arena->base + index * slot_size;
    char *top = stack_top(arena, index);
    bool guarded = false;
    if (guards_given < guard_budget) {
        if (mprotect(base, slot_size - initial_bytes, PROT_NONE) == 0) {
            guards_given++;
            guarded = true;
        }
    } else if (!budget_warned) {
        budget_warned = true;
        static const char message[] =
            "gotrace runtime: warning: the guard-page budget is used up (each guarded goroutine stack costs "
            "two mappings and vm.max_map_count limits them); new goroutine stacks run without a guard, so "
            "an overflow of one goes undetected. Raise the limit with `sysctl -w vm.max_map_count=N`.\n";
        gort_write_all(2, message, sizeof message - 1);
    }
    arena->info[index].accessible = guarded ? (uint32_t)initial_bytes : 0;
    atomic_store_explicit(&arena->states[index], STATE_RUNNING, memory_order_relaxed);
    atomic_fetch_add(&slots_allocated, 1);
    pthread_mutex_unlock(&arena_mutex);
    out->base = base;
    out->top = top;
    out->slot = (uint32_t)(arena_index * ARENA_SLOTS + index);
    out->guarded = guarded;
    return true;
}

GORT_FAULT_PATH static inline arena_t *arena_of(uint32_t slot, size_t *index) {
    *index = slot % ARENA_SLOTS;
    return &arenas[slot / ARENA_SLOTS];
}

// ---------------------------------------------------------------- growth (signal handler)

// Async-signal-safe: reads only published arenas. Returns the arena holding `address`.
GORT_FAULT_PATH static arena_t *find_slot(uintptr_t address, size_t *index) {
    size_t count = atomic_load_explicit(&arena_count, memory_order_acquire);
    for (size_t a = 0; a < count; a++) {
        uintptr_t low = (uintptr_t)arenas[a].base;
        if (address >= low && address < low + slot_size * ARENA_SLOTS) {
            *index = (address - low) / slot_size;
            return &arenas[a];
        }
    }
    return NULL;
}

// Async-signal-safe formatting for the overflow message.
GORT_FAULT_PATH static size_t format_unsigned(char *out, uint64_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

GORT_FAULT_PATH static size_t format_size(char *out, uint64_t bytes) {
    size_t n;
    if (bytes % (1024 * 1024) == 0) {
        n = format_unsigned(out, bytes / (1024 * 1024));
        memcpy(out + n, " MiB", 4);
        return n + 4;
    }
    if (bytes % 1024 == 0) {
        n = format_unsigned(out, bytes / 1024);
        memcpy(out + n, " KiB", 4);
        return n + 4;
    }
    n = format_unsigned(out, bytes);
    memcpy(out + n, " bytes", 6);
    return n + 6;
}

GORT_FAULT_PATH static _Noreturn void die_of_overflow(uint64_t goroutine, size_t limit) {
    char message[160];
    static const char head[] = "fatal error: stack overflow in goroutine ";
    size_t n = sizeof head - 1;
    memcpy(message, head, n);
    n += format_unsigned(message + n, goroutine);
    memcpy(message + n, " (limit ", 8);
    n += 8;
    n += format_size(message + n, limit);
    message[n++] = ')';
    message[n++] = '\n';
    gort_write_all(2, message, n);
    gort_run_crash_hook(SIGSEGV);  // flushes the trace, if one is being written
    _exit(2);
}

// Grows the running goroutine's stack when `address` lies in its slot's inaccessible part.
// Returns false for any fault that is not such a growth (the caller passes it on).
GORT_FAULT_PATH static bool grow_for_fault(uintptr_t address, uintptr_t stack_pointer) {
    size_t index;
    arena_t *arena = find_slot(address, &index);
    if (arena == NULL) return false;
    slot_info_t *info = &arena->info[index];
    if (info->accessible == 0) return false;  // unguarded: nothing below the top is protected
    uintptr_t top = (uintptr_t)slot_top(arena, index);
    uintptr_t base = top - slot_size;
    uint32_t slot = (uint32_t)((size_t)(arena - arenas) * ARENA_SLOTS + index);
    bool runs_here = (stack_pointer >= base && stack_pointer < top) || current_slot_plus_one == slot + 1;
    if (!runs_here) return false;
    if (address >= top - info->accessible) return false;  // accessible: not a growth fault
    size_t needed = top - (address & ~(uintptr_t)(page_size() - 1));
    size_t limit = atomic_load_explicit(&limit_bytes, memory_order_relaxed);
    if (needed > limit) die_of_overflow(current_goroutine, limit);
    size_t grown = info->accessible;
    while (grown < needed) grown *= 2;
    if (grown > limit) grown = limit;
    if (mprotect((void *)(top - grown), grown - info->accessible, PROT_READ | PROT_WRITE) != 0) return false;
    if (grown_from == 0) grown_from = info->accessible;
    grown_to = grown;
    info->accessible = (uint32_t)grown;
    atomic_fetch_add_explicit(&growths_total, 1, memory_order_relaxed);
    return true;
}

GORT_FAULT_PATH bool gort_stack_handle_fault(int signal, void *raw_info, void *raw_context) {
    siginfo_t *info = raw_info;
    if (signal != SIGSEGV || info == NULL || info->si_code <= 0 || raw_context == NULL) return false;
    ucontext_t *context = raw_context;
    int saved_errno = errno;
    bool handled = grow_for_fault((uintptr_t)info->si_addr, (uintptr_t)context->uc_mcontext.gregs[REG_RSP]);
    errno = saved_errno;
    return handled;
}

GORT_FAULT_PATH static void on_segv(int signal, siginfo_t *info, void *context) {
    if (gort_stack_handle_fault(signal, info, context)) return;
    // Not ours: hand it to the handler that was installed before us.
    if (previous_segv.sa_flags & SA_SIGINFO) {
        if (previous_segv.sa_sigaction != NULL) {
            previous_segv.sa_sigaction(signal, info, context);
            return;
        }
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(signal);
        return;
    }
    // The default action: restore it; a fault re-executes and kills, a sent signal is raised again.
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &fallback, NULL);
    if (info == NULL || info->si_code <= 0) raise(signal);
}

bool gort_signal_stack_install(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_size >= SIGNAL_STACK_BYTES)
        return true;
    size_t page = page_size();
    // A guard page below, so that a handler overflowing it faults instead of corrupting memory.
    char *memory = mmap(NULL, SIGNAL_STACK_BYTES + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return false;
    mprotect(memory, page, PROT_NONE);
    stack_t stack = {.ss_sp = memory + page, .ss_size = SIGNAL_STACK_BYTES, .ss_flags = 0};
    return sigaltstack(&stack, NULL) == 0;
}

// ---------------------------------------------------------------- park, run, shrink

void gort_stack_shrinker_wake(void) {
    if (atomic_load_explicit(&park_seen, memory_order_relaxed) != 0) return;
    // Dekker with gort_stack_shrinker_sleep: set our flag, then look at theirs.
    atomic_store(&park_seen, 1);
    if (atomic_load(&shrinker_dormant) != 0) {
        uint32_t expected = 1;
        if (atomic_compare_exchange_strong(&shrinker_dormant, &expected, 0)) gort_note_wakeup(&shrinker_note);
    }
}

// A shrink batch takes microseconds, but the shrinker may be preempted in the middle of one:
// spin a little, then give the CPU away (to it, if it waits for this CPU).
static void wait_briefly(unsigned *spins) {
    if (++*spins < 100) gort_cpu_relax();
    else gort_os_yield();
}

void gort_stack_did_park(uint32_t slot, const void *saved_sp) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    uintptr_t top = (uintptr_t)stack_top(arena, index);
    arena->info[index].live = (uint32_t)(top - (uintptr_t)saved_sp);
    // No time yet: the shrinker stamps the slot when it first sees it parked, which keeps a clock
    // read off this path (every park pays it; goroutines parked for microseconds are never seen).
    uint64_t word = STATE_PARKED;
    // Release: the stack's bytes and `live` before the state (partner: the shrinker's CAS).
    atomic_store_explicit(&arena->states[index], word, memory_order_release);
    if (atomic_load_explicit(&arena->dirty, memory_order_relaxed) == 0)
        atomic_store_explicit(&arena->dirty, 1, memory_order_relaxed);
    gort_stack_shrinker_wake();
}

// The base idle threshold the shrinker was last called with (gort_stack_shrink_idle's min_idle_ns).
static _Atomic int64_t base_idle_ns = 10000000;

// On resuming a shrunk stack: `word` is its SHRUNK state word, stamped with the shrinker's first
// sighting of the park. See "The idle threshold adapts per slot" above.
static void adapt_idle_threshold(slot_info_t *info, uint64_t word) {
    int64_t parked = gort_nanotime_coarse() - (int64_t)(word >> 3);
    unsigned shift = atomic_load_explicit(&info->idle_shift, memory_order_relaxed);
    int64_t threshold = atomic_load_explicit(&base_idle_ns, memory_order_relaxed) << shift;
    if (parked < 16 * threshold && shift < IDLE_SHIFT_MAX) {
        unsigned raised = shift + 1;
        while (raised < IDLE_SHIFT_MAX && (threshold << (raised - shift)) < 2 * parked) raised++;
        atomic_store_explicit(&info->idle_shift, (uint8_t)raised, memory_order_relaxed);
    } else if (parked >= 64 * threshold && shift > 0)
        atomic_store_explicit(&info->idle_shift, (uint8_t)(shift - 1), memory_order_relaxed);
}

void gort_stack_will_run(uint32_t slot, uint64_t goroutine) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    current_slot_plus_one = slot + 1;
    current_goroutine = goroutine;
    grown_from = 0;
    // Written only when the slot changes hands: a goroutine resuming its own slot leaves it alone, since
    // the shrinker may be reading it (flush_batch) while this thread waits out a SHRINKING state below.
    if (arena->info[index].goroutine != goroutine) arena->info[index].goroutine = goroutine;
    _Atomic uint64_t *state = &arena->states[index];
    uint64_t word = atomic_load_explicit(state, memory_order_acquire);
    unsigned spins = 0;
    for (;;) {
        switch (word & STATE_KIND_MASK) {
        case STATE_RUNNING:
            return;  // a fresh or yielded goroutine
        case STATE_PARKED:
            if (atomic_compare_exchange_weak_explicit(state, &word, STATE_RUNNING, memory_order_acquire,
                                                      memory_order_acquire))
                return;
            continue;
        case STATE_SHRUNK:
            if (atomic_compare_exchange_weak_explicit(state, &word, STATE_RUNNING, memory_order_acquire,
                                                      memory_order_acquire)) {
                slot_info_t *info = &arena->info[index];
                char *top = stack_top(arena, index);
                // Safety: the slot is reserved to this goroutine and its pages are read-write down
                // to `live` (accessible never shrinks while a stack is shrunk).
                copy_stack_bytes(top - info->live, info->copy, info->live);
                free(info->copy);
                info->copy = NULL;
                atomic_fetch_sub(&shrunk_now, 1);
                atomic_fetch_sub(&shrunk_bytes_now, info->live);
                adapt_idle_threshold(info, word);
                return;
            }
            continue;
        default:  // SHRINKING or PINNED: a short copy is under way
            wait_briefly(&spins);
            word = atomic_load_explicit(state, memory_order_acquire);
            continue;
        }
    }
}

bool gort_stack_take_growth(uint64_t *goroutine, uint64_t *old_bytes, uint64_t *new_bytes) {
    if (grown_from == 0) return false;
    *goroutine = current_goroutine;
    *old_bytes = grown_from;
    *new_bytes = grown_to;
    grown_from = 0;
    return true;
}

void gort_stack_retire(uint32_t slot) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    slot_info_t *info = &arena->info[index];
    if (current_slot_plus_one == slot + 1) current_slot_plus_one = 0;
    info->goroutine = 0;  // not in use (a snapshot's stale slot number no longer matches)
    atomic_store_explicit(&info->idle_shift, 0, memory_order_relaxed);  // the next goroutine starts over
    if (info->accessible <= POOL_KEEP_BYTES) return;
    char *top = slot_top(arena, index);
    madvise(top - info->accessible, info->accessible - initial_bytes, MADV_DONTNEED);
    mprotect(top - info->accessible, info->accessible - initial_bytes, PROT_NONE);
    info->accessible = (uint32_t)initial_bytes;
}

// Shrinker only. Returns the bytes to release for a slot, from its lowest read-write page up.
static size_t release_span(const slot_info_t *info) {
    return info->accessible != 0 ? info->accessible : reserve_bytes;
}

void gort_stack_release_pooled(const uint32_t *slots, size_t count) {
    size_t run = 0;
    while (run < count) {
        // One madvise per run of consecutive slots in one arena.
        size_t end = run + 1;
        while (end < count && slots[end] == slots[end - 1] + 1 && slots[end] % ARENA_SLOTS != 0) end++;
        size_t first_index, last_index;
        arena_t *arena = arena_of(slots[run], &first_index);
        arena_of(slots[end - 1], &last_index);
        char *low = slot_top(arena, first_index) - release_span(&arena->info[first_index]);
        madvise(low, (size_t)(slot_top(arena, last_index) - low), MADV_DONTNEED);
        run = end;
    }
}

typedef struct {
    arena_t *arena;
    size_t first, count;   // consecutive slots claimed (SHRINKING), copies made
    uint64_t words[SHRINK_BATCH];
} batch_t;

static void flush_batch(batch_t *batch, gort_shrink_visitor visitor, void *context) {
    if (batch->count == 0) return;
    arena_t *arena = batch->arena;
    size_t last = batch->first + batch->count - 1;
    char *low = slot_top(arena, batch->first) - release_span(&arena->info[batch->first]);
    char *high = slot_top(arena, last);
    madvise(low, (size_t)(high - low), MADV_DONTNEED);
    // What the visitor reports, read while the slots are still SHRINKING: once SHRUNK is published, the
    // goroutine may run again and change these fields (ThreadSanitizer saw the resume's writes race the
    // reads that used to follow the publication).
    uint64_t goroutines[SHRINK_BATCH], old_bytes[SHRINK_BATCH], new_bytes[SHRINK_BATCH];
    if (visitor) {
        for (size_t i = 0; i < batch->count; i++) {
            const slot_info_t *info = &arena->info[batch->first + i];
            goroutines[i] = info->goroutine;
            old_bytes[i] = info->accessible ? info->accessible : round_to_page(info->live);
            new_bytes[i] = info->live;
        }
    }
    for (size_t i = 0; i < batch->count; i++) {
        uint64_t word = (batch->words[i] & ~(uint64_t)STATE_KIND_MASK) | STATE_SHRUNK;
        // Release: the copy before SHRUNK (partner: the acquire CAS in gort_stack_will_run).
        atomic_store_explicit(&arena->states[batch->first + i], word, memory_order_release);
    }
    if (visitor) {
        for (size_t i = 0; i < batch->count; i++) visitor(context, goroutines[i], old_bytes[i], new_bytes[i]);
    }
    batch->count = 0;
}

size_t gort_stack_shrink_idle(int64_t min_idle_ns, int64_t *next_due, gort_shrink_visitor visitor, void *context) {
    pthread_mutex_lock(&shrink_mutex);
    atomic_store(&park_seen, 0);
    atomic_store_explicit(&base_idle_ns, min_idle_ns, memory_order_relaxed);
    int64_t now = gort_nanotime_coarse();
    int64_t earliest = INT64_MAX;
    size_t shrunk = 0;
    size_t count = atomic_load_explicit(&arena_count, memory_order_acquire);
    batch_t batch = {0};
    for (size_t a = 0; a < count; a++) {
        arena_t *arena = &arenas[a];
        // Clear first: a park during the scan sets it again and is seen next time.
        if (atomic_exchange(&arena->dirty, 0) == 0 && arena->young == 0) continue;
        arena->young = 0;
        batch.arena = arena;
        for (size_t index = 0; index < ARENA_SLOTS; index++) {
            uint64_t word = atomic_load_explicit(&arena->states[index], memory_order_relaxed);
            if ((word & STATE_KIND_MASK) != STATE_PARKED) {
                if (batch.count) flush_batch(&batch, visitor, context);
                continue;
            }
            int64_t since = (int64_t)(word >> 3);
            int64_t idle_ns = min_idle_ns << atomic_load_explicit(&arena->info[index].idle_shift, memory_order_relaxed);
            if (since == 0) {
                // First sighting: stamp it (a failed CAS means it resumed meanwhile).
                if (atomic_compare_exchange_strong_explicit(&arena->states[index], &word,
                                                            ((uint64_t)now << 3) | STATE_PARKED,
                                                            memory_order_relaxed, memory_order_relaxed)) {
                    arena->young++;
                    if (now + idle_ns < earliest) earliest = now + idle_ns;
                }
                if (batch.count) flush_batch(&batch, visitor, context);
                continue;
            }
            if (now - since < idle_ns) {
                arena->young++;
                if (since + idle_ns < earliest) earliest = since + idle_ns;
                if (batch.count) flush_batch(&batch, visitor, context);
                continue;
            }
            if (batch.count && (batch.first + batch.count != index || batch.count == SHRINK_BATCH)) flush_batch(&batch, visitor, context);
            if (!atomic_compare_exchange_strong_explicit(&arena->states[index], &word,
                                                         (word & ~(uint64_t)STATE_KIND_MASK) | STATE_SHRINKING,
                                                         memory_order_acquire, memory_order_relaxed)) {
                if (batch.count) flush_batch(&batch, visitor, context);
                continue;  // resumed meanwhile
            }
            slot_info_t *info = &arena->info[index];
            char *top = stack_top(arena, index);
            void *copy = malloc(info->live ? info->live : 1);
            if (copy == NULL) {
                atomic_store_explicit(&arena->states[index], word, memory_order_release);  // stays PARKED
                arena->young++;  // retried next pass
                if (batch.count) flush_batch(&batch, visitor, context);
                continue;
            }
            // Safety: the goroutine is parked and its state is SHRINKING, so nobody runs or reads
            // the stack; [top - live, top) is what it had in use when it parked.
            copy_stack_bytes(copy, top - info->live, info->live);
            info->copy = copy;
            if (batch.count == 0) batch.first = index;
            batch.words[batch.count++] = word;
            shrunk++;
            atomic_fetch_add(&shrunk_now, 1);
            atomic_fetch_add(&shrunk_bytes_now, info->live);
            atomic_fetch_add(&shrinks_total, 1);
        }
        flush_batch(&batch, visitor, context);
    }
    pthread_mutex_unlock(&shrink_mutex);
    if (next_due) *next_due = earliest == INT64_MAX ? -1 : earliest;
    return shrunk;
}

void gort_stack_shrinker_sleep(int64_t until_ns) {
    gort_note_clear(&shrinker_note);
    if (until_ns >= 0) {
        int64_t left = until_ns - gort_nanotime_coarse();
        if (left > 0) gort_note_timed_sleep(&shrinker_note, left);
        return;
    }
    // Dekker with gort_stack_did_park: set our flag, then look at theirs.
    atomic_store(&shrinker_dormant, 1);
    if (atomic_load(&park_seen) != 0) {
        atomic_store(&shrinker_dormant, 0);
        return;
    }
    gort_note_sleep(&shrinker_note);
}

// ---------------------------------------------------------------- reading a parked stack

static size_t walk_copy(const char *copy, uintptr_t low, uintptr_t high, uintptr_t fp, uint64_t *pcs, size_t max) {
    size_t count = 0;
    while (count < max) {
        if (fp < low || high < 16 || fp > high - 16 || (fp & 7) != 0) break;  // no wrap: rbp may hold anything
        const uintptr_t *frame = (const uintptr_t *)(copy + (fp - low));
        uintptr_t next = frame[0], pc = frame[1];
        if (pc == 0) break;
        pcs[count++] = pc;
        if (next <= fp) break;
        fp = next;
    }
    return count;
}

int64_t gort_stack_parked_since(uint32_t slot) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    // Relaxed: a time stamp read for display; the stamp survives SHRINKING, SHRUNK and the pins (they
    // change only the kind bits), and RUNNING has none.
    uint64_t word = atomic_load_explicit(&arena->states[index], memory_order_relaxed);
    return (word & STATE_KIND_MASK) == STATE_RUNNING ? 0 : (int64_t)(word >> 3);
}

size_t gort_stack_capture_parked(uint32_t slot, uint64_t goroutine, uint64_t *pcs, size_t max) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    _Atomic uint64_t *state = &arena->states[index];
    uint64_t word = atomic_load_explicit(state, memory_order_acquire);
    unsigned spins = 0;
    uint64_t pinned;
    for (;;) {
        uint64_t kind = word & STATE_KIND_MASK;
        if (kind == STATE_PARKED) pinned = STATE_PINNED_PARKED;
        else if (kind == STATE_SHRUNK) pinned = STATE_PINNED_SHRUNK;
        else if (kind == STATE_SHRINKING) {
            wait_briefly(&spins);
            word = atomic_load_explicit(state, memory_order_acquire);
            continue;
        } else return 0;  // running again, or pinned by another reader
        if (atomic_compare_exchange_weak_explicit(state, &word, (word & ~(uint64_t)STATE_KIND_MASK) | pinned,
                                                  memory_order_acquire, memory_order_acquire))
            break;
    }
    slot_info_t *info = &arena->info[index];
    size_t count = 0;
    // The caller's slot number may be stale (read without a lock): the slot may hold another
    // goroutine's stack by now. Its owner was written before the park that the pin acquired.
    if (info->goroutine != goroutine) goto unpin;
    uintptr_t top = (uintptr_t)stack_top(arena, index);
    uintptr_t sp = top - info->live;
    // Safety: pinned, the stack (or its copy) cannot change. The frame gort_context_switch left at
    // sp: six saved registers (rbp is the sixth) and the return address.
    const char *bytes = pinned == STATE_PINNED_SHRUNK ? info->copy : (const char *)sp;
    if (info->live >= 7 * sizeof(uintptr_t) && max > 0) {
        const uintptr_t *saved = (const uintptr_t *)bytes;
        uintptr_t rbp = saved[5], ret = saved[6];
        if (ret != 0) pcs[count++] = ret;
        count += walk_copy(bytes, sp, top, rbp, pcs + count, max - count);
    }
unpin:
    // Release: our reads before the unpin (partner: the acquire load in gort_stack_will_run).
    atomic_store_explicit(state, (word & ~(uint64_t)STATE_KIND_MASK) | (pinned == STATE_PINNED_SHRUNK ? STATE_SHRUNK : STATE_PARKED),
                          memory_order_release);
    // A scan that skipped the pinned slot must come back to it.
    if (pinned == STATE_PINNED_PARKED) atomic_store_explicit(&arena->dirty, 1, memory_order_relaxed);
    return count;
}

// ---------------------------------------------------------------- statistics

void gort_stack_statistics(gort_stack_statistics_t *out) {
    pthread_mutex_lock(&arena_mutex);
    out->guarded_slots = guards_given;
    out->guard_budget = guard_budget;
    pthread_mutex_unlock(&arena_mutex);
    out->slots = atomic_load(&slots_allocated);
    out->shrunk_stacks = atomic_load(&shrunk_now);
    out->shrunk_bytes = atomic_load(&shrunk_bytes_now);
    out->shrinks = atomic_load(&shrinks_total);
    out->growths = atomic_load(&growths_total);
    out->limit = atomic_load(&limit_bytes);
    out->reserve = reserve_bytes;
    out->initial = initial_bytes;
}

int gort_stack_slot_state(uint32_t slot) {
    size_t index;
    arena_t *arena = arena_of(slot, &index);
    return (int)(atomic_load(&arena->states[index]) & STATE_KIND_MASK);
}

bool gort_stack_guard_budget_exhausted(void) {
    pthread_mutex_lock(&arena_mutex);
    bool result = budget_warned;
    pthread_mutex_unlock(&arena_mutex);
    return result;
}

size_t gort_stack_slots_allocated(void) { return atomic_load(&slots_allocated); }
