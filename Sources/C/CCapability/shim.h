#ifndef ANSWER_NINJA_CCAPABILITY_SHIM_H
#define ANSWER_NINJA_CCAPABILITY_SHIM_H
// The calling thread's capability sets (capget/capset, linux/capability.h; glibc has no header for the two calls,
// and libcap is not needed for this). Capabilities are per thread: these change the calling thread only.
// Only Sources/MediaTransport imports this module (MediaThreads).
#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Puts `capability` (CAP_SYS_NICE is 23) into the calling thread's effective set, from its permitted set. Returns
/// 0 when it was raised now, 1 when it was effective already (root), EPERM when it is not permitted (a process
/// without it, or whose file capability no_new_privs or the bounding set kept back), or another errno.
static inline int cshim_raise_capability(int capability) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (capability < 0 || capability >= 32 * _LINUX_CAPABILITY_U32S_3) return EINVAL;
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    unsigned word = (unsigned)capability / 32, bit = 1u << ((unsigned)capability % 32);
    if (data[word].effective & bit) return 1;
    if (!(data[word].permitted & bit)) return EPERM;
    data[word].effective |= bit;
    return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

/// Takes `capability` out of the calling thread's effective set (it stays permitted). Returns 0 or an errno.
static inline int cshim_lower_capability(int capability) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (capability < 0 || capability >= 32 * _LINUX_CAPABILITY_U32S_3) return EINVAL;
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    data[(unsigned)capability / 32].effective &= ~(1u << ((unsigned)capability % 32));
    return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}
#endif
