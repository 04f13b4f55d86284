/* Wake/sleep rhythm (SPEC 3.3). Unlike the reference, it advances on every
 * governed request, so a scope can never stay asleep. */
#include "govstream/govern.h"

void gs_rhythm_init(gs_rhythm_t *r, uint32_t wake_steps, uint32_t sleep_steps)
{
    r->wake_steps = wake_steps ? wake_steps : 1;
    r->sleep_steps = sleep_steps ? sleep_steps : 1;
    r->pos = 0;
    r->steps = 0;
}

gs_phase_t gs_rhythm_phase(const gs_rhythm_t *r)
{
    return r->pos < r->wake_steps ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
}

int gs_rhythm_step(gs_rhythm_t *r)
{
    r->steps++;
    r->pos = (r->pos + 1) % (r->wake_steps + r->sleep_steps);
    return r->pos == r->wake_steps;
}
