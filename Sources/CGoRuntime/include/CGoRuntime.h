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

// ---------------------------------------------------------------- context switch
// The saved state of a suspended stack is just its stack pointer: the callee-saved registers
// (rbx, rbp, r12–r15) are pushed onto the suspended stack itself by gort_context_switch.

/// Saves the current callee-saved registers on the current stack, stores the stack pointer into
/// `*save_sp`, loads `load_sp` and resumes whatever was suspended there.
/// Precondition: `load_sp` was produced by gort_context_switch or gort_context_make.
void gort_context_switch(void **save_sp, void *load_sp);

/// Prepares a fresh stack whose top (highest address, 16-byte aligned) is `stack_top` so that the
/// first switch to the returned stack pointer calls `entry(arg)`. `entry` must never return.
void *gort_context_make(void *stack_top, void (*entry)(void *), void *arg);

// ---------------------------------------------------------------- stack arena
// Stacks are slots carved out of large MAP_NORESERVE arenas: untouched pages cost no memory.
typedef struct {
    void *base;   // lowest address of the slot (the guard page, when it has one)
    void *top;    // one past the highest usable byte; 16-byte aligned
    size_t size;  // slot size in bytes
    bool guarded; // whether the lowest page is PROT_NONE
} gort_stack_t;

/// Sets the slot size (rounded up to pages) and the guard budget; call before the first stack.
void gort_stack_configure(size_t slot_size, size_t guard_budget);
/// Returns a fresh slot (never previously handed out); false when the address space is exhausted.
bool gort_stack_alloc(gort_stack_t *out);
/// Returns the slot's pages (all but the top `keep_bytes`) to the OS; the slot stays reserved.
void gort_stack_release_pages(const gort_stack_t *stack, size_t keep_bytes);
/// Whether the guard budget ran out and some stacks have no guard page (warned once on stderr).
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


// ---------------------------------------------------------------- stacks and modules (tracing)
/// Walks the frame-pointer chain of the caller, writing up to `max` return addresses (the
/// caller's own return address first). Frames must lie in [low, high) and go strictly upward;
/// the walk stops at the first frame that does not (bad or foreign frames end the walk, never
/// fault). Skips `skip` frames first. Returns the number written. Tens of nanoseconds.
size_t gort_capture_stack(uint64_t *pcs, size_t max, size_t skip, uintptr_t low, uintptr_t high);
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

// ---------------------------------------------------------------- Swift exclusivity tracking
// Exported by libswiftCore; Swift's own async runtime brackets each task run with them. A
// goroutine that parks inside an open inout access carries that access with it instead of
// leaking it to the next goroutine that runs on the thread. `state` is two zeroed words per
// goroutine.
void swift_task_enterThreadLocalContext(char *state);
void swift_task_exitThreadLocalContext(char *state);

#ifdef __cplusplus
}
#endif
#endif
