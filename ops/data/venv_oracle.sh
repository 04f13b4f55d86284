#!/usr/bin/env bash
# The virtual environment of the intent kind's QP oracle
# (ops/data/intent_qp_oracle.py): numpy, scipy (solve_discrete_are) and DAQP
# (MIT), pinned, from PyPI, in <repo>/.cache/venv-oracle (ops/data/venv.sh).
# The product and the tests never need it; only regenerating the committed
# test vectors does.
#
# Usage: ops/data/venv_oracle.sh        prints the venv's python path
# Versions checked with `pip index versions` on 2026-12-06 (binary wheels for
# CPython 3.11 on x86_64 Linux).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/venv.sh" oracle "numpy, scipy, daqp" numpy==2.3.5 scipy==1.17.1 daqp==0.11.0
