/* The intent kind's constrained MPC (issue 13, SPEC 1.3; private to
 * src/kinds/intent): a double integrator per axis (x = position error,
 * velocity; u = acceleration), dt and horizon N from the configuration,
 * |u| <= a_max and |v| <= v_max, stage cost x'Qx + r u^2 with diagonal Q, and
 * the terminal cost P of the discrete algebraic Riccati equation, solved once
 * at load by the doubling algorithm. Each cycle solves the condensed QP of
 * each axis (exact for diagonal weights and box bounds) with a primal
 * active-set method; not LQR plus clipping. */
#ifndef GS_KINDS_INTENT_MPC_H
#define GS_KINDS_INTENT_MPC_H

#include <stddef.h>

#include "govstream/common.h"

#define MPC_MAX_N 32

typedef struct mpc_conf {
    double dt, a_max, v_max;
    int horizon;
    double q_pos, q_vel, r; /* Q = diag(q_pos, q_vel) */
} mpc_conf_t;

/* What the Riccati solution is, checked at load. */
typedef struct mpc_dare {
    double p[2][2];  /* terminal cost P */
    double k[2];     /* u = -K x, K = (r + B'PB)^-1 B'PA */
    double residual; /* |P - riccati(P)| / |P|, Frobenius */
    double rho;      /* spectral radius of A - BK: < 1 */
    int iterations;
} mpc_dare_t;

typedef enum {
    MPC_OPTIMAL = 0, /* the QP's optimum */
    MPC_RELAXED,     /* optimal, with |v| bounds relaxed to what braking reaches */
    MPC_MAX_ITER,    /* stopped at the iteration limit: feasible, not proven optimal */
} mpc_status_t;

typedef struct mpc_plan {
    double u[MPC_MAX_N];
    double cost; /* sum_{k=1}^{N-1} x'Qx + x_N'Px_N + sum r u^2 */
    int iterations;
    mpc_status_t status;
} mpc_plan_t;

typedef struct mpc mpc_t;

/* Solves the DARE, condenses the QP and inverts its Hessian (the same every
 * cycle). GS_ERR_INVALID_ARG for weights or limits out of range, or a
 * Riccati solution that is not stabilising. */
gs_err_t mpc_new(const mpc_conf_t *c, mpc_t **out, char *errstr, size_t errstr_size);
void mpc_destroy(mpc_t *m);
const mpc_dare_t *mpc_dare(const mpc_t *m);
int mpc_horizon(const mpc_t *m);

/* One axis: the plan from position error p and velocity v. */
void mpc_solve(const mpc_t *m, double p, double v, mpc_plan_t *out);

/* "optimal", "relaxed", "max_iterations". */
const char *mpc_status_name(mpc_status_t s);

#endif
