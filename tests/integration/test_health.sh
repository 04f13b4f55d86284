#!/usr/bin/env bash
# Issue 5, test 2: /health/ready is 503 before the worker joins the group
# (here: its output topics do not exist yet), 200 once it has joined, and
# 503 again after the broker is stopped. Runs its own broker, which it stops.
. "$(dirname "$0")/lib.sh"
GS_IT_KAFKA_PORT=$(free_port)
BS=127.0.0.1:$GS_IT_KAFKA_PORT
it_init health
KAFKA_UP=1
trap '[ -z "$KAFKA_UP" ] || "$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1; it_cleanup' EXIT
"$GS_SOURCE_DIR/ops/kafka/start.sh" --port "$GS_IT_KAFKA_PORT" >"$IT_DIR/kafka.log" 2>&1 ||
  fail "broker did not start"

# readiness JSON: {"status": ..., "reason": ...}
status() { curl -s -o "$IT_DIR/ready.json" -w '%{http_code}' "http://127.0.0.1:${WORKER_PORT[w1]}/health/ready" || true; }

start_worker w1 -o metrics.topic= -o alerts.topic=
deadline=$((SECONDS + 30))
until [ "$(status)" = 503 ]; do
  [ $SECONDS -lt $deadline ] || fail "no 503 before the topics exist"
  sleep 0.2
done
log "before joining: 503 $(cat "$IT_DIR/ready.json")"
grep -q '"reason":"an output topic does not exist"' "$IT_DIR/ready.json" ||
  fail "unexpected reason $(cat "$IT_DIR/ready.json")"

create_topics 3
wait_ready w1 60
log "joined: $(status) $(cat "$IT_DIR/ready.json")"
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/metrics" | grep -q '^govstream_ready 1' ||
  fail "govstream_ready is not 1 while ready"

"$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1
KAFKA_UP=
deadline=$((SECONDS + 60))
until [ "$(status)" = 503 ]; do
  [ $SECONDS -lt $deadline ] || fail "still ready 60 s after the broker stopped"
  sleep 0.5
done
log "broker stopped: 503 $(cat "$IT_DIR/ready.json")"
grep -q '"reason":"all brokers are down"' "$IT_DIR/ready.json" ||
  fail "unexpected reason $(cat "$IT_DIR/ready.json")"
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/health/live" >/dev/null || fail "not live"
kill9_worker w1
