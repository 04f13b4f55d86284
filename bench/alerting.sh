#!/usr/bin/env bash
# Alerting's cost to the stream (SPEC 5, issue 5): one worker over the same N
# pre-produced dialogue requests with alerting off, and with alerting on
# while the webhook receiver is unreachable, alternating ROUNDS times in one
# run on one local broker. The figure is the ratio of median throughputs
# (target >= 0.95). Two unreachable receivers:
#   refused  - a loopback port nothing listens on (each attempt fails at once)
#   stalled  - a loopback socket that listens but never accepts: connects
#              hang until alerts.webhook.connect_timeout_ms
# "On" is a stress setting, not the default: the built-in alerts with
# thresholds every run crosses, 20 configured rules (rate, ratio, quantile,
# max), evaluation every 100 ms, repeats every second and a 16-deep webhook
# queue, so notifications arrive faster than an unreachable receiver fails
# them (5 retries, backoff from 500 ms) and the queue overflows. "Off" has no
# rules and no webhook. Both write metrics snapshots; "on" also writes every
# notification to an alerts topic of its own.
#   bench/alerting.sh [N=1000000] [ROUNDS=3]   (uses build/, starts its own broker)
# GS_BENCH_WORKER_OPTS adds worker overrides to every run (default:
# governance.memory_capacity=200, the cheapest requests, so that any
# alerting overhead shows the most).
N=${1:-1000000}
ROUNDS=${2:-3}
read -ra opts <<<"${GS_BENCH_WORKER_OPTS--o governance.memory_capacity=200}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup "$N"

MET=bench.$RUN.metrics
$LOAD topics -b "$BS" --create "$MET" --partitions 1 -q

# the unreachable receivers
refused=$(free_port)
stalled_file=$(mktemp)
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(1e9)' "$stalled_file" &
BENCH_PIDS+=($!)
for _ in $(seq 50); do [ -s "$stalled_file" ] && break; sleep 0.1; done
stalled=$(cat "$stalled_file")
rm -f "$stalled_file"

rules=""
for i in $(seq 1 5); do
  rules+="{name=\"BenchRate$i\"; metric=\"govstream_requests_total\"; aggregation=\"rate\"; window_ms=10000; op=\">\"; threshold=1.0;},"
  rules+="{name=\"BenchRatio$i\"; metric=\"govstream_requests_total{outcome=\\\"accepted\\\"}\"; over=\"govstream_requests_total\"; aggregation=\"ratio\"; window_ms=10000; op=\">\"; threshold=0.0;},"
  rules+="{name=\"BenchP99$i\"; metric=\"govstream_request_duration_seconds\"; aggregation=\"quantile\"; quantile=0.99; window_ms=10000; op=\">\"; threshold=0.0;},"
  rules+="{name=\"BenchQueue$i\"; metric=\"govstream_producer_queue_messages\"; aggregation=\"max\"; op=\">=\"; threshold=0.0;},"
done
on=(-o metrics.topic="$MET" -o metrics.interval_ms=1000 -o alerts.eval_interval_ms=100
  -o alerts.repeat_ms=1000 -o alerts.webhook.queue_max=16
  -o alerts.events.for_ms=0 -o alerts.events.lag_max=0 -o alerts.events.p95_ms=1
  -o alerts.webhook.secret_env=GS_BENCH_WEBHOOK_SECRET -o alerts.webhook.retries=5
  -o "alerts.rules=(${rules%,})")
off=(-o metrics.topic="$MET" -o metrics.interval_ms=1000 -o alerts.events.enabled=false
  -o alerts.topic=)
export GS_BENCH_WEBHOOK_SECRET=bench-secret

declare -A rps
for r in $(seq 1 "$ROUNDS"); do
  rps[off]+=" $(bench_worker "off$r" "$N" "${opts[@]}" "${off[@]}")"
  for rx in refused stalled; do
    port=$refused
    [ $rx = stalled ] && port=$stalled
    $LOAD topics -b "$BS" --create "bench.$RUN.$rx$r.alerts" --partitions 1 -q
    rps[$rx]+=" $(bench_worker "$rx$r" "$N" "${opts[@]}" "${on[@]}" \
      -o alerts.topic="bench.$RUN.$rx$r.alerts" -o alerts.webhook.url="http://127.0.0.1:$port/hook")"
  done
  echo "round $r: off ${rps[off]##* }/s, refused ${rps[refused]##* }/s," \
    "stalled ${rps[stalled]##* }/s" >&2
done

# What alerting did in the last round's "on" runs: notifications (records on
# its alerts topic; rate stops at its timeout and says how many it read),
# webhook deliveries that failed (its log), and the rest, dropped from the
# full queue or at shutdown (no delivery succeeds).
last() {
  local notes failed
  notes=$( ($LOAD rate -b "$BS" -t "bench.$RUN.$1$ROUNDS.alerts" --expect-results 1000000000 \
    --timeout 5 || true) | jq .records)
  failed=$(grep -c '"alert webhook delivery failed"' "/tmp/gs-bench-$RUN-$1$ROUNDS.log" || true)
  jq -n --argjson n "$notes" --argjson f "$failed" '{notifications: $n, failed: $f, dropped: ($n - $f)}'
}

# shellcheck disable=SC2086 # word-split the round lists
off_med=$(median ${rps[off]}) ref_med=$(median ${rps[refused]}) st_med=$(median ${rps[stalled]})
jq -n --argjson n "$N" --argjson off "$off_med" --argjson ref "$ref_med" --argjson st "$st_med" \
  --arg offs "${rps[off]# }" --arg refs "${rps[refused]# }" --arg sts "${rps[stalled]# }" \
  --argjson lref "$(last refused)" --argjson lst "$(last stalled)" --arg opts "${opts[*]}" --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  '{requests: $n, off_median_rps: $off, refused_median_rps: $ref, stalled_median_rps: $st,
    ratio_refused: (($ref / $off * 1000 | round) / 1000),
    ratio_stalled: (($st / $off * 1000 | round) / 1000),
    rounds: {off: $offs, refused: $refs, stalled: $sts},
    last_round: {refused: $lref, stalled: $lst},
    worker_options: $opts, machine: {cpu: $cpu, cores: $cores}}'
