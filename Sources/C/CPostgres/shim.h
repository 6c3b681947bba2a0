#ifndef ANSWER_NINJA_CPOSTGRES_SHIM_H
#define ANSWER_NINJA_CPOSTGRES_SHIM_H
// libpq. Blocking: only Sources/Store imports it, and only its dedicated thread pool calls it.
#include <libpq-fe.h>
#endif
