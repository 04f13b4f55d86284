#!/usr/bin/env bash
# Latency (SPEC 8: "p99 request latency (producer timestamp -> result
# visible) < 10 ms at half of the maximum throughput"), on warm memories.
# One worker serves every phase of the run, so the maximum and the latency
# points see the same state:
#  1. warm-up: N requests as fast as they come (4 tenants: their memories
#     fill to 20,000 vectors and the index is built);
#  2. the warmed maximum: N/2 more as fast as they come, the rate counted
#     from the first of their results (--since-ms);
#  3. for each load fraction (default 0.5 and 0.1 of that maximum), requests
#     produced at that rate for SECONDS, and `govstream-load latency`
#     consuming the results as they appear: for each result, the wall clock
#     when a consumer sees it minus the request's CreateTime (set by the
#     producing client when it hands the record to librdkafka, so its
#     linger.ms batching counts against us too). Results of earlier phases
#     are left out by their requests' CreateTime.
#   bench/latency.sh [N=200000] [SECONDS=30] [FRACTIONS="0.5 0.1"]
# GS_BENCH_WORKER_OPTS adds worker overrides; GS_BENCH_CLIENT_LINGER_MS the
# producing client's linger.ms (5); GS_BENCH_PIN=1 pins the broker and the load
# tools to CPU 0 and the worker to CPU 1 (lib.sh); GS_BENCH_REPORT=PREFIX writes
# each point's report and pictures (PREFIX-<fraction>.json, -histogram.svg,
# -timeline.svg). Each point also gives the worker's share of the latency (request
# CreateTime to result CreateTime) and each CPU's busy share while producing.
N=${1:-200000}
SECONDS_AT_RATE=${2:-30}
FRACTIONS=${3:-0.5 0.1}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup 0
read -ra opts <<<"${GS_BENCH_WORKER_OPTS:-}"
in=bench.$RUN.lat.in res=bench.$RUN.lat.res dl=bench.$RUN.lat.dl
$LOAD topics -b "$BS" --create "$in,$res,$dl" --partitions 6 -q
bench_worker_up lat "$in" "$res" "$dl" "${opts[@]}"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }

progress "warm-up: $N requests"
$LOAD produce -b "$BS" -t "$in" -n "$N" --run-id "w$RUN" >/dev/null
warm=$($LOAD rate -b "$BS" -t "$res" --expect-results "$N" --timeout 600 | jq .rate)
total=$N
m=$((N / 2))
t=$(now_ms)
$LOAD produce -b "$BS" -t "$in" -n "$m" --run-id "m$RUN" >/dev/null
total=$((total + m))
max=$($LOAD rate -b "$BS" -t "$res" --expect-results "$total" --since-ms "$t" --timeout 600 |
  jq .rate)
echo "warm-up $warm/s, warmed maximum: $max/s" >&2

points=()
for f in $FRACTIONS; do
  rate=$(awk -v m="$max" -v f="$f" 'BEGIN {printf "%d", m * f}')
  n=$((rate * SECONDS_AT_RATE))
  out=/tmp/gs-bench-$RUN-lat$f.json
  report=()
  [ -z "${GS_BENCH_REPORT:-}" ] || report=(--report "$GS_BENCH_REPORT-$f")
  t=$(($(now_ms) + 2000))
  $LOAD latency -b "$BS" -t "$in" --results "$res" --expect-results $((total + n)) \
    --since-ms "$t" --timeout $((SECONDS_AT_RATE + 300)) "${report[@]}" >"$out" &
  lat=$!
  sleep 2 # the latency consumer has read the earlier results before the first request
  progress "at $f of the maximum: $rate/s for $SECONDS_AT_RATE s"
  snap=$(cpu_snapshot)
  $LOAD produce -b "$BS" -t "$in" -n "$n" --rate "$rate" --run-id "l$RUN$f" \
    --linger-ms "${GS_BENCH_CLIENT_LINGER_MS:-5}" >/dev/null
  busy=$(cpu_busy "$snap") # while producing: with GS_BENCH_PIN=1, [broker and tools, worker]
  total=$((total + n))
  wait "$lat"
  point=$(jq -c --argjson f "$f" --argjson r "$rate" --argjson busy "$busy" \
    '{fraction: $f, rate_rps: $r, matched, latency_ms, worker_ms, cpu_busy: $busy}' "$out")
  echo "at $f: $point" >&2
  points+=("$point")
done
kill -TERM "$WORKER"
wait "$WORKER"

printf '%s\n' "${points[@]}" | jq -s --argjson max "$max" --argjson warm "$warm" \
  --arg opts "${opts[*]}" --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  '{warmed_max_rps: $max, warm_up_rps: $warm, points: ., worker_options: $opts,
    machine: {cpu: $cpu, cores: $cores}}'
