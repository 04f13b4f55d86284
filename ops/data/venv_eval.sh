#!/usr/bin/env bash
# The virtual environment of the screen evaluation's reference oracle
# (ops/data/screen_reference.py): rapidfuzz and numpy, pinned, from PyPI,
# in <repo>/.cache/venv-eval (ops/data/venv.sh). The product never needs it.
#
# Usage: ops/data/venv_eval.sh        prints the venv's python path
# Versions checked with `pip index versions` on 2026-12 (binary wheels for
# CPython 3.11 on x86_64 Linux).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/venv.sh" eval "rapidfuzz, numpy" rapidfuzz==3.14.3 numpy==2.3.5
