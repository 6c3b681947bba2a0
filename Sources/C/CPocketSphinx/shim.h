#ifndef ANSWER_NINJA_CPOCKETSPHINX_SHIM_H
#define ANSWER_NINJA_CPOCKETSPHINX_SHIM_H
// pocketsphinx 5prealpha with sphinxbase. cmd_ln_init is variadic: build configurations from an argv
// array with the non-variadic parser below. Only Sources/Speech imports this module.
#include <pocketsphinx.h>

static inline cmd_ln_t *cshim_ps_config_from_argv(int argc, char *argv[]) {
    return cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
}
#endif
