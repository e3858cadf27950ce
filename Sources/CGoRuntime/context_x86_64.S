// The x86_64 context switch. See CGoRuntime.h for the contract.
// Only callee-saved registers are preserved (System V ABI): the caller of gort_context_switch
// has already saved everything else. MXCSR and the x87 control word are not switched: Swift code
// does not change them, and every goroutine shares the thread's floating-point environment.
#if defined(__x86_64__)
    .section gort_text, "ax", @progbits   // the runtime's code range (CGoRuntime.h)
    .globl gort_context_switch
    .type gort_context_switch, @function
    .p2align 4
gort_context_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size gort_context_switch, .-gort_context_switch

// First code run on a fresh stack: r12 = argument, r13 = entry. rbp is 0 so that frame-pointer
// walks stop here, and the return address is marked undefined for DWARF unwinders.
    .globl gort_context_trampoline
    .type gort_context_trampoline, @function
    .p2align 4
gort_context_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size gort_context_trampoline, .-gort_context_trampoline
#endif
    .section .note.GNU-stack,"",@progbits
