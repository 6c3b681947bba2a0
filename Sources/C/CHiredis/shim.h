#ifndef ANSWER_NINJA_CHIREDIS_SHIM_H
#define ANSWER_NINJA_CHIREDIS_SHIM_H
// hiredis 0.14 (no TLS in Debian's build). redisCommand is variadic: use redisCommandArgv.
// Only Sources/Store imports this module.
#include <hiredis.h>

static inline int cshim_hiredis_major(void) { return HIREDIS_MAJOR; }
static inline int cshim_hiredis_minor(void) { return HIREDIS_MINOR; }
static inline int cshim_hiredis_patch(void) { return HIREDIS_PATCH; }
#endif
