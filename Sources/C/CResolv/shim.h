#ifndef ANSWER_NINJA_CRESOLV_SHIM_H
#define ANSWER_NINJA_CRESOLV_SHIM_H
// glibc's stub resolver (res_nquery on a private res_state: thread-safe, blocking). res_ninit and res_nclose are
// macros, and a test or a deployment may name its own DNS server: both wrapped below.
// Only Sources/SIPTransport imports this module.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

/// Queries `name` (absolute, no search list) for `type` in class IN and writes the answer to `answer`. With a
/// `server` (an IPv4 address) and `port`, that server is the only one asked, twice at most, a second apart;
/// without, /etc/resolv.conf's servers and options apply. Returns the answer's length, or -1 with `*error` set to
/// h_errno's HOST_NOT_FOUND (1, NXDOMAIN), TRY_AGAIN (2, server failure or time-out), NO_RECOVERY (3), NO_DATA (4),
/// or -1 when the resolver cannot start, -2 for a bad server address.
static inline int cshim_res_query(const char *server, int port, const char *name, int type, unsigned char *answer, int length, int *error) {
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) { *error = -1; return -1; }
    if (server != NULL) {
        struct in_addr address;
        if (inet_pton(AF_INET, server, &address) != 1) { res_nclose(&state); *error = -2; return -1; }
        state.nscount = 1;
        state.nsaddr_list[0].sin_family = AF_INET;
        state.nsaddr_list[0].sin_addr = address;
        state.nsaddr_list[0].sin_port = htons((unsigned short)port);
        state.retrans = 1;
        state.retry = 2;
    }
    int count = res_nquery(&state, name, ns_c_in, type, answer, length);
    *error = count < 0 ? state.res_h_errno : 0;
    res_nclose(&state);
    return count;
}
#endif
