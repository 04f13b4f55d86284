#!/usr/bin/env bash
# End-to-end throughput (SPEC 8), side by side in one run over the same N
# pre-produced dialogue requests on the same local broker, alternating ROUNDS
# times:
#   passthrough  plain librdkafka consume -> produce copy (bench/passthrough.c)
#   govstream    this build's worker, governance only (no model)
#   before       the worker as it was at GS_BENCH_BEFORE (default: 01390c9, the
#                commit issue 10 started from), built once into .cache/
#   python       the Python reference pipeline (bench/python/, venv in .cache/)
# for each memory setting: governance.memory_capacity=200, the default 20,000,
# and memory off (governance.memory=false; the old code has no switch, so
# "before" runs with memory_capacity=1 there, the closest it has).
# Every one is measured the same way: output records over the span between
# the first and the last output record's timestamp (group join excluded).
# Figures: medians, and their ratios to the pass-through of the same run.
#   bench/e2e.sh [N=100000] [ROUNDS=3]     (uses build/, starts its own broker)
# GS_BENCH_BEFORE="" skips "before"; GS_BENCH_PYTHON=0 skips python; GS_BENCH_PIN=1
# pins the broker and the load tools to CPU 0, what is measured to CPU 1;
# GS_BENCH_MEMORY="200 20000 off" picks the settings (N-exact: N vectors with the
# approximate index off, governance.memory_index_min=0); GS_BENCH_WORKER_OPTS adds
# worker overrides to govstream and before.
N=${1:-100000}
ROUNDS=${2:-3}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BEFORE=${GS_BENCH_BEFORE-01390c9}
MEMORY=${GS_BENCH_MEMORY:-200 20000 off}
read -ra opts <<<"${GS_BENCH_WORKER_OPTS:-}"
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }

# The old worker, built once from a clean checkout of that commit.
before_bin=""
if [ -n "$BEFORE" ]; then
  dir=.cache/bench-before/$BEFORE
  if ! [ -x "$dir/build/govstream" ]; then
    progress "building govstream at $BEFORE into $dir"
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
    git worktree add -f --detach "$dir" "$BEFORE" >/dev/null 2>&1 ||
      { echo "cannot check out $BEFORE" >&2; exit 2; }
    # the same librdkafka as ours: the comparison is of govstream's code
    PKG_CONFIG_PATH=$PWD/.cache/deps/librdkafka/lib/pkgconfig \
      cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_TESTS=OFF >/dev/null
    cmake --build "$dir/build" -j 2 --target govstream >/dev/null
  fi
  before_bin=$dir/build/govstream
fi

py=""
if [ "${GS_BENCH_PYTHON:-1}" = 1 ]; then
  py=.cache/venv-bench/bin/python
  if ! "$py" -c 'import confluent_kafka, fastavro, numpy' 2>/dev/null; then
    progress "installing the Python reference's requirements into .cache/venv-bench"
    python3 -m venv .cache/venv-bench >&2
    .cache/venv-bench/bin/pip install -q -r bench/python/requirements.txt >&2
  fi
fi

bench_setup "$N"

# the worker options of one memory setting, for this build and the old one
memory_opts() {
  case "$1:$2" in
    off:new) echo "-o governance.memory=false" ;;
    off:old) echo "-o governance.memory_capacity=1" ;;
    *-exact:*) echo "-o governance.memory_capacity=${1%-exact} -o governance.memory_index_min=0" ;;
    *) echo "-o governance.memory_capacity=$1" ;;
  esac
}

# Runs the Python reference over the input and prints its rate.
bench_python() {
  local name=$1 n=$2 res=bench.$RUN.$1.res dl=bench.$RUN.$1.dl
  shift 2
  $LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
  "${PIN_WORKER[@]}" "$py" bench/python/reference.py --bootstrap "$BS" --input "$IN" --results "$res" \
    --deadletter "$dl" --group "py-$RUN-$name" "$@" 2>"/tmp/gs-bench-$RUN-$name.log" &
  local pid=$!
  bench_rate "$res" "$n"
  kill -TERM "$pid"
  wait "$pid" || true
}

declare -A rates
for r in $(seq 1 "$ROUNDS"); do
  out=bench.$RUN.pt$r
  $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
  "${PIN_WORKER[@]}" build/bench-passthrough "$BS" "$IN" "$out" "pt-$RUN-$r" "$N" >/dev/null
  rates[pt]+="$(bench_rate "$out" "$N") "
  for mem in $MEMORY; do
    read -ra mo <<<"$(memory_opts "$mem" new)"
    rates[gs-$mem]+="$(bench_worker "gs$mem-$r" "$N" "${mo[@]}" "${opts[@]}") "
    if [ -n "$before_bin" ]; then
      read -ra mo <<<"$(memory_opts "$mem" old)"
      rates[before-$mem]+="$(GS_BENCH_BINARY=$before_bin GS_BENCH_CFG=$dir/config/govstream.cfg \
        bench_worker "old$mem-$r" "$N" "${mo[@]}" "${opts[@]}") "
    fi
    if [ -n "$py" ] && [ "${mem%-exact}" = "$mem" ]; then # python has one search
      if [ "$mem" = off ]; then pyo=(--no-memory); else pyo=(--memory-capacity "$mem"); fi
      rates[python-$mem]+="$(bench_python "py$mem-$r" "$N" "${pyo[@]}") "
    fi
  done
  progress "round $r/$ROUNDS: $(for k in "${!rates[@]}"; do printf '%s=%s ' "$k" "${rates[$k]##* }"; done)"
done

# {"govstream-200": {"median_rps": M, "rounds": [...], "ratio_to_passthrough": R}, ...}
json=$(rates_json "${!rates[@]}")
jq --argjson n "$N" --arg cpu "$(cpu_model)" --arg cores "$(nproc)" --arg before "$BEFORE" \
  --arg version "$(build/govstream version)" --arg opts "${GS_BENCH_WORKER_OPTS:-}" '
  . as $r | ($r.pt.median_rps) as $pt
  | {requests: $n, before_commit: $before, worker_options: $opts, govstream: $version,
     machine: {cpu: $cpu, cores: $cores},
     passthrough_median_rps: $pt,
     results: ($r | del(.pt) | map_values(. + {ratio_to_passthrough: ((.median_rps / $pt * 1000 | round) / 1000)})),
     govstream_over_python: ([$r | keys[] | select(startswith("gs-"))] | map(ltrimstr("gs-"))
       | map({(.): (if $r["python-" + .] then (($r["gs-" + .].median_rps / $r["python-" + .].median_rps * 100 | round) / 100) else null end)}) | add),
     govstream_over_before: ([$r | keys[] | select(startswith("gs-"))] | map(ltrimstr("gs-"))
       | map({(.): (if $r["before-" + .] then (($r["gs-" + .].median_rps / $r["before-" + .].median_rps * 100 | round) / 100) else null end)}) | add)}' <<<"$json"
