#!/usr/bin/env bash
# Issue 10: the project's licence and its dependencies' licences are written
# down and stay true. LICENSE is Apache-2.0; every pkg-config module that
# CMakeLists.txt links has a row in docs/LICENSES.md; and every row's licence
# is the one Debian's copyright file of that package declares.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init licences
doc=$GS_SOURCE_DIR/docs/LICENSES.md

head -n 3 "$GS_SOURCE_DIR/LICENSE" | grep -q 'Apache License' || fail "LICENSE is not the Apache License"
grep -q 'Version 2.0, January 2004' "$GS_SOURCE_DIR/LICENSE" || fail "LICENSE is not version 2.0"
grep -q 'Apache License, Version 2.0' "$doc" || fail "docs/LICENSES.md does not name the project's licence"

# the rows of the "What the product links" table: | `pc` | `deb` | licence | use |
# shellcheck disable=SC2016 # backticks are Markdown here, not expansions
rows=$(sed -n '/^## What the product links/,/^## /p' "$doc" | grep -E '^\| `[^`]+` \| `[^`]+` \|')
[ -n "$rows" ] || fail "no dependency rows in docs/LICENSES.md"

mapfile -t modules < <(grep -oE 'pkg_check_modules\([A-Z_]+ REQUIRED IMPORTED_TARGET [^ )]+' \
  "$GS_SOURCE_DIR/CMakeLists.txt" "$GS_SOURCE_DIR/tests/CMakeLists.txt" | awk '{print $NF}')
[ "${#modules[@]}" -ge 9 ] || fail "found only ${#modules[@]} pkg-config modules"
for m in "${modules[@]}"; do
  grep -qF "| \`$m\` |" <<<"$rows" || fail "pkg-config module $m is linked but has no row in docs/LICENSES.md"
done

checked=0
while IFS='|' read -r _ pc deb lic _; do
  deb=$(tr -d ' `' <<<"$deb")
  lic=$(sed 's/^ *//; s/ *$//' <<<"$lic")
  cr=/usr/share/doc/$deb/copyright
  [ -f "$cr" ] || fail "$deb: no $cr (is the package installed by ops/install-deps.sh?)"
  grep -iE '^License:' "$cr" | grep -qiF -- "$lic" ||
    fail "$deb ($pc): docs say '$lic', $cr says: $(grep -im1 '^License:' "$cr")"
  checked=$((checked + 1))
done <<<"$rows"
log "licences: LICENSE is Apache-2.0; $checked linked packages match their Debian copyright files"
