#!/usr/bin/env bash
# Latency (SPEC 8: "p99 request latency (producer timestamp -> result
# visible) < 10 ms at half of the maximum throughput"). First the maximum:
# one worker over N pre-produced requests, measured as bench/e2e.sh does.
# Then, for each load fraction (default 0.5 and 0.1 of that maximum), a
# fresh worker and input topic, requests produced at that rate for SECONDS,
# and `govstream-load latency` consuming the results as they appear: for
# each result, the wall clock when a consumer sees it minus the request's
# CreateTime (set by the producing client when it hands the record to
# librdkafka, so its linger.ms=5 batching counts against us too).
#   bench/latency.sh [N=200000] [SECONDS=30] [FRACTIONS="0.5 0.1"]
# GS_BENCH_WORKER_OPTS adds worker overrides to every run; GS_BENCH_CLIENT_LINGER_MS
# the producing client's linger.ms (5); GS_BENCH_PIN=1 pins the broker and the load
# tools to CPU 0 and the worker to CPU 1 (lib.sh).
N=${1:-200000}
SECONDS_AT_RATE=${2:-30}
FRACTIONS=${3:-0.5 0.1}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup "$N"
read -ra opts <<<"${GS_BENCH_WORKER_OPTS:-}"

max=$(bench_worker max "$N" "${opts[@]}")
echo "maximum: $max/s" >&2

points=()
for f in $FRACTIONS; do
  rate=$(awk -v m="$max" -v f="$f" 'BEGIN {printf "%d", m * f}')
  n=$((rate * SECONDS_AT_RATE))
  in=bench.$RUN.lat$f.in res=bench.$RUN.lat$f.res dl=bench.$RUN.lat$f.dl
  $LOAD topics -b "$BS" --create "$in,$res,$dl" --partitions 6 -q
  bench_worker_up "lat$f" "$in" "$res" "$dl" "${opts[@]}"
  $LOAD latency -b "$BS" -t "$in" --results "$res" --expect-results "$n" \
    --timeout $((SECONDS_AT_RATE + 120)) >"/tmp/gs-bench-$RUN-lat$f.json" &
  lat=$!
  sleep 2 # the latency consumer is assigned before the first request
  $LOAD produce -b "$BS" -t "$in" -n "$n" --rate "$rate" --run-id "l$RUN$f" \
    --linger-ms "${GS_BENCH_CLIENT_LINGER_MS:-5}" >/dev/null
  wait "$lat"
  kill -TERM "$WORKER"
  wait "$WORKER"
  point=$(jq -c --argjson f "$f" --argjson r "$rate" '{fraction: $f, rate_rps: $r} + .' \
    "/tmp/gs-bench-$RUN-lat$f.json")
  echo "at $f: $point" >&2
  points+=("$point")
done

printf '%s\n' "${points[@]}" | jq -s --argjson max "$max" --arg opts "${opts[*]}" \
  --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  '{max_rps: $max, points: ., worker_options: $opts, machine: {cpu: $cpu, cores: $cores}}'
