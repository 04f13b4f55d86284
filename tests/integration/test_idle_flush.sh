#!/usr/bin/env bash
# Adaptive batching (issue 15, SPEC 8 latency): a result whose micro-batch
# did not fill batch.max goes to the brokers at once (batch.idle_flush_us),
# not after the producer's linger.ms. With linger.ms at 3 s, requests at
# 10/s must come back in well under it; with the idle flush off they wait
# for linger.ms, which shows that the test measures what it claims.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init idle_flush

# run NAME [worker options]: 30 requests at 10/s through a fresh worker and
# topics; govstream-load latency's report in $IT_DIR/NAME.json. (Not in
# $(...): the exit trap must know the worker.)
run() {
  local name=$1 lat
  shift
  RUN=$IT_NAME-$$-$name
  T_REQ=it.$RUN.requests T_RES=it.$RUN.results T_DL=it.$RUN.deadletter
  T_STATE=it.$RUN.state GROUP=it-$RUN
  create_topics 3
  start_worker "$name" -o kafka_producer.linger.ms=3000 "$@"
  wait_ready "$name"
  "$LOAD" latency -b "$BS" -t "$T_REQ" --results "$T_RES" --expect-results 30 --timeout 60 \
    >"$IT_DIR/$name.json" &
  lat=$!
  sleep 2 # the latency consumer is assigned before the first request
  produce 30 --rate 10 >/dev/null
  wait "$lat" || fail "$name: not every result came back: $(cat "$IT_DIR/$name.json")"
  stop_worker "$name"
  expect_eq "$STOP_RC" 0 "$name exit code"
}

run on
on=$(cat "$IT_DIR/on.json")
log "idle flush on: $(jq -c .latency_ms <<<"$on")"
[ "$(jqv "$on" .latency_ms.p99)" -lt 1000 ] ||
  fail "with the idle flush, p99 $(jqv "$on" .latency_ms.p99) ms: results waited for linger.ms"
run off -o batch.idle_flush_us=0
off=$(cat "$IT_DIR/off.json")
log "idle flush off: $(jq -c .latency_ms <<<"$off")"
[ "$(jqv "$off" .latency_ms.p50)" -ge 1500 ] ||
  fail "without the idle flush, p50 $(jqv "$off" .latency_ms.p50) ms: linger.ms did not hold results"
