#ifndef ANSWER_NINJA_CTHREADPRIORITY_SHIM_H
#define ANSWER_NINJA_CTHREADPRIORITY_SHIM_H
// On Linux a nice value belongs to a thread: setpriority(PRIO_PROCESS, tid) lowers the calling thread alone.
// glibc's gettid() is not visible to Swift, and syscall() is variadic: both wrapped here.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

// Raises the calling thread's nice value to `nice_value` (lower priority; an unprivileged process may do this,
// never the reverse). 0 on success, -1 with errno set.
static inline int cshim_lower_thread_priority(int nice_value) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
}

// The calling thread's nice value.
static inline int cshim_thread_priority(void) {
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}
#endif
