/* Adaptive moral filter (SPEC 3.1). */
#include "govstream/govern.h"

void gs_moral_init(gs_moral_t *m)
{
    m->t20 = GS_MORAL_T20_INIT;
    m->ema = 0.5;
}

double gs_moral_threshold(const gs_moral_t *m)
{
    return m->t20 / 20.0;
}

int gs_moral_evaluate(const gs_moral_t *m, double v)
{
    if (v >= GS_MORAL_ACCEPT_ALWAYS)
        return 1;
    if (v < GS_MORAL_REJECT_BELOW)
        return 0;
    return v >= gs_moral_threshold(m);
}

/* The +-0.05 dead band is applied to the exact error: float noise below
 * this is not an error. (From ema 0.5 one acceptance gives ema 0.55, an
 * error of exactly 0.05 that must not move the threshold, but
 * 0.05000000000000004 in doubles.) */
#define BAND_EPS 1e-9

void gs_moral_adapt(gs_moral_t *m, int accepted)
{
    m->ema = 0.1 * (accepted ? 1.0 : 0.0) + 0.9 * m->ema;
    double err = m->ema - 0.5;
    if (err > 0.05 + BAND_EPS && m->t20 < GS_MORAL_T20_MAX)
        m->t20++;
    else if (err < -0.05 - BAND_EPS && m->t20 > GS_MORAL_T20_MIN)
        m->t20--;
}
