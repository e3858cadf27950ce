// signal_thread.h — a detached thread that never runs a signal handler (private to CGoRuntime): the threads
// that do in normal context what a handler only requests through a pipe (signal_flush.c's trace flush,
// quit.c's goroutine dump).
#ifndef GORT_SIGNAL_THREAD_H
#define GORT_SIGNAL_THREAD_H

#include <stddef.h>

// Starts `main` on a detached thread with every signal blocked (it inherits the creator's mask, which is set
// to all signals for the instant of the creation and restored). `stack_size` 0: the default size.
// Returns pthread_create's result (0 on success).
int gort_start_signal_free_thread(void *(*main)(void *), size_t stack_size);

#endif
