// CGoRuntime — the few pieces of the goroutine runtime that cannot be written in Swift:
// the register-level context switch, the stack arena (mmap/mprotect), futex-based sleeping,
// thread-local storage that must not be cached across a context switch, and the clock.
//
// Every symbol is gort_-prefixed. No C global variable is visible to Swift: state lives behind
// accessor functions. Guarded by __linux__ / __x86_64__ where it matters.
#ifndef CGORUNTIME_H
#define CGORUNTIME_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "sanitizer_fibers.h"

#ifdef __cplusplus
extern "C" {
#endif

// Every function of this target is placed in the `gort_text` section (the assembly files name it
// themselves), so that the preemption handler can tell the runtime's C code apart by two linker-made
// bounds, __start_gort_text and __stop_gort_text (preempt.c). Only the target's own sources define
// GORT_BUILDING_RUNTIME (Package.swift); Swift's importer never sees the pragma.
#if defined(GORT_BUILDING_RUNTIME) && defined(__clang__)
#pragma clang section text = "gort_text"
#endif

// ---------------------------------------------------------------- context switch
// The saved state of a suspended stack is just its stack pointer: the callee-saved registers
// (rbx, rbp, r12–r15) are pushed onto the suspended stack itself by gort_context_switch.

/// Saves the current callee-saved registers on the current stack, stores the stack pointer into
/// `*save_sp`, loads `load_sp` and resumes whatever was suspended there.
/// Precondition: `load_sp` was produced by gort_context_switch or gort_context_make.
void gort_context_switch(void **save_sp, void *load_sp);

/// Asks the cache for the lines a resuming stack's first returns read: the registers gort_context_switch
/// saved at `sp` and the frames above them. Issued at the start of a switch-in, their misses overlap each
/// other and the switch-in's own work instead of arriving one return at a time (a goroutine whose stack has
/// gone cold: ring). 12 lines: ring at 1 P took 402, 356 and 354 ns per hop with 4, 8 and 12
/// (docs/performance.md). A prefetch never faults, so a shrunk, released or guarded page is harmless.
static inline void gort_prefetch_resume(const void *sp) {
    const char *line = (const char *)sp;
    for (int index = 0; index < 12; index++) __builtin_prefetch(line + 64 * index);
}

/// Prepares a fresh stack whose top (highest address, 16-byte aligned) is `stack_top` so that the
/// first switch to the returned stack pointer calls `entry(arg)`. `entry` must never return.
void *gort_context_make(void *stack_top, void (*entry)(void *), void *arg);

// ---------------------------------------------------------------- stack arena (stack.c)
// Each stack is a slot of reserved address space (a large MAP_NORESERVE arena, not a mapping per
// stack) that grows on demand and is shrunk while its goroutine is parked for long. The design,
// the guard budget and the shrink protocol are described at the top of stack.c.
typedef struct {
    void *base;     // lowest address of the slot (its permanent guard gap, when guarded)
    void *top;      // where the stack starts: its slot's top less a cache colour (stack.c); 16-byte aligned
    uint32_t slot;  // the slot's number, which names it in the calls below
    bool guarded;   // whether the slot grows on demand behind a PROT_NONE guard
} gort_stack_t;

typedef struct {
    size_t slots;          // slots ever allocated
    size_t guarded_slots;  // of which guarded
    size_t guard_budget;   // guarded slots allowed (from vm.max_map_count)
    size_t shrunk_stacks;  // stacks shrunk now (their goroutines parked)
    size_t shrunk_bytes;   // live bytes their heap copies hold
    size_t shrinks;        // shrinks ever
    size_t growths;        // growth faults ever handled
    size_t initial;        // bytes accessible in a fresh guarded slot
    size_t limit;          // the most a stack may grow to
    size_t reserve;        // bytes reserved per slot for growth (the largest limit possible)
} gort_stack_statistics_t;

/// Sets the initial accessible size and the limit (both rounded up to pages); the limit also sets
/// the per-slot reservation. Reads vm.max_map_count for the guard budget. Effective only before the
/// first stack is allocated.
void gort_stack_configure(size_t initial_bytes, size_t limit_bytes);
/// Changes the limit, returning the previous one in `previous`. Before the first stack the
/// reservation follows; afterwards a limit above the reservation is refused (returns false).
bool gort_stack_set_limit(size_t limit_bytes, size_t *previous);
size_t gort_stack_limit(void);
/// Returns a fresh slot (never previously handed out); false when the address space is exhausted.
/// The first call installs the SIGSEGV growth handler (chaining to the one installed before).
bool gort_stack_alloc(gort_stack_t *out);
/// Installs a 256 KiB alternate signal stack on the calling thread (every thread that runs
/// goroutines needs one: a growth or overflow fault has no stack left to run its handler on).
bool gort_signal_stack_install(void);
/// The growth check, for other SIGSEGV handlers that may sit above stack.c's: true when the fault
/// was a goroutine stack growing into its guard and the stack has been grown (the handler must
/// then just return). Never returns for an overflow past the limit (the process exits with 2).
/// `info` and `context` are the handler's siginfo_t and ucontext_t. Async-signal-safe.
bool gort_stack_handle_fault(int signal, void *info, void *context);
/// g0, right after a goroutine on `slot` parked with stack pointer `saved_sp`, before the park's
/// locks are released (the slot becomes a candidate for shrinking).
void gort_stack_did_park(uint32_t slot, const void *saved_sp);
/// Before switching to the goroutine `goroutine` on `slot`: copies its stack back if it was shrunk
/// and notes, for the fault handler, which goroutine this thread runs.
void gort_stack_will_run(uint32_t slot, uint64_t goroutine);
/// The goroutine on `slot` ended: a stack grown past 64 KiB gets its guard back and its pages
/// released, so that the pool does not hold them.
void gort_stack_retire(uint32_t slot);
/// Releases all the pages of pooled (unused) slots; `slots` sorted ascending.
void gort_stack_release_pooled(const uint32_t *slots, size_t count);
/// Wakes the shrinker if it sleeps until the next park (a large pool of stacks needs trimming).
void gort_stack_shrinker_wake(void);
/// One shrink pass: shrinks every stack parked for at least `min_idle_ns`. Returns how many it
/// shrank; `next_due` gets the time (coarse monotonic clock) at which the youngest parked stack
/// seen becomes old enough, or -1 when none is waiting. Serialised internally.
/// `visitor` (may be NULL) hears of each stack shrunk: its goroutine, the bytes it had read-write
/// before, and the bytes its heap copy keeps.
typedef void (*gort_shrink_visitor)(void *context, uint64_t goroutine, uint64_t old_bytes, uint64_t new_bytes);
size_t gort_stack_shrink_idle(int64_t min_idle_ns, int64_t *next_due, gort_shrink_visitor visitor, void *context);
/// On g0 after a goroutine switched out: whether its stack grew while it ran, and from and to what
/// size (once; for the trace's stack-grow event).
bool gort_stack_take_growth(uint64_t *goroutine, uint64_t *old_bytes, uint64_t *new_bytes);
/// The shrinker's sleep: until `until_ns` (coarse monotonic), or with -1 until a goroutine parks.
void gort_stack_shrinker_sleep(int64_t until_ns);
/// Walks a parked goroutine's stack (shrunk or not), pinning it meanwhile. 0 if it runs again, or if
/// the slot no longer holds `goroutine`'s stack.
size_t gort_stack_capture_parked(uint32_t slot, uint64_t goroutine, uint64_t *pcs, size_t max);
/// When the shrinker first saw `slot` parked (gort_nanotime_coarse's clock), or 0: not parked, or not seen
/// yet. A goroutine dump's `[chan receive, 3 minutes]`, at no cost to the park path.
int64_t gort_stack_parked_since(uint32_t slot);
/// CLOCK_MONOTONIC_COARSE in nanoseconds (~10 ns a call, the tick's resolution): the shrinker's stamps.
int64_t gort_nanotime_coarse(void);
void gort_stack_statistics(gort_stack_statistics_t *out);
/// The slot's state: 0 running or pooled, 1 parked, 2 being shrunk, 3 shrunk, 4/5 pinned.
int gort_stack_slot_state(uint32_t slot);
/// Whether the guard budget ran out and some stacks have no guard (warned once on stderr).
bool gort_stack_guard_budget_exhausted(void);
/// Number of slots ever allocated.
size_t gort_stack_slots_allocated(void);

// ---------------------------------------------------------------- locks and sleeping
/// A short-hold lock (spin, then futex). Zero-initialised memory is an unlocked lock.
typedef struct { uint32_t state; } gort_lock_t;
void gort_lock(gort_lock_t *lock);
void gort_unlock(gort_lock_t *lock);
bool gort_lock_is_held(gort_lock_t *lock);

/// A one-shot wake-up: sleep blocks until wakeup has been called since the last clear.
typedef struct { uint32_t key; } gort_note_t;
void gort_note_clear(gort_note_t *note);
void gort_note_wakeup(gort_note_t *note);
void gort_note_sleep(gort_note_t *note);
/// Sleeps at most `ns` nanoseconds (< 0: forever). Returns true when woken by wakeup.
bool gort_note_timed_sleep(gort_note_t *note, int64_t ns);

// ---------------------------------------------------------------- threads, TLS, clock, misc
/// Starts a detached OS thread running fn(arg). Returns 0 or an errno value.
int gort_thread_create(void (*fn)(void *), void *arg, size_t stack_size);
/// The current M of this thread. Deliberately not inline: a goroutine may resume on another
/// thread after a context switch, and the compiler must never reuse a TLS address across that.
void *gort_tls_get_m(void);
void gort_tls_set_m(void *m);
/// A per-thread word the leak checker uses to tag the goroutines a thread's runs create.
int64_t gort_tls_get_scope(void);
void gort_tls_set_scope(int64_t scope);
/// Monotonic clock in nanoseconds.
int64_t gort_nanotime(void);
/// The CPU's timestamp counter, read with rdtscp so that it is not hoisted above earlier loads
/// (an event after a hand-off never reads an earlier time than the event before it). Only a
/// clock when the kernel itself uses the TSC as its clocksource: see gort_tsc_is_clocksource.
static inline uint64_t gort_cputicks(void) {
#if defined(__x86_64__)
    uint32_t low, high, aux;
    __asm__ __volatile__("rdtscp" : "=a"(low), "=d"(high), "=c"(aux));
    return ((uint64_t)high << 32) | low;
#else
    return (uint64_t)gort_nanotime();
#endif
}
/// Whether the kernel's clocksource is the TSC (then it is invariant and synchronised across CPUs).
bool gort_tsc_is_clocksource(void);
/// Number of CPUs this process may run on (its affinity mask).
int gort_cpu_count(void);
/// Writes all of buf to fd, retrying on EINTR; async-signal-safe.
void gort_write_all(int fd, const void *buf, size_t len);
/// Terminates the process at once with `status` (no atexit handlers, no Swift runtime teardown).
_Noreturn void gort_exit(int status);
/// One spin-wait pause instruction.
void gort_cpu_relax(void);
void gort_os_yield(void);
/// Sleeps in the kernel for about `microseconds` (plus the timer slack), leaving the CPU to others.
void gort_usleep(uint32_t microseconds);


// ---------------------------------------------------------------- stacks and modules (tracing)
/// Walks the frame-pointer chain of the caller, writing up to `max` return addresses (the
/// caller's own return address first). Frames must lie in [low, high) and go strictly upward;
/// the walk stops at the first frame that does not (bad or foreign frames end the walk, never
/// fault). Skips `skip` frames first. Returns the number written. Tens of nanoseconds.
size_t gort_capture_stack(uint64_t *pcs, size_t max, size_t skip, uintptr_t low, uintptr_t high);
/// The key of an M's stack-id cache (Tracer.swift): FNV-1a over whole 64-bit program counters, from
/// gort_stack_hash_seed(), one gort_stack_hash_step per PC. One definition for the walk below and for
/// Swift, which hashes the PCs it already has (CPU samples, snapshots): both must agree, or every
/// park would miss the cache and define its stack again.
static inline uint64_t gort_stack_hash_seed(void) { return 0xcbf29ce484222325ull; }
static inline uint64_t gort_stack_hash_step(uint64_t hash, uint64_t pc) { return (hash ^ pc) * 0x100000001b3ull; }
/// gort_capture_stack's walk, hashing the PCs instead of storing them: the hash of exactly what
/// gort_capture_stack(…, max, skip, low, high) called from the same frame would write, and their
/// number in *count. A park looks its stack up by this hash and captures the PCs only when they
/// are new to its M: one pass, no stores, the hash's multiplies overlapping the chain's loads.
uint64_t gort_stack_hash(size_t max, size_t skip, uintptr_t low, uintptr_t high, size_t *count);
/// Walks a suspended stack from the frame saved by gort_context_switch at `saved_sp`.
size_t gort_capture_suspended_stack(const void *saved_sp, uint64_t *pcs, size_t max, uintptr_t low, uintptr_t high);
/// The calling thread's stack bounds (pthread_getattr_np; slow — call once per thread).
void gort_thread_stack_bounds(uintptr_t *low, uintptr_t *high);

/// Reports every loaded module: its path ("" never: the executable's is resolved through
/// /proc/self/exe), load bias and GNU build id (hex; empty if none).
typedef void (*gort_module_visitor)(void *context, const char *path, uintptr_t load_bias, const char *build_id_hex);
void gort_modules_visit(gort_module_visitor visitor, void *context);

/// Installs `handler` for the fatal signals (SEGV, BUS, ILL, FPE, TRAP, ABRT) on top of whatever
/// is installed; after it runs, the previous disposition is restored and the signal re-raised, so
/// Swift's backtracer (or the default action) still reports the crash. Call once.
void gort_install_crash_handler(void (*handler)(int signal));
/// Runs the crash handler given above, at most once in the process's life (no-op without one).
void gort_run_crash_hook(int signal);
/// Termination flush (signal_flush.c): for each of SIGINT, SIGTERM and SIGHUP still at its default
/// disposition, installs a handler that wakes a dedicated thread, which calls `callback(signal, 0)`
/// in normal context and then ends the process by that signal (a watchdog delivers it again after
/// 2 s should the callback hang). Returns how many handlers it installed, or -1 (already installed,
/// or no thread). Call once.
int gort_signal_flush_install(void (*callback)(int signal, int crashed));
/// Whether our handler was installed for `signal` (it may have been replaced by the program since).
bool gort_signal_flush_is_installed(int signal);
/// From a crash handler: has the flush thread call `callback(0, 1)` and waits for it at most
/// 250 ms (async-signal-safe waiting). Does nothing if not installed or already ending.
void gort_signal_flush_from_crash(void);
/// Blocks SIGPIPE on this thread around a write to a pipe whose reader may be gone; the unblock
/// discards a SIGPIPE raised meanwhile, so the write reports EPIPE instead of killing the program.
void gort_sigpipe_block(void);
void gort_sigpipe_unblock(void);
/// Registers a function to run at normal process exit.
int gort_atexit(void (*fn)(void));
/// Wall-clock time in nanoseconds since the Unix epoch.
int64_t gort_walltime(void);

// ---------------------------------------------------------------- network poller (net.c)
// epoll and eventfd with plain-integer arguments: Swift's Glibc module exports neither header,
// and struct epoll_event is packed. Return values: a descriptor, 0, a count, or -errno / errno
// as documented per function.
enum { GORT_EPOLL_ADD = 1, GORT_EPOLL_MOD = 2, GORT_EPOLL_DEL = 3 };
enum {
    GORT_EPOLLIN = 0x001, GORT_EPOLLOUT = 0x004, GORT_EPOLLERR = 0x008, GORT_EPOLLHUP = 0x010,
    GORT_EPOLLRDHUP = 0x2000, GORT_EPOLLET = (int)(1u << 31)
};
/// epoll_create1(EPOLL_CLOEXEC): a descriptor, or -1 (errno set).
int gort_epoll_create(void);
/// epoll_ctl with the event's data as one 64-bit word. Returns 0 or an errno value.
int gort_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits up to `timeout_ns` (< 0: forever; 0: just looks) for at most `max` (<= 128) events and
/// writes each one's event bits and data word. Returns the count (0 on timeout or EINTR) or -errno.
/// Nanosecond timeouts use epoll_pwait2 where the kernel has it, else round up to milliseconds.
int gort_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int64_t timeout_ns);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): a descriptor, or -1.
int gort_eventfd_create(void);
/// Makes the eventfd readable (adds 1).
void gort_eventfd_signal(int fd);
/// Resets the eventfd's counter (reads it).
void gort_eventfd_drain(int fd);
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): a descriptor, or -1 (errno set).
int gort_accept4(int fd);

// ---------------------------------------------------------------- CPU sampling (profile.c)
enum { GORT_SAMPLE_DEPTH = 32 };
/// Installs the SIGPROF handler (once) and notes the executable segments for the leaf heuristic.
void gort_profile_install_handler(void);
/// Tells the handler what runs on this thread now: a goroutine id (0: the scheduler) and the
/// bounds of the stack it runs on. The scheduler calls it at every switch while profiling.
void gort_profile_set_context(uint64_t goroutine, uintptr_t low, uintptr_t high);
/// Starts (or re-arms) this thread's SIGPROF timer on its CPU clock at `hz`. 0 or an errno value.
int gort_profile_thread_start(int hz);
void gort_profile_thread_stop(void);
typedef void (*gort_sample_visitor)(void *context, uint64_t goroutine, const uint64_t *pcs, uint32_t depth);
/// Hands this thread's pending samples, oldest first, to `visitor`; returns how many, and in
/// `dropped` how many the full ring dropped since the last drain.
size_t gort_profile_drain(gort_sample_visitor visitor, void *context, uint32_t *dropped);

// ---------------------------------------------------------------- preemption (preempt.c, preempt_x86_64.S)
// One record per M, owned by Swift (Machine.preemptState) and bound to the M's thread. The M writes
// the goroutine fields at each switch; the monitor thread reads them and sets `requested`; the
// SIGURG handler, on the M's own thread, reads them and writes `resume_pc`. Fields shared between
// threads are accessed only through the inline functions below (relaxed atomics: each is a hint
// that is re-checked, never a guard for other memory).
typedef struct {
    uintptr_t stack_low;      // bounds of the goroutine running on this M; both 0 while on g0
    uintptr_t stack_high;
    uint64_t goroutine;       // its id (for trace events)
    uint64_t switches;        // bumped each time the M switches a goroutine in
    uint32_t requested;       // the monitor asks the running goroutine to yield
    uint32_t in_blocking_call;// the goroutine is inside Runtime.blockingCall and holds no P
    int32_t tid;              // kernel thread id (0 until the thread has bound the record)
    uint32_t signals;         // preemption signals that landed on this thread (statistics)
    uint32_t redirected;      // ... and that redirected the goroutine into the trampoline
    uintptr_t resume_pc;      // handler -> trampoline: where the interrupted goroutine resumes
    uint32_t held;            // the goroutine must keep this M for now (Go's m.locks): a world stop's
                              // stopper; neither the signal nor the cooperative check switches it out
} gort_preempt_state_t;

/// Installs the SIGURG handler and builds the table of code that is safe to interrupt (the main
/// executable's functions minus the runtime's, see preempt.c). `yield` is called by the trampoline,
/// on the interrupted goroutine's stack, with every register saved. Call once. Returns whether
/// asynchronous preemption is available (false: no symbol table, or not x86_64).
bool gort_preempt_install(void (*yield)(void));
/// The handler's redirection target (preempt_x86_64.S). Never call it: it expects the register
/// state of an interrupted goroutine. Declared so that stack walks can be checked against it.
void gort_preempt_trampoline(void);
/// Binds `state` to the calling thread (the handler finds it through TLS) and records its tid.
void gort_preempt_bind_thread(gort_preempt_state_t *state);
/// The calling thread's kernel id (gettid).
int32_t gort_thread_id(void);
/// Sends the preemption signal to the thread bound to `state`. 0 or an errno value.
int gort_preempt_signal(const gort_preempt_state_t *state);
/// The safe-PC rule, for tests and diagnostics: 2 = runtime, 1 = user, 3 = neutral, 0 = foreign.
int gort_preempt_classify_pc(uintptr_t pc);
/// The same rule on a symbol name (classes as above), for tests: which modules count as the runtime's.
int gort_preempt_classify_symbol(const char *name);
/// The address its caller returns to: a PC inside the calling function (for tests of the rule).
uintptr_t gort_preempt_caller_pc(void);

static inline void gort_preempt_switch_in(gort_preempt_state_t *state, uint64_t goroutine, uintptr_t low, uintptr_t high) {
    __atomic_store_n(&state->requested, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&state->goroutine, goroutine, __ATOMIC_RELAXED);
    __atomic_store_n(&state->stack_low, low, __ATOMIC_RELAXED);
    __atomic_store_n(&state->stack_high, high, __ATOMIC_RELAXED);
    __atomic_store_n(&state->switches, state->switches + 1, __ATOMIC_RELAXED);
}
static inline void gort_preempt_switch_out(gort_preempt_state_t *state) {
    __atomic_store_n(&state->stack_high, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&state->stack_low, 0, __ATOMIC_RELAXED);
}
/// Whether the calling thread is an M whose goroutine is asked to yield: the cooperative check at every
/// safe point, one call and one load (no Swift object touched).
bool gort_preempt_requested_here(void);
static inline bool gort_preempt_is_requested(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->requested, __ATOMIC_RELAXED) != 0;
}
static inline void gort_preempt_set_requested(gort_preempt_state_t *state, bool value) {
    __atomic_store_n(&state->requested, value ? 1u : 0u, __ATOMIC_RELAXED);
}
static inline void gort_preempt_set_in_blocking_call(gort_preempt_state_t *state, bool value) {
    __atomic_store_n(&state->in_blocking_call, value ? 1u : 0u, __ATOMIC_RELAXED);
}
static inline bool gort_preempt_in_blocking_call(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->in_blocking_call, __ATOMIC_RELAXED) != 0;
}
/// Holds the M's goroutine on it (nests): while held, a request stays pending and is honoured at the first
/// safe point after the last release. Only the M's own thread writes it, and only that thread's handler reads
/// it: a signal fence (a compiler barrier) keeps the held code from moving outside the store, no CPU fence.
static inline void gort_preempt_hold(gort_preempt_state_t *state) {
    __atomic_store_n(&state->held, state->held + 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void gort_preempt_release(gort_preempt_state_t *state) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&state->held, state->held - 1, __ATOMIC_RELAXED);
}
static inline bool gort_preempt_is_held(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->held, __ATOMIC_RELAXED) != 0;
}
static inline bool gort_preempt_is_running(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->stack_high, __ATOMIC_RELAXED) != 0;
}
static inline uint64_t gort_preempt_switches(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->switches, __ATOMIC_RELAXED);
}
static inline uint64_t gort_preempt_goroutine(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->goroutine, __ATOMIC_RELAXED);
}
static inline uint32_t gort_preempt_redirected(const gort_preempt_state_t *state) {
    return __atomic_load_n(&state->redirected, __ATOMIC_RELAXED);
}

// ---------------------------------------------------------------- diagnostics (symtab.c, quit.c)
/// What gort_symbolize knows about an address; the strings live for the process.
typedef struct {
    const char *name;         // the function's (mangled) symbol, or NULL
    uintptr_t start;          // the function's first address (0 without a name)
    const char *module_path;  // the module containing the address, or NULL
    uintptr_t module_base;    // its load address
    uintptr_t module_bias;    // its load bias (address - bias = the file's virtual address, what DWARF uses)
} gort_symbol_t;
/// Names the function containing `pc`: the executable's .symtab (read once), else dladdr. False when no
/// module contains `pc`.
bool gort_symbolize(uintptr_t pc, gort_symbol_t *out);
/// The return address of the caller's caller: called directly from `go`, the PC of the `go` statement.
uintptr_t gort_caller_of_caller_pc(void);
/// Installs the SIGQUIT handler if SIGQUIT is at its default: the handler wakes a dedicated thread that
/// calls `callback` in normal context. 1 installed, 0 left alone (the program set its own), -1 error.
int gort_quit_install(void (*callback)(void));
/// An anonymous file (memfd_create, close-on-exec): the debug server's trace buffer. A descriptor, or -1.
int gort_anonymous_file(void);
/// Ends the process by SIGABRT with its default action (GOTRACEBACK=crash).
_Noreturn void gort_abort_with_core(void);

// ---------------------------------------------------------------- Swift exclusivity tracking
// Exported by libswiftCore; Swift's own async runtime brackets each task run with them. A
// goroutine that parks inside an open inout access carries that access with it instead of
// leaking it to the next goroutine that runs on the thread. `state` is two zeroed words per
// goroutine.
void swift_task_enterThreadLocalContext(char *state);
void swift_task_exitThreadLocalContext(char *state);
/// Swift's demangler, exported by libswiftCore: a malloc'ed readable name, or NULL if `name` is not mangled.
char *swift_demangle(const char *mangledName, size_t mangledNameLength, char *outputBuffer,
                     size_t *outputBufferSize, uint32_t flags);

#ifdef __cplusplus
}
#endif
#endif
