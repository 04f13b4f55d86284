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
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-5}
PORT=${GS_BENCH_KAFKA_PORT:-29092}
LOAD=build/govstream-load
[ -x build/govstream ] && [ -x build/bench-passthrough ] || {
  echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2
  exit 2
}

BS=$(ops/kafka/start.sh --port "$PORT")
trap 'ops/kafka/stop.sh --port "$PORT" >/dev/null 2>&1' EXIT
run=$(date +%s)
IN=bench.$run.in
$LOAD topics -b "$BS" --create "$IN" --partitions 6 -q
$LOAD produce -b "$BS" -t "$IN" -n "$N" --run-id "b$run" >/dev/null

rate_of() { $LOAD rate -b "$BS" -t "$1" --expect-results "$N" --timeout 300 | jq .rate; }

pt=() gs=()
for r in $(seq 1 "$ROUNDS"); do
  out=bench.$run.pt$r
  $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
  build/bench-passthrough "$BS" "$IN" "$out" "pt-$run-$r" "$N" >/dev/null
  pt+=("$(rate_of "$out")")

  res=bench.$run.gs$r dl=bench.$run.dl$r
  $LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
  build/govstream run -c config/govstream.cfg -o log.level=warn -o http.listen= \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="gs-$run-$r" \
    -o dialogue.requests_topic="$IN" -o dialogue.results_topic="$res" \
    -o deadletter.topic="$dl" ${GS_BENCH_WORKER_OPTS:-} 2>"/tmp/gs-bench-$run-$r.log" &
  worker=$!
  gs+=("$(rate_of "$res")")
  kill -TERM "$worker"
  wait "$worker"
  echo "round $r: passthrough ${pt[-1]}/s, govstream ${gs[-1]}/s" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
pt_med=$(median "${pt[@]}")
gs_med=$(median "${gs[@]}")
jq -n --argjson n "$N" --argjson pt "$pt_med" --argjson gs "$gs_med" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p')" --arg cores "$(nproc)" \
  --arg pts "${pt[*]}" --arg gss "${gs[*]}" --arg opts "${GS_BENCH_WORKER_OPTS:-}" \
  '{requests: $n, passthrough_median_rps: $pt, govstream_median_rps: $gs,
    ratio: (($gs / $pt * 1000 | round) / 1000), rounds: {passthrough: $pts, govstream: $gss},
    worker_options: $opts,
    machine: {cpu: $cpu, cores: $cores}}'
