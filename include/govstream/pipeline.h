/* govstream - the worker: one poll loop per process that drives
 *   consume -> decode -> govern -> infer -> encode -> produce -> commit
 * for every enabled request kind (SPEC 2). */
#ifndef GOVSTREAM_PIPELINE_H
#define GOVSTREAM_PIPELINE_H

#include <signal.h>

#include "govstream/config.h"
#include "govstream/kind.h"
#include "govstream/log.h"

/* Bits of the process's signal flag (the only global, set by handlers). */
#define GS_SIG_STOP   1 /* SIGTERM, SIGINT: drain, commit, exit */
#define GS_SIG_RELOAD 2 /* SIGHUP: reload models */

typedef struct gs_worker gs_worker_t;

/* Serves the enabled kinds of `kinds` (NULL-terminated: gs_kinds, or a
 * test's table); cfg must have been loaded with their sections. cfg, kinds
 * and log are borrowed and must outlive the worker. A kind that cannot be
 * created makes this fail, with everything made so far freed. */
gs_err_t gs_worker_new(const gs_config_t *cfg, const gs_kind_ops_t *const *kinds, gs_log_t *log,
                       gs_worker_t **out, char *errstr, size_t errstr_size);

/* Runs until GS_SIG_STOP is raised in *signals or a fatal error occurs.
 * Returns the process exit code: 0 after a clean drain within
 * shutdown.timeout_ms, 4 when the drain ran out of time with records still
 * unacknowledged (their offsets are not committed: redelivered later),
 * 1 after a fatal error. */
int gs_worker_run(gs_worker_t *w, volatile sig_atomic_t *signals);

void gs_worker_destroy(gs_worker_t *w);

/* Compiles the alert rules against the worker's metrics (check-config):
 * GS_ERR_CONFIG naming the rule when one refers to an unknown metric. */
gs_err_t gs_worker_check_alerts(const gs_config_t *cfg, char *errstr, size_t errstr_size);

#endif
