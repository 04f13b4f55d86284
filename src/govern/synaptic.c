/* Multi-level synaptic memory (SPEC 3.4), element-wise. */
#include <stdlib.h>

#include "govstream/memory.h"

gs_err_t gs_synaptic_init(gs_synaptic_t *s, size_t dim)
{
    s->dim = dim;
    s->l1 = calloc(3 * dim, sizeof(float));
    if (!s->l1)
        return GS_ERR_NOMEM;
    s->l2 = s->l1 + dim;
    s->l3 = s->l2 + dim;
    return GS_OK;
}

void gs_synaptic_free(gs_synaptic_t *s)
{
    free(s->l1);
    s->l1 = s->l2 = s->l3 = NULL;
}

size_t gs_synaptic_bytes(const gs_synaptic_t *s)
{
    return 3 * s->dim * sizeof(float);
}

void gs_synaptic_update(gs_synaptic_t *s, const float *e)
{
    for (size_t i = 0; i < s->dim; i++) {
        float l1 = s->l1[i] * (1.0f - GS_SYN_LAMBDA1) + e[i];
        float l2 = s->l2[i] * (1.0f - GS_SYN_LAMBDA2);
        float l3 = s->l3[i] * (1.0f - GS_SYN_LAMBDA3);
        if (l1 > GS_SYN_THETA1) {
            float moved = GS_SYN_GATE12 * l1;
            l1 -= moved;
            l2 += moved;
        }
        if (l2 > GS_SYN_THETA2) {
            float moved = GS_SYN_GATE23 * l2;
            l2 -= moved;
            l3 += moved;
        }
        s->l1[i] = l1;
        s->l2[i] = l2;
        s->l3[i] = l3;
    }
}
