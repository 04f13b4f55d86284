#!/usr/bin/env python3
"""Test vectors for the intent kind's constrained MPC (src/kinds/intent/mpc.c),
computed independently of it: the terminal cost P by scipy's
solve_discrete_are, and each QP by DAQP (MIT) in the *sparse* formulation
(states and inputs as variables, the dynamics as equality constraints), where
the C code condenses the states away and runs its own active-set solver. The
unit test (tests/unit/test_intent_mpc.c) compares the first-step command
(within 1e-6), the plan's cost and the constraints.

Per axis: x = (position error, velocity), A = [[1, dt], [0, 1]],
B = [[dt^2/2], [dt]], cost sum_{k=1}^{N-1} x_k'Qx_k + x_N'Px_N + sum_k r u_k^2,
|u_k| <= a_max, |v_k| <= vb_k = max(v_max, |v_0| - a_max dt k) for k = 1..N
(the bound relaxed to what braking can reach when the robot already moves
faster than v_max, as the C code does).

    "$(ops/data/venv_oracle.sh)" ops/data/intent_qp_oracle.py --out tests/data/intent_qp_cases.json
"""
import argparse
import json
import random

import daqp
import numpy as np
from scipy.linalg import solve_discrete_are

DT, N, A_MAX, V_MAX = 0.1, 10, 3.0, 2.0


def model():
    a = np.array([[1.0, DT], [0.0, 1.0]])
    b = np.array([[DT * DT / 2], [DT]])
    return a, b


def vbounds(v0):
    return [max(V_MAX, abs(v0) - A_MAX * DT * k) for k in range(1, N + 1)]


def solve(x0, q, r):
    """The QP in z = (u_0..u_{N-1}, x_1..x_N): returns u, cost, exitflag."""
    a, b = model()
    qm = np.diag(q)
    p = solve_discrete_are(a, b, qm, np.array([[r]]))
    nz = N + 2 * N
    h = np.zeros((nz, nz))
    for k in range(N):
        h[k, k] = 2 * r
        s = N + 2 * k
        h[s:s + 2, s:s + 2] = 2 * (p if k == N - 1 else qm)
    rows, up, lo, sense = [], [], [], []
    for k in range(N):  # x_{k+1} - A x_k - B u_k = 0 (x_0 known)
        for i in range(2):
            row = np.zeros(nz)
            row[N + 2 * k + i] = 1.0
            row[k] = -b[i, 0]
            rhs = 0.0
            if k == 0:
                rhs = (a @ np.array(x0))[i]
            else:
                row[N + 2 * (k - 1):N + 2 * (k - 1) + 2] -= a[i]
            rows.append(row)
            up.append(rhs)
            lo.append(rhs)
            sense.append(5)
    for k, vb in enumerate(vbounds(x0[1])):  # |v_{k+1}| <= vb
        row = np.zeros(nz)
        row[N + 2 * k + 1] = 1.0
        rows.append(row)
        up.append(vb)
        lo.append(-vb)
        sense.append(0)
    for k in range(N):  # |u_k| <= a_max
        row = np.zeros(nz)
        row[k] = 1.0
        rows.append(row)
        up.append(A_MAX)
        lo.append(-A_MAX)
        sense.append(0)
    z, fval, flag, _ = daqp.solve(h, np.zeros(nz), np.array(rows), np.array(up), np.array(lo),
                                  np.array(sense, dtype=np.int32), primal_tol=1e-12,
                                  dual_tol=1e-14, iter_limit=100000)
    return z[:N], float(fval), int(flag), p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    weights = [((100.0, 10.0), 1.0), ((10.0, 1.0), 0.1), ((1.0, 1.0), 1.0), ((50.0, 5.0), 0.01)]
    cases = []
    for i in range(a.cases):
        q, r = weights[i % len(weights)]
        scale = rng.choice((0.05, 0.5, 2.0))  # near, mid and far from the goal
        x0 = [rng.uniform(-scale, scale), rng.uniform(-2.6, 2.6)]
        u, fval, flag, p = solve(x0, q, r)
        assert flag == 1, (x0, q, r, flag)
        # the plan's cost in the C code's terms: fval + x_0'Qx_0 is not added
        cases.append({"x0": x0, "q": list(q), "r": r, "u": [float(v) for v in u], "cost": fval,
                      "p": [float(v) for v in p.ravel()]})
    out = {"generator": "ops/data/intent_qp_oracle.py", "seed": a.seed, "dt": DT, "horizon": N,
           "a_max": A_MAX, "v_max": V_MAX, "solver": "daqp %s, sparse formulation" % "0.11.0",
           "cases": cases}
    with open(a.out, "w") as fp:
        json.dump(out, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
