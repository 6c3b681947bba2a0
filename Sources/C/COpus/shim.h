#ifndef ANSWER_NINJA_COPUS_SHIM_H
#define ANSWER_NINJA_COPUS_SHIM_H
// libopus. opus_encoder_ctl/opus_decoder_ctl are variadic and their requests are macros, which Swift
// cannot call: each request we use gets a typed static inline wrapper here. Only Sources/Codecs imports it.
#include <opus.h>

static inline int cshim_opus_set_bitrate(OpusEncoder *e, opus_int32 bps) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(bps)); }
static inline int cshim_opus_set_complexity(OpusEncoder *e, opus_int32 c) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(c)); }
static inline int cshim_opus_set_inband_fec(OpusEncoder *e, opus_int32 on) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(on)); }
static inline int cshim_opus_set_packet_loss_perc(OpusEncoder *e, opus_int32 p) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(p)); }
static inline int cshim_opus_set_dtx(OpusEncoder *e, opus_int32 on) { return opus_encoder_ctl(e, OPUS_SET_DTX(on)); }
static inline int cshim_opus_set_signal_voice(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); }
static inline int cshim_opus_get_lookahead(OpusEncoder *e, opus_int32 *out) { return opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(out)); }
static inline int cshim_opus_decoder_get_last_packet_duration(OpusDecoder *d, opus_int32 *out) { return opus_decoder_ctl(d, OPUS_GET_LAST_PACKET_DURATION(out)); }
#endif
