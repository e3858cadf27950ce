// Builds the initial frame that gort_context_switch pops on a fresh stack.
#include "CGoRuntime.h"
#include <string.h>
#include <assert.h>

#if defined(__x86_64__)
extern void gort_context_trampoline(void);

void *gort_context_make(void *stack_top, void (*entry)(void *), void *arg) {
    uintptr_t top = (uintptr_t)stack_top;
    assert((top & 15) == 0 && "stack top must be 16-byte aligned");
    // Six popped registers then the return address. After `ret` the stack pointer must be
    // 16-byte aligned so that the trampoline's `call` gives the entry the ABI's alignment.
    uintptr_t *sp = (uintptr_t *)(top - 72);
    memset(sp, 0, 72);
    sp[0] = 0;                              // r15
    sp[1] = 0;                              // r14
    sp[2] = (uintptr_t)entry;               // r13
    sp[3] = (uintptr_t)arg;                 // r12
    sp[4] = 0;                              // rbx
    sp[5] = 0;                              // rbp: ends frame-pointer chains
    sp[6] = (uintptr_t)gort_context_trampoline;
    return sp;
}
#else
#error "gotrace's runtime supports x86_64 only so far: add context_<arch>.S and a gort_context_make"
#endif
