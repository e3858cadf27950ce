// Runtime-internal locks and notes on Linux futexes.
//
// gort_lock_t: 0 = unlocked, 1 = locked, 2 = locked with possible sleepers (Drepper's
// "Futexes are tricky", mutex #2). It spins briefly first because runtime critical sections are
// a few dozen instructions long: four rounds of 30 pauses, looking at the lock after each round (Go's
// lock2: active_spin 4, active_spin_cnt 30). Looking after every pause made a waiter take a contended
// lock the moment it was free, so a channel's lock and its line changed CPUs on every operation; with
// the rounds its holder usually takes it again first, and runs of operations stay on one CPU (workers
// at 2 Ps, 16 consumers of one channel: ~2x faster, Go's speed; docs/performance.md).
// gort_note_t: 0 = not signalled, 1 = signalled. Sleeping waits while the key is 0, so a wake-up
// that comes before the sleep is never lost.
#include "CGoRuntime.h"
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <sched.h>

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
    return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

void gort_cpu_relax(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("pause" ::: "memory");
#endif
}

void gort_os_yield(void) { sched_yield(); }

void gort_usleep(uint32_t microseconds) {
    struct timespec pause = { .tv_sec = 0, .tv_nsec = (long)microseconds * 1000 };
    nanosleep(&pause, NULL);
}

void gort_lock(gort_lock_t *lock) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&lock->state, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    for (int round = 0; round < 4; round++) {
        for (int spin = 0; spin < 30; spin++) gort_cpu_relax();
        expected = 0;
        if (__atomic_load_n(&lock->state, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&lock->state, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
    // Mark contended; whoever unlocks from state 2 must wake a sleeper.
    while (__atomic_exchange_n(&lock->state, 2, __ATOMIC_ACQUIRE) != 0)
        futex(&lock->state, FUTEX_WAIT_PRIVATE, 2, NULL);
}

void gort_unlock(gort_lock_t *lock) {
    if (__atomic_exchange_n(&lock->state, 0, __ATOMIC_RELEASE) == 2)
        futex(&lock->state, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool gort_lock_is_held(gort_lock_t *lock) {
    return __atomic_load_n(&lock->state, __ATOMIC_RELAXED) != 0;
}

void gort_note_clear(gort_note_t *note) { __atomic_store_n(&note->key, 0, __ATOMIC_RELAXED); }

void gort_note_wakeup(gort_note_t *note) {
    if (__atomic_exchange_n(&note->key, 1, __ATOMIC_RELEASE) == 0)
        futex(&note->key, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void gort_note_sleep(gort_note_t *note) {
    while (__atomic_load_n(&note->key, __ATOMIC_ACQUIRE) == 0)
        futex(&note->key, FUTEX_WAIT_PRIVATE, 0, NULL);
}

bool gort_note_timed_sleep(gort_note_t *note, int64_t ns) {
    if (ns < 0) {
        gort_note_sleep(note);
        return true;
    }
    int64_t deadline = gort_nanotime() + ns;
    while (__atomic_load_n(&note->key, __ATOMIC_ACQUIRE) == 0) {
        int64_t left = deadline - gort_nanotime();
        if (left <= 0) return false;
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        futex(&note->key, FUTEX_WAIT_PRIVATE, 0, &ts);
    }
    return true;
}
