#ifndef ANSWER_NINJA_CSPEEXDSP_SHIM_H
#define ANSWER_NINJA_CSPEEXDSP_SHIM_H
// libspeexdsp: resampler, echo canceller, preprocessor. Only Sources/MediaDSP imports this module.
#include <speex/speex_resampler.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#endif
