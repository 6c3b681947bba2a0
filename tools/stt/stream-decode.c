/*
 * stream-decode: decode raw 16-bit little-endian mono files the way a live application does.
 *
 *   stream-decode CTL DIR EXT BLOCK [pocketsphinx options...]
 *
 * For every id in CTL it reads DIR/id EXT and prints "hypothesis (id score)" like pocketsphinx_batch.
 * BLOCK > 0: ps_start_utt, ps_process_raw in BLOCK-sample blocks with full_utt = FALSE, ps_end_utt
 *            (this pocketsphinx version then switches to live CMN, seeded from -cmninit).
 * BLOCK = 0: one ps_process_raw call with the whole file and full_utt = TRUE (utterance-level, batch CMN),
 *            which is what the product does per VAD segment.
 * Before each file the live CMN mean is reset to its value after ps_init (the -cmninit of feat.params), so
 * every file behaves like the first utterance of a new call.
 */
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char *argv[])
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s CTL DIR EXT BLOCK [pocketsphinx options...]\n", argv[0]);
        return 2;
    }
    const char *ctl = argv[1], *dir = argv[2], *ext = argv[3];
    int block = atoi(argv[4]);
    cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), argc - 5, argv + 5, TRUE);
    if (config == NULL) return 2;
    ps_decoder_t *ps = ps_init(config);
    if (ps == NULL) { fprintf(stderr, "ps_init failed\n"); return 2; }
    cmn_t *cmn = ps_get_feat(ps)->cmn_struct;
    int veclen = cmn->veclen;
    mfcc_t *seed = malloc(sizeof(mfcc_t) * veclen);
    memcpy(seed, cmn->cmn_mean, sizeof(mfcc_t) * veclen);

    FILE *ids = fopen(ctl, "r");
    if (ids == NULL) { perror(ctl); return 2; }
    char id[1024], path[4096];
    while (fscanf(ids, "%1023s", id) == 1) {
        snprintf(path, sizeof path, "%s/%s%s", dir, id, ext);
        FILE *fh = fopen(path, "rb");
        if (fh == NULL) { perror(path); return 2; }
        fseek(fh, 0, SEEK_END);
        long n = ftell(fh) / 2;
        fseek(fh, 0, SEEK_SET);
        int16 *pcm = malloc(sizeof(int16) * (n + 1));
        if (fread(pcm, sizeof(int16), n, fh) != (size_t)n) { perror(path); return 2; }
        fclose(fh);

        cmn_live_set(cmn, seed);
        ps_start_utt(ps);
        if (block > 0) {
            for (long i = 0; i < n; i += block) {
                long len = n - i < block ? n - i : block;
                ps_process_raw(ps, pcm + i, len, FALSE, FALSE);
            }
        } else {
            ps_process_raw(ps, pcm, n, FALSE, TRUE);
        }
        ps_end_utt(ps);
        int32 score = 0;
        const char *hyp = ps_get_hyp(ps, &score);
        printf("%s (%s %d)\n", hyp ? hyp : "", id, score);
        fflush(stdout);
        free(pcm);
    }
    fclose(ids);
    free(seed);
    ps_free(ps);
    cmd_ln_free_r(config);
    return 0;
}
