/* A small 2-D CNN on a clip's log-mel frames (private to src/kinds/timbre,
 * docs/TIMBRE.md, "Classifier"). The input is the clip's dB mel (128
 * bands) averaged over CNN_POOL frames (93 ms), relative to the clip's
 * loudest band and scaled to [0, 1]; three 3 x 3 convolutions of stride 2
 * (1 -> 16 -> 32 -> 64 channels, ReLU), an average over every remaining
 * position, and one dense layer to the 11 families. Convolving across the
 * bands as well as time lets one filter see a spectral shape at any
 * pitch. im2col and SGEMM, one clip at a time (clips differ in length). */
#ifndef GS_KINDS_TIMBRE_CNN_H
#define GS_KINDS_TIMBRE_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "features.h"
#include "mlp.h"

#define CNN_POOL   4 /* frames averaged into one input column */
#define CNN_LAYERS 3

/* The channels of this build's network: 1, 16, 32, 64. */
extern const int cnn_channels[CNN_LAYERS + 1];

typedef struct cnn {
    int ch[CNN_LAYERS + 1];               /* channels: 1, 16, 32, 64 */
    float *w[CNN_LAYERS], *b[CNN_LAYERS]; /* w[l]: ch[l+1] x (ch[l] * 9) */
    float *hw, *hb;                       /* dense: classes x ch[CNN_LAYERS] */
    int classes;
    float temperature;
} cnn_t;

gs_err_t cnn_init(cnn_t *c, int classes, uint64_t seed, char *errstr, size_t errstr_size);
void cnn_free(cnn_t *c);

/* Input columns of a clip of n_frames frames. */
size_t cnn_width(size_t n_frames);
/* The CNN input (GS_TIMBRE_N_MELS x cnn_width, band-major) of a clip's
 * frames. */
void cnn_input(const gs_timbre_frames_t *f, float *x);

/* One clip's class probabilities (temperature applied); x is
 * GS_TIMBRE_N_MELS x width. GS_ERR_NOMEM. */
gs_err_t cnn_predict(const cnn_t *c, const float *x, size_t width, float *probs);

/* Training rows: row i is x + off[i] (GS_TIMBRE_N_MELS x width[i]). */
typedef struct cnn_rows {
    const float *x;
    const size_t *off, *width;
    const int *y;
    size_t n;
} cnn_rows_t;

/* As mlp_fit: Adam on the class-weighted cross-entropy, early stopping on
 * the validation rows, then the temperature. */
gs_err_t cnn_fit(cnn_t *c, const cnn_rows_t *train, const cnn_rows_t *val, const mlp_fit_conf_t *fc,
                 mlp_fit_result_t *res, char *errstr, size_t errstr_size);

#endif
