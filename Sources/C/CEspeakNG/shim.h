#ifndef ANSWER_NINJA_CESPEAKNG_SHIM_H
#define ANSWER_NINJA_CESPEAKNG_SHIM_H
// espeak-ng: process-global and not re-entrant, so one synthesis thread owns it. Only Sources/Speech
// imports this module.
#include <espeak-ng/speak_lib.h>
#endif
