// Asynchronous preemption: the SIGURG handler and the table of code that is safe to interrupt.
//
// Design note
// -----------
// The monitor (GoRuntime/Monitor.swift) sends SIGURG to an M whose goroutine has run for 10 ms
// (SIGURG, as Go does: nothing else uses it in practice, and its default action is to ignore it).
// On that M's thread the handler decides whether the goroutine may be suspended exactly where it
// is, and if so rewrites the signal context so that it resumes in gort_preempt_trampoline
// (preempt_x86_64.S), which saves every register, calls the runtime's yield and later returns to
// the interrupted PC with everything restored.
//
// The safe-PC rule. Suspending is safe only in code that does not hold runtime state in registers
// or locks and that does not mind resuming on another thread. We accept exactly *user code of the
// main executable*:
//   1. the PC lies in a function of the main executable (not in libc, libswiftCore, any other
//      shared object, the vDSO, or a PLT stub: those may hold locks or per-thread state);
//   2. that function is not the runtime's: not in the `gort_text` section (every C and assembly
//      function of CGoRuntime, see CGoRuntime.h) and not a Swift symbol of a module the runtime is made
//      of or calls into (mangled names containing `9GoRuntime`, `13GoTraceFormat`, `7GoTrace`, `7GoPprof`,
//      `7GoDWARF` or `15Synchronization`: this also covers closures, specialisations on runtime types and
//      outlined helpers emitted for them). Synchronization's code is emitted into its clients, and a debug
//      build keeps some of it out of line (the unlock that ends `Mutex.withLock`): called by the runtime,
//      it must not pass for user code. A user's own call into it is refused too, which costs nothing;
//   3. a Swift function that belongs to no module — a standard-library specialisation or a
//      reabstraction thunk (`$s` followed by a non-digit), or a merged function (`Tm`) — is
//      "neutral": it may have been called by the runtime. It is accepted only if, walking outward
//      (the two words at the stack pointer, for a frame not yet set up or already torn down, then
//      the frame-pointer chain), the first caller that is not neutral is user code;
//   4. no frame on the chain returns into foreign code: user code called back by a library (a
//      comparator, a lazy global's initialiser under swift_once) may hold that library's locks,
//      and another goroutine on the same P would then block its M on them for good.
// The runtime never calls user code while it holds a runtime lock or keeps M or P state in a frame
// across the call (user code may park, which migrates the goroutine just as preemption does), so a
// runtime frame *below* user code is harmless. A refusal costs nothing: the monitor asks again on
// its next tick, and the cooperative flag stays set for the next runtime call.
//
// The table: at install time (not in the handler) we read the executable's ELF symbol table from
// /proc/self/exe, classify each function, sort, and merge neighbours of the same class; the handler
// binary-searches it. It is read-only afterwards. A stripped executable has no table: then every PC
// is "foreign" and only cooperative preemption works.
//
// The handler is async-signal-safe: TLS reads, loads from the interrupted stack within its bounds,
// a binary search, errno preserved. It runs with SA_ONSTACK, so it uses the thread's alternate signal
// stack when one is installed (growable stacks), and writes nothing onto the goroutine's stack: the
// trampoline itself steps over the 128-byte red zone before it pushes anything.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include "elf_symtab.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

enum { CODE_FOREIGN = 0, CODE_USER = 1, CODE_RUNTIME = 2, CODE_NEUTRAL = 3 };
enum { MAX_WALK = 64 };

typedef struct {
    uintptr_t start;
    uintptr_t end;
    uint8_t kind;
} code_range_t;

static code_range_t *ranges = NULL;
static size_t range_count = 0;
static void (*yield_hook)(void) = NULL;
static struct sigaction previous_urg;

static __thread gort_preempt_state_t *thread_state __attribute__((tls_model("initial-exec"))) = NULL;
// Written by the handler, read by the trampoline's first instructions on the same thread (it is
// refused as a "runtime" PC meanwhile, so no second redirection can overwrite it first).
__thread uintptr_t gort_preempt_resume_pc __attribute__((tls_model("initial-exec"))) = 0;

// Read by the trampoline: the XSAVE area size for the enabled features (0: use FXSAVE's 512 bytes)
// and the feature mask. Set once by gort_preempt_install, before the handler is installed.
__attribute__((visibility("hidden"))) uint64_t gort_preempt_xsave_size = 0;
__attribute__((visibility("hidden"))) uint64_t gort_preempt_xsave_mask = 0;

extern char __start_gort_text[] __attribute__((weak));
extern char __stop_gort_text[] __attribute__((weak));
extern void gort_preempt_trampoline(void);

// ---------------------------------------------------------------- classification

static bool contains(const char *name, const char *needle) { return strstr(name, needle) != NULL; }

static uint8_t classify_name(const char *name) {
    if (name[0] == '$' && name[1] == 's') {
        // The modules GoRuntime links are the runtime's too: GoTraceFormat's code runs with the M's trace
        // state in hand, GoPprof's and GoDWARF's inside a stack dump; Synchronization: see rule 2.
        if (contains(name, "9GoRuntime") || contains(name, "13GoTraceFormat") || contains(name, "7GoTrace") ||
            contains(name, "7GoPprof") || contains(name, "7GoDWARF") || contains(name, "15Synchronization"))
            return CODE_RUNTIME;
        size_t length = strlen(name);
        if (length > 2 && name[length - 2] == 'T' && name[length - 1] == 'm') return CODE_NEUTRAL;
        return (name[2] >= '0' && name[2] <= '9') ? CODE_USER : CODE_NEUTRAL;
    }
    if (strncmp(name, "gort_", 5) == 0) return CODE_RUNTIME;
    // Names reserved to the implementation, when it is linked into the executable: sanitizer runtimes
    // (__asan_*, __tsan_*, __sanitizer_*, their interceptors, whose aliases such as `malloc` share the
    // address and lose to this class), compiler-rt builtins, C++ runtime namespaces (_ZN6__asan…,
    // _ZN11__sanitizer…, _ZN10__cxxabiv1…) and a statically linked C++ standard library (std::).
    // They keep per-thread state (an allocator's thread cache) that another goroutine on the same
    // thread would corrupt.
    if (name[0] == '_' && name[1] == '_') return CODE_FOREIGN;
    if (strncmp(name, "_ZSt", 4) == 0) return CODE_FOREIGN;
    if (strncmp(name, "_ZN", 3) == 0) {
        const char *rest = name + 3;
        while (*rest == 'K' || *rest == 'V' || *rest == 'r') rest++;  // cv-qualifiers of a member function
        if (rest[0] == 'S' && rest[1] == 't') return CODE_FOREIGN;
        while (*rest >= '0' && *rest <= '9') rest++;
        if (rest[0] == '_' && rest[1] == '_') return CODE_FOREIGN;
    }
    // Pieces of the Swift runtime linked into the executable, and compiler-generated startup code.
    if (strncmp(name, "swift_", 6) == 0 || strncmp(name, "_swift", 6) == 0 || strncmp(name, "__swift", 7) == 0)
        return CODE_FOREIGN;
    return CODE_USER;
}

static int compare_ranges(const void *a, const void *b) {
    uintptr_t x = ((const code_range_t *)a)->start, y = ((const code_range_t *)b)->start;
    return x < y ? -1 : x > y;
}

/// Which class wins when two symbols overlap: the one that refuses more.
static int caution(uint8_t kind) {
    switch (kind) {
    case CODE_RUNTIME: return 3;
    case CODE_FOREIGN: return 2;
    case CODE_NEUTRAL: return 1;
    default: return 0;
    }
}

static bool build_table(void) {
    gort_elf_symtab elf;
    if (!gort_elf_symtab_open(&elf)) return false;
    bool ok = false;
    const Elf64_Sym *symbols = elf.symbols;
    size_t symbol_count = elf.symbol_count;
    const char *names = elf.strings;
    uintptr_t bias = elf.bias;
    code_range_t *table = malloc((symbol_count + 1) * sizeof *table);
    if (table == NULL) goto done;
    size_t count = 0;
    for (size_t index = 0; index < symbol_count; index++) {
        const Elf64_Sym *symbol = &symbols[index];
        if (!gort_elf_symtab_is_function(&elf, symbol)) continue;
        table[count].start = bias + symbol->st_value;
        table[count].end = bias + symbol->st_value + symbol->st_size;
        table[count].kind = classify_name(names + symbol->st_name);
        count++;
    }
    qsort(table, count, sizeof *table, compare_ranges);
    // The runtime's C and assembly code wins over whatever the names said.
    uintptr_t runtime_low = (uintptr_t)__start_gort_text, runtime_high = (uintptr_t)__stop_gort_text;
    // Merge: neighbours of one class become one range (the gaps between them are padding, never
    // executed); overlapping symbols (aliases) keep the more cautious class.
    size_t merged = 0;
    for (size_t index = 0; index < count; index++) {
        code_range_t range = table[index];
        if (range.start >= runtime_low && range.start < runtime_high) range.kind = CODE_RUNTIME;
        if (merged > 0 && range.start < table[merged - 1].end) {
            code_range_t *last = &table[merged - 1];
            if (caution(range.kind) > caution(last->kind)) last->kind = range.kind;
            if (range.end > last->end) last->end = range.end;
            continue;
        }
        if (merged > 0 && table[merged - 1].kind == range.kind) {
            table[merged - 1].end = range.end;
            continue;
        }
        table[merged++] = range;
    }
    ranges = realloc(table, (merged > 0 ? merged : 1) * sizeof *table);
    if (ranges == NULL) ranges = table;
    range_count = merged;
    ok = merged > 0;
done:
    gort_elf_symtab_close(&elf);
    return ok;
}

static int classify(uintptr_t pc) {
    if (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text) return CODE_RUNTIME;
    size_t low = 0, high = range_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (ranges[middle].end <= pc) low = middle + 1;
        else high = middle;
    }
    if (low < range_count && ranges[low].start <= pc && pc < ranges[low].end) return ranges[low].kind;
    return CODE_FOREIGN;
}

int gort_preempt_classify_pc(uintptr_t pc) { return classify(pc); }

int gort_preempt_classify_symbol(const char *name) { return classify_name(name); }

__attribute__((noinline)) uintptr_t gort_preempt_caller_pc(void) { return (uintptr_t)__builtin_return_address(0); }

/// The safe-PC rule of the design note, on the interrupted registers.
/// Not ASan-checked: it reads the interrupted goroutine's stack as an unwinder does, and the words at
/// its sp may lie in a redzone that the interrupted function poisoned (a dynamic alloca's, mid-prologue).
__attribute__((no_sanitize("address")))
static bool safe_to_suspend(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t low, uintptr_t high) {
    int kind = classify(pc);
    if (kind != CODE_USER && kind != CODE_NEUTRAL) return false;
    bool in_user_code = kind == CODE_USER;
    if (!in_user_code) {
        // A neutral leaf: its caller decides. Before `push rbp; mov rsp, rbp` (or after the
        // epilogue's `pop rbp`) the return address is one of the two words at sp, and rbp is still
        // the caller's frame, so the chain below would skip that caller.
        for (int slot = 0; slot < 2; slot++) {
            uintptr_t word_address = sp + 8 * (uintptr_t)slot;
            if (word_address < low || word_address + 8 > high) return false;
            if (classify(*(const uintptr_t *)word_address) == CODE_RUNTIME) return false;
        }
    }
    // Up the frame-pointer chain to the goroutine's entry (whose saved rbp is 0). Runtime frames
    // are harmless once below user code; foreign frames never are: user code called back by a
    // library (a comparator, a lazy global's initialiser run by swift_once) may hold that library's
    // locks, and another goroutine on this P could then block its M on them.
    uintptr_t floor = sp;
    for (int depth = 0; depth < MAX_WALK; depth++) {
        // `fp > high - 16`, not `fp + 16 > high`: code built without frame pointers leaves any value
        // in rbp, and the sum wraps for one near the top of the address space.
        if (fp < floor || high < 16 || fp > high - 16 || (fp & 7) != 0) break;
        const uintptr_t *frame = (const uintptr_t *)fp;
        int caller = classify(frame[1]);
        if (caller == CODE_FOREIGN) return false;
        if (caller == CODE_RUNTIME && !in_user_code) return false;
        if (caller == CODE_USER) in_user_code = true;
        if (frame[0] <= fp) break;
        floor = fp;
        fp = frame[0];
    }
    return in_user_code;
}

// ---------------------------------------------------------------- the handler

static void on_preempt_signal(int signal, siginfo_t *info, void *raw_context) {
    int saved_errno = errno;
    gort_preempt_state_t *state = thread_state;
    // Not ours (no M on this thread, or nothing asked): hand it to whoever had SIGURG before.
    if (state == NULL || !gort_preempt_is_requested(state)) {
        if ((previous_urg.sa_flags & SA_SIGINFO) && previous_urg.sa_sigaction != NULL)
            previous_urg.sa_sigaction(signal, info, raw_context);
        else if (previous_urg.sa_handler != SIG_DFL && previous_urg.sa_handler != SIG_IGN && previous_urg.sa_handler != NULL)
            previous_urg.sa_handler(signal);
        errno = saved_errno;
        return;
    }
    __atomic_store_n(&state->signals, state->signals + 1, __ATOMIC_RELAXED);
    ucontext_t *context = raw_context;
    uintptr_t pc = (uintptr_t)context->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)context->uc_mcontext.gregs[REG_RSP];
    uintptr_t fp = (uintptr_t)context->uc_mcontext.gregs[REG_RBP];
    uintptr_t low = __atomic_load_n(&state->stack_low, __ATOMIC_RELAXED);
    uintptr_t high = __atomic_load_n(&state->stack_high, __ATOMIC_RELAXED);
    // On g0 (high == 0), in a blocking call (no P to give up), held on its M (a world stop's stopper,
    // which its own M would otherwise wait for at the barrier), or on some other stack: not now.
    // The trampoline needs room below the red zone for the registers and the extended state; a
    // goroutine that close to the bottom of its stack is not interrupted (it will grow or yield).
    if (high == 0 || gort_preempt_in_blocking_call(state) || gort_preempt_is_held(state) || sp < low + 16384 || sp >= high ||
        !safe_to_suspend(pc, sp, fp, low, high)) {
        errno = saved_errno;
        return;
    }
    // A CPU-profile sample is due (SIGPROF is blocked while this handler runs, see the install):
    // it must see the program where it is, not at the trampoline's first instruction. Next time.
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPROF)) {
        errno = saved_errno;
        return;
    }
    gort_preempt_resume_pc = pc;
    context->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)gort_preempt_trampoline;
    __atomic_store_n(&state->redirected, state->redirected + 1, __ATOMIC_RELAXED);
    errno = saved_errno;
}

// errno through a volatile function pointer: glibc declares __errno_location `const`, and the
// compiler may otherwise reuse the address it returned before the yield — the old thread's errno.
static int *(*volatile errno_location)(void) = __errno_location;

/// Called by the trampoline with every register saved, on the goroutine's stack. errno is part of
/// the interrupted code's state (it may be between a failing call and reading errno) but lives in
/// the thread, and the goroutine may resume on another one: carry its value across.
void gort_preempt_call_yield(void) {
    int saved_errno = *errno_location();
    if (yield_hook) yield_hook();
    *errno_location() = saved_errno;
}

#if defined(__x86_64__)
#include <cpuid.h>
static void probe_extended_state(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
    bool xsave = (ecx & (1u << 26)) != 0, osxsave = (ecx & (1u << 27)) != 0;
    if (!xsave || !osxsave) return;
    uint32_t low, high;
    __asm__ __volatile__("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    // x87, SSE, AVX, and AVX-512's opmask, ZMM_Hi256 and Hi16_ZMM: the register state compiled code
    // uses. (AMX tiles and the like are left alone: only libraries that ask the kernel use them.)
    uint64_t mask = (((uint64_t)high << 32) | low) & 0xE7;
    __cpuid_count(0xD, 0, eax, ebx, ecx, edx);  // ebx: the area size for the features XCR0 enables
    if (ebx < 576) return;
    gort_preempt_xsave_mask = mask;
    gort_preempt_xsave_size = ((uint64_t)ebx + 63) & ~(uint64_t)63;
}
#endif

bool gort_preempt_install(void (*yield)(void)) {
    static bool installed = false;
    static bool available = false;
    if (installed) return available;
    installed = true;
    yield_hook = yield;
#if defined(__x86_64__)
    if (!build_table()) return false;
    probe_extended_state();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_preempt_signal;
    // SA_RESTART: a preemption signal must not turn a program's blocking read into EINTR.
    // SA_ONSTACK: run on the alternate signal stack when the thread has one.
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    // SIGPROF waits until this handler returns: a sample taken inside it would be charged to the
    // handler (the kernel delivers both at once when both are pending, as under load they often are).
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGPROF);
    if (sigaction(SIGURG, &action, &previous_urg) != 0) return false;
    available = true;
#endif
    return available;
}

int32_t gort_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

// Not inline: a goroutine may resume on another thread, and an inlined TLS access could be computed
// once and reused across the switch (the same reason gort_tls_get_m is not inline).
__attribute__((noinline)) bool gort_preempt_requested_here(void) {
    gort_preempt_state_t *state = thread_state;
    return state != NULL && gort_preempt_is_requested(state) && !gort_preempt_is_held(state);
}

void gort_preempt_bind_thread(gort_preempt_state_t *state) {
    thread_state = state;
    // Threads inherit their creator's signal mask, and the thread that started the scheduler may
    // block nearly everything (test harnesses' worker threads do): an M must accept SIGURG.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    __atomic_store_n(&state->tid, (int32_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
}

int gort_preempt_signal(const gort_preempt_state_t *state) {
    int32_t tid = __atomic_load_n(&state->tid, __ATOMIC_ACQUIRE);
    if (tid == 0) return ESRCH;
    if (syscall(SYS_tgkill, getpid(), tid, SIGURG) != 0) return errno;
    return 0;
}
