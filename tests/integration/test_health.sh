#!/usr/bin/env bash
# Issue 5, test 2: /health/ready is 503 before the worker joins the group
# (here: its output topics do not exist yet), 200 once it has joined, and
# 503 again after the broker is stopped. Runs its own broker, which it stops.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
GS_IT_KAFKA_PORT=$(free_port)
BS=127.0.0.1:$GS_IT_KAFKA_PORT
it_init health
KAFKA_UP=1
stop_kafka() { [ -z "$KAFKA_UP" ] || "$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1; }
AT_EXIT+=(stop_kafka)
"$GS_SOURCE_DIR/ops/kafka/start.sh" --port "$GS_IT_KAFKA_PORT" >"$IT_DIR/kafka.log" 2>&1 ||
  fail "broker did not start"

# readiness JSON: {"status": ..., "reason": ...}
status() { curl -s -o "$IT_DIR/ready.json" -w '%{http_code}' "http://127.0.0.1:${WORKER_PORT[w1]}/health/ready" || true; }

# expect_503 WHEN REASON SECONDS: waits for a 503 with that reason (the
# worker says "starting" until its first check has answered)
expect_503() {
  local deadline=$((SECONDS + $3))
  until [ "$(status)" = 503 ] && grep -q "\"reason\":\"$2\"" "$IT_DIR/ready.json"; do
    [ $SECONDS -lt $deadline ] || fail "no 503 \"$2\" $1 within $3 s (last: $(cat "$IT_DIR/ready.json" 2>/dev/null))"
    sleep 0.2
  done
  log "$1: 503 $(cat "$IT_DIR/ready.json")"
}

start_worker w1 -o metrics.topic= -o alerts.topic=
expect_503 "before joining" "an output topic does not exist" 30

create_topics 3
wait_ready w1 60
log "joined: $(status) $(cat "$IT_DIR/ready.json")"
# grep -q on curl's pipe would make a long answer's curl die of SIGPIPE
grep -q '^govstream_ready 1' <<<"$(curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/metrics")" ||
  fail "govstream_ready is not 1 while ready"

"$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1
KAFKA_UP=
expect_503 "after the broker stopped" "all brokers are down" 60
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/health/live" >/dev/null || fail "not live"
kill9_worker w1
