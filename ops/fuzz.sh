#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/, clang, ASan+UBSan) into
# build-fuzz/ and runs each, GS_TEST_JOBS (2) at a time: first over its
# regression inputs and seed corpus (every one must pass), then fuzzing for
# SECONDS (default 30) from the corpus, in a scratch copy (new finds are not
# written into the tree).
# A crash, leak, timeout or out-of-memory fails; libFuzzer writes the input
# to build-fuzz/crashes/. Keep it as tests/fuzz/regressions/<harness>/ when
# it is fixed.
#   ops/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(request resolve snapshot changelog modelfile config)

CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_FUZZ=ON \
  -DGS_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "${GS_TEST_JOBS:-2}" --target "${harnesses[@]/#/fuzz_}" >/dev/null

mkdir -p build-fuzz/crashes
# detect_leaks: libFuzzer checks each input's leaks itself; halt on UBSan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10)
# fuzz_one HARNESS: replays its committed inputs, then fuzzes
fuzz_one() {
  local h=$1 bin=build-fuzz/tests/fuzz/fuzz_$1 inputs=() d work
  for d in tests/fuzz/regressions/$h tests/fuzz/corpus/$h; do
    if [ -d "$d" ]; then inputs+=("$d"/*); fi
  done
  echo "fuzz: $h: ${#inputs[@]} committed inputs"
  "$bin" "${limits[@]}" "${inputs[@]}" >"build-fuzz/$h.replay.log" 2>&1 ||
    { tail -n 30 "build-fuzz/$h.replay.log" >&2; echo "fuzz: $h fails on a committed input" >&2; return 1; }
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$h"/* "$work"/
  if ! "$bin" "${limits[@]}" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crashes/$h-" "$work" >"build-fuzz/$h.log" 2>&1; then
    tail -n 40 "build-fuzz/$h.log" >&2
    rm -rf "$work"
    echo "fuzz: $h found a failure (input in build-fuzz/crashes/)" >&2
    return 1
  fi
  echo "fuzz: $h: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$h.log" | grep -o '[0-9]*$') runs in ${secs}s, no failure"
  rm -rf "$work"
}

# GS_TEST_JOBS harnesses at a time (each fuzzes on one core)
jobs=${GS_TEST_JOBS:-2} running=0 failed=0
for h in "${harnesses[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$h" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
