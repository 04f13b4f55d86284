#!/usr/bin/env bash
# What exactly-once costs (issue 11): the same N pre-produced dialogue
# requests through one worker in each delivery mode, alternating ROUNDS
# times, measured as bench/e2e.sh measures (output records over the span of
# their timestamps): at_least_once, exactly_once with the default 100 ms
# commit interval, and exactly_once with 1 s. Then the latency of each at a
# fixed RATE for SECONDS (producer timestamp -> result seen by a
# read_committed consumer, as bench/latency.sh measures it), where a
# transaction's results become visible only when it commits.
# Figures: medians and their ratio to at_least_once in the same run.
#   bench/delivery.sh [N=50000] [ROUNDS=3] [RATE=2000] [SECONDS=20]
N=${1:-50000}
ROUNDS=${2:-3}
RATE=${3:-2000}
SECONDS_AT_RATE=${4:-20}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }
bench_setup "$N"
modes=(alo eos100 eos1000)
mode_opts() {
  case $1 in
    alo) echo "-o delivery.mode=at_least_once" ;;
    eos100) echo "-o delivery.mode=exactly_once -o delivery.transaction_interval_ms=100" ;;
    eos1000) echo "-o delivery.mode=exactly_once -o delivery.transaction_interval_ms=1000" ;;
  esac
}

declare -A rates
for r in $(seq 1 "$ROUNDS"); do
  for m in "${modes[@]}"; do
    read -ra mo <<<"$(mode_opts "$m")"
    rates[$m]+="$(bench_worker "$m-$r" "$N" "${mo[@]}") "
  done
  progress "round $r/$ROUNDS: $(for m in "${modes[@]}"; do printf '%s=%s ' "$m" "${rates[$m]##* }"; done)"
done

lat=()
n=$((RATE * SECONDS_AT_RATE))
for m in "${modes[@]}"; do
  in=bench.$RUN.lat$m.in res=bench.$RUN.lat$m.res dl=bench.$RUN.lat$m.dl
  $LOAD topics -b "$BS" --create "$in,$res,$dl" --partitions 6 -q
  read -ra mo <<<"$(mode_opts "$m")"
  bench_worker_up "lat$m" "$in" "$res" "$dl" "${mo[@]}"
  $LOAD latency -b "$BS" -t "$in" --results "$res" --expect-results "$n" \
    --timeout $((SECONDS_AT_RATE + 120)) >"/tmp/gs-bench-$RUN-lat$m.json" &
  pid=$!
  sleep 2 # the latency consumer is assigned before the first request
  $LOAD produce -b "$BS" -t "$in" -n "$n" --rate "$RATE" --run-id "d$RUN$m" >/dev/null
  wait "$pid"
  kill -TERM "$WORKER"
  wait "$WORKER"
  lat+=("$(jq -c --arg m "$m" '{($m): .}' "/tmp/gs-bench-$RUN-lat$m.json")")
  progress "latency $m: $(jq -c .latency_ms "/tmp/gs-bench-$RUN-lat$m.json" 2>/dev/null)"
done

json=$(rates_json "${modes[@]}")
latency=$(printf '%s\n' "${lat[@]}" | jq -s 'add')
jq -n --argjson r "$json" --argjson l "$latency" --argjson n "$N" --argjson rate "$RATE" \
  --arg cpu "$(cpu_model)" --arg cores "$(nproc)" --arg version "$(build/govstream version)" '
  {requests: $n, govstream: $version, machine: {cpu: $cpu, cores: $cores},
   throughput: ($r | map_values(. + {ratio_to_at_least_once: ((.median_rps / $r.alo.median_rps * 1000 | round) / 1000)})),
   latency_at_rate: {rate_rps: $rate, modes: $l}}'
