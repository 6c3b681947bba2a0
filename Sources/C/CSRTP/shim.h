#ifndef ANSWER_NINJA_CSRTP_SHIM_H
#define ANSWER_NINJA_CSRTP_SHIM_H
// libsrtp2 (Debian's build, on NSS). Only Sources/SRTP imports this module.
#include <srtp2/srtp.h>
#endif
