// The sanitizer side of sanitizer_fibers.h (see its design note). Empty unless GORT_SANITIZER_FIBERS.
#include "sanitizer_fibers.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#define GORT_TSAN __has_feature(thread_sanitizer)
#define GORT_ASAN __has_feature(address_sanitizer)

#if (GORT_TSAN || GORT_ASAN) && !defined(GORT_SANITIZER_FIBERS)
#error "a sanitized runtime needs -DGORT_SANITIZER_FIBERS for C and Swift (see scripts/sanitizers.sh)"
#endif

#if defined(GORT_SANITIZER_FIBERS)
#if GORT_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
#if GORT_ASAN
void __lsan_register_root_region(const void *begin, size_t size);
void __lsan_unregister_root_region(const void *begin, size_t size);
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif

void gort_fiber_init_thread(gort_fiber_t *g0) {
#if GORT_TSAN
    g0->tsan_fiber = __tsan_get_current_fiber();
#endif
    g0->asan_fake_stack = NULL;
}

void gort_fiber_create(gort_fiber_t *fiber) {
#if GORT_TSAN
    fiber->tsan_fiber = __tsan_create_fiber(0);
#endif
    fiber->asan_fake_stack = NULL;
}

void gort_fiber_destroy(gort_fiber_t *fiber) {
#if GORT_TSAN
    if (fiber->tsan_fiber) __tsan_destroy_fiber(fiber->tsan_fiber);
#endif
    fiber->tsan_fiber = NULL;
    fiber->asan_fake_stack = NULL;
}

// Not instrumented: TSan's function-exit hook of this function would run after the switch to `to` and pop
// an entry off `to`'s shadow call stack that was pushed on `from`'s (a fresh goroutine's would underflow).
__attribute__((disable_sanitizer_instrumentation))
void gort_fiber_switch_begin(gort_fiber_t *from, gort_fiber_t *to, const void *to_stack_bottom, size_t to_stack_size,
                             bool from_exits) {
#if GORT_ASAN
    __sanitizer_start_switch_fiber(from_exits ? NULL : &from->asan_fake_stack, to_stack_bottom, to_stack_size);
#else
    (void)from, (void)to_stack_bottom, (void)to_stack_size, (void)from_exits;
#endif
#if GORT_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
    (void)to;
#endif
}

void gort_fiber_switch_end(gort_fiber_t *current) {
#if GORT_ASAN
    __sanitizer_finish_switch_fiber(current->asan_fake_stack, NULL, NULL);
#else
    (void)current;
#endif
}
void gort_sanitizer_stack_arena_mapped(void *arena, size_t bytes) { gort_sanitizer_root_region(arena, bytes); }

void gort_sanitizer_root_region(const void *begin, size_t bytes) {
#if GORT_ASAN
    __lsan_register_root_region(begin, bytes);
#else
    (void)begin, (void)bytes;
#endif
}

void gort_sanitizer_unroot_region(const void *begin, size_t bytes) {
#if GORT_ASAN
    __lsan_unregister_root_region(begin, bytes);
#else
    (void)begin, (void)bytes;
#endif
}
#endif
