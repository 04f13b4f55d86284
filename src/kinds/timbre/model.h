/* The timbre model (private to src/kinds/timbre): the pooled features'
 * standardisation and the perceptron over them, and the CNN on the
 * log-mel frames, in the project's model file format
 * (GS_MODEL_KIND_TIMBRE: tensors mean, scale, w0, b0, w1, b1, ... of the
 * perceptron, c0w, c0b, ... hw, hb of the CNN; the metadata names the
 * features, the families, the layer sizes, the temperatures and which of
 * the two answers, so a model built for other features is refused). */
#ifndef GS_KINDS_TIMBRE_MODEL_H
#define GS_KINDS_TIMBRE_MODEL_H

#include "cnn.h"
#include "features.h"
#include "mlp.h"

#define GS_MODEL_KIND_TIMBRE 4

/* Which of the two answers: chosen by the training on its validation
 * notes (docs/TIMBRE.md, "Classifier"). */
typedef enum { SERVE_MLP = 0, SERVE_CNN = 1, SERVE_MEAN = 2 } timbre_serve_t;
extern const char *const timbre_serve_names[3];

typedef struct timbre_model {
    float mean[GS_TIMBRE_N_POOLED], scale[GS_TIMBRE_N_POOLED];
    mlp_t mlp;
    cnn_t cnn;
    timbre_serve_t serve;
    char name[64], version[64], sha256[65];
} timbre_model_t;

/* Writes m to path; report_json (or NULL) goes into the metadata as
 * "training". */
gs_err_t timbre_model_save(const timbre_model_t *m, const char *path, const char *report_json,
                           char *errstr, size_t errstr_size);
/* Loads and checks a model file (every check of gs_modelfile_open, then
 * the kind, the feature names, the families and the tensor shapes). */
gs_err_t timbre_model_load(const char *path, timbre_model_t *m, char *errstr, size_t errstr_size);
void timbre_model_free(timbre_model_t *m);

/* The standardised model input of one pooled vector. */
void timbre_model_input(const timbre_model_t *m, const double *pooled, float *x);

/* A clip's family probabilities from its frames, as the model serves
 * them; scratch: 2 x 1024 floats, cnn_x: GS_TIMBRE_N_MELS x
 * cnn_width(frames) floats. GS_ERR_NOMEM. */
gs_err_t timbre_model_predict(const timbre_model_t *m, const gs_timbre_frames_t *f, float *scratch,
                              float *cnn_x, double *probs);

#endif
