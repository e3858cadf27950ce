// The stack arena.
//
// Design: slots of a fixed size are carved, bottom to top, out of arenas of ARENA_SLOTS slots
// each mapped once with MAP_NORESERVE, so an untouched page costs nothing and one goroutine
// costs one VMA at most. A guard page (PROT_NONE) at the bottom of a slot splits the arena's
// mapping, and vm.max_map_count (65530 by default) bounds the number of mappings of a process:
// guards are therefore given out only within a budget, and past it new slots run without a guard
// and we warn once, naming the sysctl. Slots are never unmapped: the Swift side recycles them.
#include "CGoRuntime.h"
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

enum { ARENA_SLOTS = 1024 };

static pthread_mutex_t arena_mutex = PTHREAD_MUTEX_INITIALIZER;
static size_t slot_size = 256 * 1024;
static size_t guard_budget = 24000;
static size_t guards_given = 0;
static bool budget_warned = false;
static char *arena_next = NULL;   // next unused slot in the current arena
static char *arena_end = NULL;
static size_t slots_allocated = 0;

static size_t page_size(void) {
    static size_t cached = 0;
    if (cached == 0) cached = (size_t)sysconf(_SC_PAGESIZE);
    return cached;
}

void gort_stack_configure(size_t size, size_t budget) {
    pthread_mutex_lock(&arena_mutex);
    size_t page = page_size();
    slot_size = (size + page - 1) / page * page;
    if (slot_size < 4 * page) slot_size = 4 * page;
    guard_budget = budget;
    pthread_mutex_unlock(&arena_mutex);
}

bool gort_stack_alloc(gort_stack_t *out) {
    pthread_mutex_lock(&arena_mutex);
    if (arena_next == arena_end) {
        size_t bytes = slot_size * ARENA_SLOTS;
        void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
            pthread_mutex_unlock(&arena_mutex);
            return false;
        }
        arena_next = mem;
        arena_end = (char *)mem + bytes;
        gort_sanitizer_stack_arena_mapped(mem, bytes);  // LeakSanitizer: goroutine stacks hold roots
    }
    char *base = arena_next;
    arena_next += slot_size;
    slots_allocated++;
    bool guarded = false;
    if (guards_given < guard_budget) {
        if (mprotect(base, page_size(), PROT_NONE) == 0) {
            guards_given++;
            guarded = true;
        }
    } else if (!budget_warned) {
        budget_warned = true;
        static const char msg[] =
            "gotrace runtime: warning: the guard-page budget is used up (each guard page costs a "
            "mapping and vm.max_map_count limits them); new goroutine stacks run without a guard. "
            "Raise the limit with `sysctl -w vm.max_map_count=N`.\n";
        gort_write_all(2, msg, sizeof msg - 1);
    }
    pthread_mutex_unlock(&arena_mutex);
    out->base = base;
    out->top = base + slot_size;
    out->size = slot_size;
    out->guarded = guarded;
    return true;
}

void gort_stack_release_pages(const gort_stack_t *stack, size_t keep_bytes) {
    size_t page = page_size();
    char *low = (char *)stack->base + (stack->guarded ? page : 0);
    char *high = (char *)stack->top - (keep_bytes + page - 1) / page * page;
    if (high > low) madvise(low, (size_t)(high - low), MADV_DONTNEED);
}

bool gort_stack_guard_budget_exhausted(void) {
    pthread_mutex_lock(&arena_mutex);
    bool result = budget_warned;
    pthread_mutex_unlock(&arena_mutex);
    return result;
}

size_t gort_stack_slots_allocated(void) {
    pthread_mutex_lock(&arena_mutex);
    size_t result = slots_allocated;
    pthread_mutex_unlock(&arena_mutex);
    return result;
}
