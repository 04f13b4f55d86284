#!/usr/bin/env bash
# A pinned Python virtual environment for one of the oracles or references
# under ops/data/ (venv_eval.sh, venv_oracle.sh name theirs and their pins).
# The product never needs one.
#
# Usage: ops/data/venv.sh NAME MODULES PIN...   prints the venv's python path
# (MODULES: what must import afterwards, as in `import MODULES`)
# Creates or updates <repo>/.cache/venv-NAME with binary wheels from PyPI;
# idempotent (a stamp records the pins installed); quiet unless it fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[[ $# -ge 3 ]] || { echo "usage: $0 NAME MODULES PIN..." >&2; exit 2; }
name=$1 modules=$2
shift 2
venv="$repo/.cache/venv-$name"
stamp="$venv/.pins"

die() { echo "venv $name: ERROR: $*" >&2; exit 1; }

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$*" ]]; then
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --only-binary=:all: "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "pip could not install $*"
  fi
  "$venv/bin/python" -c "import $modules" || die "$modules do not import"
  echo "$*" >"$stamp"
fi
echo "$venv/bin/python"
