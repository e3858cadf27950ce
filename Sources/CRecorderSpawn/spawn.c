// See CRecorderSpawn.h for the contract. Rejected: posix_spawn (what the recorder used before) cannot run
// prctl in the child, and without PR_SET_PDEATHSIG a program whose recorder was SIGKILLed keeps running,
// unrecorded and orphaned.
#define _GNU_SOURCE
#include "CRecorderSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const int reset_signals[] = {SIGINT, SIGTERM, SIGPIPE, SIGXFSZ};

// Child side, between fork and exec: only async-signal-safe calls. Reports errno on `report` and exits.
static void run_child(char *const argv[], char *const envp[], int trace_fd, int report, pid_t recorder) {
    int failure = 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        failure = errno;
    } else if (getppid() != recorder) {
        // The recorder died between fork and prctl: nothing will ever read the trace.
        raise(SIGKILL);
    }
    if (failure == 0) {
        int flags = fcntl(trace_fd, F_GETFD);
        if (flags < 0 || fcntl(trace_fd, F_SETFD, flags & ~FD_CLOEXEC) != 0) failure = errno;
    }
    if (failure == 0) {
        struct sigaction defaults = {0};
        defaults.sa_handler = SIG_DFL;
        sigemptyset(&defaults.sa_mask);
        for (size_t index = 0; index < sizeof reset_signals / sizeof reset_signals[0]; index++) {
            sigaction(reset_signals[index], &defaults, NULL);
        }
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        execvpe(argv[0], argv, envp);
        failure = errno;
    }
    ssize_t written;
    do {
        written = write(report, &failure, sizeof failure);
    } while (written < 0 && errno == EINTR);
    _exit(127);
}

int gotrace_record_spawn(char *const argv[], char *const envp[], int trace_fd, pid_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t recorder = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int failure = errno;
        close(report[0]);
        close(report[1]);
        return failure;
    }
    if (pid == 0) {
        close(report[0]);
        run_child(argv, envp, trace_fd, report[1], recorder);
    }
    close(report[1]);
    // EOF (0 bytes) means exec succeeded: the close-on-exec write end closed with the old image.
    int failure = 0;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return failure != 0 ? failure : ECHILD;
    }
    *pid_out = pid;
    return 0;
}
