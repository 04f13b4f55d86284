#!/usr/bin/env bash
# The virtual environment of the screen evaluation's reference oracle
# (ops/data/screen_reference.py): rapidfuzz and numpy, pinned, from PyPI.
# The product never needs it; only the reference decisions do.
#
# Usage: ops/data/venv_eval.sh        prints the venv's python path
# Creates or updates <repo>/.cache/venv-eval; idempotent (a stamp records
# the pins installed); quiet unless it fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.cache/venv-eval"
# versions checked with `pip index versions` on 2026-12 (binary wheels for
# CPython 3.11 on x86_64 Linux)
PINS=(rapidfuzz==3.14.3 numpy==2.3.5)
stamp="$venv/.pins"

die() { echo "venv_eval: ERROR: $*" >&2; exit 1; }

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
  "$venv/bin/python" -c 'import rapidfuzz, numpy' || die "rapidfuzz or numpy does not import"
  echo "${PINS[*]}" >"$stamp"
fi
echo "$venv/bin/python"
