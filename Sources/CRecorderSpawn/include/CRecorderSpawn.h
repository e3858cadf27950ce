// Starting the program `gotrace record` traces. C because the work between fork and exec must be
// async-signal-safe, and prctl(2) is variadic (Swift cannot call it).
#ifndef CRECORDER_SPAWN_H
#define CRECORDER_SPAWN_H

#include <sys/types.h>

/// Starts `argv[0]` (searched in PATH, as execvp does) with `envp`, its descriptor `trace_fd` inherited
/// (close-on-exec cleared in the child only) and tied to the calling thread's life:
///   1. PR_SET_PDEATHSIG(SIGKILL): if the recorder dies (even by SIGKILL) the program is killed too, so it
///      never outlives the process recording it; a recorder that died before the child set this is
///      detected by its parent pid changing, and the child kills itself the same way.
///   2. SIGINT, SIGTERM, SIGPIPE and SIGXFSZ are reset to their default action (the recorder ignores
///      SIGXFSZ, and ignored signals would otherwise stay ignored across exec), and the mask is emptied.
/// Returns 0 and stores the pid, or returns the errno of the failed step (exec failures included: they
/// are reported back through a close-on-exec pipe, so "no such program" is an error here, not an exit
/// status of 127 later).
/// Precondition: `argv` and `envp` are NULL-terminated. Safe from a multi-threaded caller: fork copies
/// only the calling thread, and the child makes only async-signal-safe calls (plus execvpe, whose PATH
/// search in glibc builds the candidate paths on the stack, never with malloc) before exec.
int gotrace_record_spawn(char *const argv[], char *const envp[], int trace_fd, pid_t *pid_out);

#endif
