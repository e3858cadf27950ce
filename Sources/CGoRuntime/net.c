// epoll and eventfd for the network poller (GoRuntime/NetPoller.swift).
//
// Swift's Glibc module does not export <sys/epoll.h> or <sys/eventfd.h>, and `struct epoll_event`
// is packed on x86_64 (12 bytes), so the poller reaches them through these wrappers, which take
// and return plain integers; accept4 is a GNU extension the module does not declare either.
// Everything else the sockets need (socket, connect, read, send, setsockopt) Swift calls
// directly: SOCK_NONBLOCK / SOCK_CLOEXEC replace the variadic fcntl.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441  // same number on every architecture (Linux 5.11)
#endif

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if __has_feature(thread_sanitizer)
// ThreadSanitizer learns that a registration happens before the wait that reports its event from its
// interceptors of epoll_ctl (a release on the epoll fd) and epoll_wait (an acquire), but epoll_pwait2 goes
// through syscall(), which it does not see: without the same pair said here, the poller's first read of a
// descriptor registered by another thread (NetPoller.poll) looks like a race with its initialisation.
void __tsan_acquire(void *address);
void __tsan_release(void *address);
static char epoll_registrations;
#define GORT_TSAN_RELEASE_REGISTRATION() __tsan_release(&epoll_registrations)
#define GORT_TSAN_ACQUIRE_REGISTRATIONS() __tsan_acquire(&epoll_registrations)
#else
#define GORT_TSAN_RELEASE_REGISTRATION() ((void)0)
#define GORT_TSAN_ACQUIRE_REGISTRATIONS() ((void)0)
#endif

int gort_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int gort_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    int kernel_op = op == GORT_EPOLL_ADD ? EPOLL_CTL_ADD : op == GORT_EPOLL_MOD ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    GORT_TSAN_RELEASE_REGISTRATION();
    return epoll_ctl(epfd, kernel_op, fd, &event) == 0 ? 0 : errno;
}

// -1: epoll_pwait2 not tried yet; 0: unavailable (ENOSYS, e.g. seccomp); 1: available. Racy
// initialisation is harmless: every thread reaches the same answer.
static int have_pwait2 = -1;

int gort_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int64_t timeout_ns) {
    // 128 is what one wait drains at most; callers pass max <= 128.
    struct epoll_event buffer[128];
    if (max > 128) max = 128;
    // The kernel's writes into a goroutine stack's guard fail with EFAULT instead of growing it
    // (stack.c): touch the buffer's pages from user space first, in case this runs on one.
    for (size_t offset = 0; offset < sizeof buffer; offset += 4096) ((volatile char *)buffer)[offset] = 0;
    ((volatile char *)buffer)[sizeof buffer - 1] = 0;
    int n;
    int pwait2 = __atomic_load_n(&have_pwait2, __ATOMIC_RELAXED);
    if (timeout_ns > 0 && pwait2 != 0) {
        // Nanosecond timeout: epoll_wait's milliseconds would make every timer the watcher
        // sleeps for up to 1 ms late.
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
        n = (int)syscall(SYS_epoll_pwait2, epfd, buffer, max, &ts, NULL, 0);
        if (n > 0) GORT_TSAN_ACQUIRE_REGISTRATIONS();
        if (n < 0 && errno == ENOSYS) {
            __atomic_store_n(&have_pwait2, 0, __ATOMIC_RELAXED);
            pwait2 = 0;
        } else if (pwait2 < 0) {
            __atomic_store_n(&have_pwait2, 1, __ATOMIC_RELAXED);
        }
    }
    if (timeout_ns <= 0 || pwait2 == 0) {
        int ms;
        if (timeout_ns < 0) ms = -1;
        else if (timeout_ns == 0) ms = 0;
        else if (timeout_ns > (int64_t)1000 * 1000000000) ms = 1000 * 1000;  // callers loop
        else ms = (int)((timeout_ns + 999999) / 1000000);  // round up: never wake before the deadline
        n = epoll_wait(epfd, buffer, max, ms);
    }
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        events[i] = buffer[i].events;
        data[i] = buffer[i].data.u64;
    }
    return n;
}

int gort_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int gort_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void gort_eventfd_signal(int fd) {
    uint64_t one = 1;
    // EAGAIN means the counter is saturated: it is already readable, which is all we want.
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

void gort_eventfd_drain(int fd) {
    uint64_t value;
    while (read(fd, &value, sizeof value) < 0 && errno == EINTR) {}
}
#endif
