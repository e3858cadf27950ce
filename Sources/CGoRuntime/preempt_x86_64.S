// The asynchronous-preemption trampoline (see preempt.c for when a goroutine is sent here).
//
// The SIGURG handler rewrote the interrupted context's PC to gort_preempt_trampoline and left the
// interrupted PC in the thread-local gort_preempt_resume_pc; every other register, the stack pointer
// included, is exactly as the interrupted code left it. This is not a call: nothing was pushed, and
// the 128 bytes below the stack pointer are the interrupted function's red zone (System V x86_64),
// which it may be using for live data. So, in order:
//   1. step over the red zone and one more slot with `lea` (which leaves the flags alone), and store
//      the resume PC in that slot: it now looks like a return address;
//   2. push rbp and make a standard frame on it, so frame-pointer walks (tracer, profiler) go
//      trampoline -> interrupted function -> its callers;
//   3. save the flags and the fourteen other general-purpose registers, align the stack to 64 and
//      save the extended state (x87, SSE, AVX, AVX-512: XSAVE with the enabled features, or FXSAVE
//      on CPUs without XSAVE);
//   4. call gort_preempt_call_yield (the runtime's yield: the goroutine is switched out here and
//      resumes later, possibly on another thread; it carries errno over to that thread);
//   5. restore everything in reverse, and `ret $128`: pops the resume PC into rip and then the
//      128-byte red zone, leaving rsp exactly as it was when the goroutine was interrupted.
// The direction flag is cleared before the call (the C ABI requires it); the saved flags bring the
// interrupted code's value back.
#if defined(__x86_64__)
    .section gort_text, "ax", @progbits   // the runtime's code range (CGoRuntime.h)
    .globl gort_preempt_trampoline
    .type gort_preempt_trampoline, @function
    .p2align 4
gort_preempt_trampoline:
    .cfi_startproc
    .cfi_signal_frame
    // (The CFA stays "rsp + 8": after the lea, rsp + 8 is just above the resume-PC slot.)
    leaq -136(%rsp), %rsp
    pushq %rax
    .cfi_adjust_cfa_offset 8
    movq gort_preempt_resume_pc@gottpoff(%rip), %rax
    movq %fs:(%rax), %rax
    movq %rax, 8(%rsp)
    popq %rax
    .cfi_adjust_cfa_offset -8
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushfq
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    andq $-64, %rsp
    movq gort_preempt_xsave_size(%rip), %rcx
    testq %rcx, %rcx
    jz 1f
    subq %rcx, %rsp
    // XRSTOR faults unless the header's reserved bytes are zero; XSAVE writes only XSTATE_BV.
    xorl %eax, %eax
    movq %rax, 512(%rsp)
    movq %rax, 520(%rsp)
    movq %rax, 528(%rsp)
    movq %rax, 536(%rsp)
    movq %rax, 544(%rsp)
    movq %rax, 552(%rsp)
    movq %rax, 560(%rsp)
    movq %rax, 568(%rsp)
    movl gort_preempt_xsave_mask(%rip), %eax
    movl gort_preempt_xsave_mask+4(%rip), %edx
    xsave64 (%rsp)
    call gort_preempt_call_yield@PLT
    movl gort_preempt_xsave_mask(%rip), %eax
    movl gort_preempt_xsave_mask+4(%rip), %edx
    xrstor64 (%rsp)
    jmp 2f
1:
    subq $512, %rsp
    fxsave64 (%rsp)
    call gort_preempt_call_yield@PLT
    fxrstor64 (%rsp)
2:
    leaq -120(%rbp), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    popfq
    popq %rbp
    .cfi_def_cfa %rsp, 8
    ret $128
    .cfi_endproc
    .size gort_preempt_trampoline, .-gort_preempt_trampoline
#endif
    .section .note.GNU-stack,"",@progbits
