#!/usr/bin/env bash
# Style and static analysis: clang-format (no diff), shellcheck, cppcheck,
# clang-tidy (.clang-tidy). Needs build/compile_commands.json (run a build first).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || { echo "lint: run a build into build/ first" >&2; exit 2; }
mapfile -t files < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/unit/*.[ch]' 'tests/kinds/*.[ch]' 'tests/kinds/*/*.[ch]' 'tests/fuzz/*.[ch]' 'bench/*.c')

echo "lint: clang-format"
clang-format --dry-run --Werror "${files[@]}"

echo "lint: shellcheck"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
shellcheck -x "${scripts[@]}"

echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
  --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ \
  --library=gnu --include=/usr/include/jansson.h \
  -I include -I build/generated src bench 2>&1

echo "lint: clang-tidy"
mapfile -t csrc < <(git ls-files 'src/*.c' 'bench/*.c')
# clang does not know GCC's -fno-loop-unroll-and-jam (CMakeLists.txt): a copy
# of the compilation database without it
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
sed 's/ -fno-loop-unroll-and-jam//g' build/compile_commands.json >"$db/compile_commands.json"
# two processes at a time (GS_LINT_JOBS): clang-tidy is most of the lint's time
if ! printf '%s\0' "${csrc[@]}" |
  xargs -0 -P "${GS_LINT_JOBS:-2}" -n 6 clang-tidy -p "$db" --quiet \
    --extra-arg=-Wno-unknown-warning-option >"$db/out" 2>&1; then
  grep -v 'warnings generated' "$db/out" >&2
  exit 1
fi
echo "lint: clean"
