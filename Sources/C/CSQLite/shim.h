#ifndef ANSWER_NINJA_CSQLITE_SHIM_H
#define ANSWER_NINJA_CSQLITE_SHIM_H
// The system libsqlite3. SQLITE_TRANSIENT is a cast macro Swift cannot import: wrapped below.
// Only Sources/Store imports this module.
#include <sqlite3.h>

static inline sqlite3_destructor_type cshim_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
