#!/usr/bin/env bash
# The virtual environment of the intent kind's QP oracle
# (ops/data/intent_qp_oracle.py): numpy, scipy (solve_discrete_are) and DAQP
# (MIT), pinned, from PyPI. The product and the tests never need it; only
# regenerating the committed test vectors does.
#
# Usage: ops/data/venv_oracle.sh        prints the venv's python path
# Creates or updates <repo>/.cache/venv-oracle; idempotent; quiet unless it fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.cache/venv-oracle"
# versions checked with `pip index versions` on 2026-12-06 (binary wheels for
# CPython 3.11 on x86_64 Linux)
PINS=(numpy==2.3.5 scipy==1.17.1 daqp==0.11.0)
stamp="$venv/.pins"

die() { echo "venv_oracle: ERROR: $*" >&2; exit 1; }

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${PINS[*]}" ]]; then
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --only-binary=:all: "${PINS[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    die "pip could not install ${PINS[*]}"
  fi
  "$venv/bin/python" -c 'import numpy, scipy, daqp' || die "numpy, scipy or daqp does not import"
  echo "${PINS[*]}" >"$stamp"
fi
echo "$venv/bin/python"
