#ifndef ANSWER_NINJA_CPOCKETSPHINX_SHIM_H
#define ANSWER_NINJA_CPOCKETSPHINX_SHIM_H
// pocketsphinx 5prealpha with sphinxbase. cmd_ln_init is variadic: build configurations from an argv
// array with the non-variadic parser below. Only Sources/Speech imports this module.
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/err.h>
#include <string.h>

static inline cmd_ln_t *cshim_ps_config_from_argv(int argc, char *argv[]) {
    return cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
}

// Live cepstral mean normalisation: the mean after ps_init is the model's -cmninit (its feat.params). A new
// stream starts from it again, so that every call's first utterance is normalised alike.
static inline int cshim_ps_cmn_length(ps_decoder_t *ps) {
    return ps_get_feat(ps)->cmn_struct->veclen;
}
static inline void cshim_ps_cmn_get(ps_decoder_t *ps, float *out) {
    cmn_t *cmn = ps_get_feat(ps)->cmn_struct;
    for (int i = 0; i < cmn->veclen; i++) out[i] = (float)cmn->cmn_mean[i];
}
static inline void cshim_ps_cmn_set(ps_decoder_t *ps, const float *mean) {
    cmn_t *cmn = ps_get_feat(ps)->cmn_struct;
    mfcc_t values[64];
    int n = cmn->veclen < 64 ? cmn->veclen : 64;
    for (int i = 0; i < n; i++) values[i] = (mfcc_t)mean[i];
    cmn_live_set(cmn, values);
}
// pocketsphinx logs to stderr by default; the product keeps its logs as JSON lines.
static inline void cshim_ps_quiet(void) {
    err_set_logfp(NULL);
}
static inline double cshim_ps_probability(ps_decoder_t *ps, int32 logprob) {
    return logmath_exp(ps_get_logmath(ps), logprob);
}
#endif
