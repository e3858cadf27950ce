// Sanitizer fiber annotations: telling ThreadSanitizer and AddressSanitizer about goroutine switches.
//
// Design note
// -----------
// gort_context_switch moves a thread from one stack to another behind the sanitizers' backs: TSan would
// keep one shadow call stack and one happens-before clock for the thread across goroutines, and ASan
// would see a stack pointer leave the thread's stack and report or mis-unpoison memory. Both offer fiber
// APIs for exactly this; each switch point of the scheduler calls, in this order:
//   1. gort_fiber_switch_begin(from, to, bottom and size of the target stack, whether `from` is exiting):
//      TSan `__tsan_switch_to_fiber(to, 0)` — flag 0 makes the switch a synchronisation, which it is (the
//      same thread runs one after the other); ASan `__sanitizer_start_switch_fiber` (a NULL save slot for
//      an exiting goroutine, whose fake stack is then released);
//   2. gort_context_switch;
//   3. gort_fiber_switch_end(current), first thing on the stack that now runs (and first thing a fresh
//      goroutine does): ASan `__sanitizer_finish_switch_fiber`.
// A goroutine's TSan fiber is created on g0 before its first run and destroyed on g0 after it exited; g0's
// fiber is the thread's own (gort_fiber_init_thread, once per M). LeakSanitizer scans thread stacks but
// not our stack arena: gort_sanitizer_stack_arena_mapped registers each arena as a root region, so what
// only a parked goroutine's stack refers to is not reported as leaked. At exit, before LSan's own check,
// stack.c narrows those regions to the slots in use (see narrow_leak_roots_at_exit there): a slot beyond
// the guard budget is read-write in full, and scanning a million of them read terabytes of zero pages.
//
// Cost: none in a normal build. The functions are empty inline functions unless GORT_SANITIZER_FIBERS is
// defined, and it must be defined for the Swift side too (Swift's clang importer does not see the
// sanitizer's __has_feature), so scripts/sanitizers.sh passes it to both C and Swift; sanitizer_fibers.c
// refuses to build a sanitized runtime without it.
#ifndef GORT_SANITIZER_FIBERS_H
#define GORT_SANITIZER_FIBERS_H

#include <stdbool.h>
#include <stddef.h>

/// What the sanitizers keep per stack (goroutine or g0). Zeroed = no fiber yet.
typedef struct {
    void *tsan_fiber;       // TSan's fiber; for g0, the thread's own
    void *asan_fake_stack;  // ASan's fake stack, saved while this stack is switched away from
} gort_fiber_t;

/// How many times the default stack limit a build needs: sanitizer instrumentation makes frames larger
/// (ASan surrounds each local with redzones), so a recursion that fits 1 MiB in a normal build would
/// overflow in a sanitizer build. Go's race builds scale their stack guard the same way.
#if defined(GORT_SANITIZER_FIBERS)
static inline unsigned gort_sanitizer_stack_multiplier(void) { return 4; }
#else
static inline unsigned gort_sanitizer_stack_multiplier(void) { return 1; }
#endif

#if defined(GORT_SANITIZER_FIBERS)
void gort_fiber_init_thread(gort_fiber_t *g0);
void gort_fiber_create(gort_fiber_t *fiber);
void gort_fiber_destroy(gort_fiber_t *fiber);
void gort_fiber_switch_begin(gort_fiber_t *from, gort_fiber_t *to, const void *to_stack_bottom, size_t to_stack_size,
                             bool from_exits);
void gort_fiber_switch_end(gort_fiber_t *current);
void gort_sanitizer_stack_arena_mapped(void *arena, size_t bytes);
void gort_sanitizer_root_region(const void *begin, size_t bytes);
void gort_sanitizer_unroot_region(const void *begin, size_t bytes);
#else
static inline void gort_fiber_init_thread(gort_fiber_t *g0) { (void)g0; }
static inline void gort_fiber_create(gort_fiber_t *fiber) { (void)fiber; }
static inline void gort_fiber_destroy(gort_fiber_t *fiber) { (void)fiber; }
static inline void gort_fiber_switch_begin(gort_fiber_t *from, gort_fiber_t *to, const void *to_stack_bottom,
                                           size_t to_stack_size, bool from_exits) {
    (void)from, (void)to, (void)to_stack_bottom, (void)to_stack_size, (void)from_exits;
}
static inline void gort_fiber_switch_end(gort_fiber_t *current) { (void)current; }
static inline void gort_sanitizer_stack_arena_mapped(void *arena, size_t bytes) { (void)arena, (void)bytes; }
static inline void gort_sanitizer_root_region(const void *begin, size_t bytes) { (void)begin, (void)bytes; }
static inline void gort_sanitizer_unroot_region(const void *begin, size_t bytes) { (void)begin, (void)bytes; }
#endif

#endif
