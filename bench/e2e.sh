#!/usr/bin/env bash
# End-to-end throughput (SPEC 8): one govstream worker vs a plain librdkafka
# consume -> produce pass-through (bench/passthrough.c) over the same N
# pre-produced dialogue requests, same local broker, same run, alternating
# ROUNDS times. Both are measured the same way: output records over the
# span between the first and the last output record's timestamp (group
# join time excluded for both). The ratio of the medians is the figure;
# every round is listed because the pass-through, which mostly measures how
# fast the broker serves fetches, varies a lot between rounds.
#   bench/e2e.sh [N=200000] [ROUNDS=5]     (uses build/, starts its own broker)
# GS_BENCH_WORKER_OPTS adds worker overrides, e.g.
#   GS_BENCH_WORKER_OPTS="-o governance.memory_capacity=2000" bench/e2e.sh
N=${1:-200000}
ROUNDS=${2:-5}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup "$N"
read -ra opts <<<"${GS_BENCH_WORKER_OPTS:-}"

pt=() gs=()
for r in $(seq 1 "$ROUNDS"); do
  out=bench.$RUN.pt$r
  $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
  build/bench-passthrough "$BS" "$IN" "$out" "pt-$RUN-$r" "$N" >/dev/null
  pt+=("$(bench_rate "$out" "$N")")

  gs+=("$(bench_worker "gs$r" "$N" "${opts[@]}")")
  echo "round $r: passthrough ${pt[-1]}/s, govstream ${gs[-1]}/s" >&2
done

pt_med=$(median "${pt[@]}")
gs_med=$(median "${gs[@]}")
jq -n --argjson n "$N" --argjson pt "$pt_med" --argjson gs "$gs_med" \
  --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  --arg pts "${pt[*]}" --arg gss "${gs[*]}" --arg opts "${GS_BENCH_WORKER_OPTS:-}" \
  '{requests: $n, passthrough_median_rps: $pt, govstream_median_rps: $gs,
    ratio: (($gs / $pt * 1000 | round) / 1000), rounds: {passthrough: $pts, govstream: $gss},
    worker_options: $opts,
    machine: {cpu: $cpu, cores: $cores}}'
