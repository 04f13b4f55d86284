#!/usr/bin/env bash
# Issue 5, tests 1, 3, 4 and the log rule: during load /metrics passes
# `promtool check metrics`; an alert rule with a low threshold fires and
# later resolves at a local receiver that answers 500 twice first (retried
# with backoff), every payload's HMAC verifies with the shared secret and
# it carries the Alertmanager v4 fields with Prometheus' fingerprint; the
# alerts and metrics topics hold the records (MetricsSnapshot decoded by
# fastavro, an independent decoder); with the receiver unreachable the
# stream keeps flowing and every result arrives; request text and the
# secret never reach the logs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init observability
create_topics 3
PY=$(py_venv)

SECRET="it-secret-$RANDOM$RANDOM"
export GS_IT_WEBHOOK_SECRET=$SECRET
MARK="zanzibar$RANDOM"
RULE='alerts.rules=( { name = "ItRequestsFlowing"; metric = "govstream_requests_total"; aggregation = "rate"; window_ms = 2000; op = ">"; threshold = 5.0; severity = "info"; labels = { team = "it" }; annotations = { summary = "requests are flowing" }; } )'

start_receiver "$PY" --secret-env GS_IT_WEBHOOK_SECRET --fail-first 2 --status 503

start_worker w1 -o metrics.interval_ms=1000 -o alerts.eval_interval_ms=200 \
  -o alerts.webhook.url="http://127.0.0.1:$RPORT/alerts" \
  -o alerts.webhook.secret_env=GS_IT_WEBHOOK_SECRET -o alerts.webhook.backoff_ms=100 \
  -o "$RULE"
wait_ready w1

# requests whose text carries a marker that must never be logged
python3 - "$RUN" "$MARK" >"$IT_DIR/requests.jsonl" <<'PYEOF'
import json, sys
run, mark = sys.argv[1], sys.argv[2]
for i in range(3000):
    print(json.dumps({"request_id": "%s-%05d" % (run, i), "session_id": "%s-s%d" % (run, i % 7),
                      "tenant": "t%d" % (i % 5), "op": "NEXT_TOKEN",
                      "turns": ["tell me about %s number %d" % (mark, i)]}))
PYEOF
# the latency probe of bench/latency.sh, here checked for what it matches
"$LOAD" latency -b "$BS" -t "$T_REQ" --results "$T_RES" --expect-results 3000 --timeout 120 \
  >"$IT_DIR/latency.json" &
latency=$!
BG_PIDS+=("$latency")
sleep 1
produce 3000 --rate 600 --from "$IT_DIR/requests.jsonl" >"$IT_DIR/produce.json" &
producer=$!
sleep 2
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/metrics" >"$IT_DIR/metrics.txt"
promtool check metrics <"$IT_DIR/metrics.txt" || fail "promtool check metrics failed"
for m in govstream_requests_total govstream_request_duration_seconds_bucket \
  govstream_deadletters_total govstream_batch_size_bucket govstream_producer_queue_messages \
  govstream_moral_threshold govstream_memory_vectors govstream_alerts_sent_total \
  govstream_ready; do
  grep -q "^$m" "$IT_DIR/metrics.txt" || fail "/metrics lacks $m"
done
# the process metrics are this worker's, in base units
sample() { awk -v m="$1" '$1 == m {print $2}' "$IT_DIR/metrics.txt"; }
pid=${WORKER_PID[w1]}
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
awk -v r="$(sample process_resident_memory_bytes)" -v k="$rss_kb" \
  'BEGIN {exit !(r > 0.5 * k * 1024 && r < 2 * k * 1024)}' ||
  fail "process_resident_memory_bytes $(sample process_resident_memory_bytes) vs VmRSS ${rss_kb} kB"
awk -v c="$(sample process_cpu_seconds_total)" 'BEGIN {exit !(c > 0 && c < 600)}' ||
  fail "process_cpu_seconds_total $(sample process_cpu_seconds_total)"
fds=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
awk -v f="$(sample process_open_fds)" -v n="$fds" 'BEGIN {exit !(f > 5 && f > n / 2 && f < 2 * n)}' ||
  fail "process_open_fds $(sample process_open_fds) vs $fds in /proc"
grep -q '^govstream_build_info{version="[0-9.]*",blas="[A-Za-z0-9]*"} 1$' "$IT_DIR/metrics.txt" ||
  fail "no build_info with the version and the BLAS kernel"
log "promtool check metrics passed during load ($(grep -vc '^#' "$IT_DIR/metrics.txt") samples)"
wait "$producer" || fail "producer failed"
res=$(verify 3000 0 --timeout 60)
expect_eq "$(jqv "$res" .unique)" 3000 "results with the receiver answering 503 at first"
wait "$latency" || fail "latency probe: $(cat "$IT_DIR/latency.json")"
lat=$(cat "$IT_DIR/latency.json")
expect_eq "$(jqv "$lat" .matched)" 3000 "results matched to their requests by the latency probe"
jq -e '.latency_ms | .p50 >= 0 and .p50 <= .p99 and .p99 <= .max and .max < 60000' <<<"$lat" \
  >/dev/null || fail "latency probe: $lat"

# firing during the load, resolved after it (rate over 2 s falls to 0)
deadline=$((SECONDS + 30))
until grep -q '"status": "resolved"' "$IT_DIR/received.jsonl" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "no resolved notification"
  sleep 0.5
done
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/metrics" >"$IT_DIR/metrics2.txt"
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/state" >"$IT_DIR/state.json"
"$PY" - "$IT_DIR/received.jsonl" "$SECRET" "$IT_DIR/metrics2.txt" "$IT_DIR/state.json" <<'PYEOF'
import json, sys, datetime
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["status"] for l in lines[:2]] == [503, 503], lines[:2]
ok = [l for l in lines if l["status"] == 200]
assert all(l["verified"] is True for l in lines), "an HMAC did not verify"
mine = [l["payload"] for l in ok if l["payload"]["groupLabels"]["alertname"] == "ItRequestsFlowing"]
states = [p["status"] for p in mine]
assert states[:1] == ["firing"] and "resolved" in states, states

def fingerprint(labels):  # prometheus/common model.LabelSet.Fingerprint
    h = 14695981039346656037
    for k in sorted(labels):
        for part in (k, labels[k]):
            for b in part.encode():
                h = ((h ^ b) * 1099511628211) & (2**64 - 1)
            h = ((h ^ 255) * 1099511628211) & (2**64 - 1)
    return "%016x" % h

def t(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))

for p in mine:
    for k in ("version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
              "commonLabels", "commonAnnotations", "externalURL", "alerts"):
        assert k in p, k
    assert p["version"] == "4" and len(p["alerts"]) == 1
    a = p["alerts"][0]
    for k in ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"):
        assert k in a, k
    assert a["labels"]["alertname"] == "ItRequestsFlowing" and a["labels"]["team"] == "it"
    assert a["labels"]["worker"] == "w1" and a["labels"]["severity"] == "info"
    assert a["annotations"]["summary"] == "requests are flowing"
    assert a["fingerprint"] == fingerprint(a["labels"]), (a["fingerprint"], fingerprint(a["labels"]))
    assert p["groupKey"] == '{}:{alertname="ItRequestsFlowing", worker="w1"}', p["groupKey"]
    assert p["commonLabels"] == a["labels"] and a["status"] == p["status"]
    if a["status"] == "firing":
        assert a["endsAt"] == "0001-01-01T00:00:00Z"
    else:
        assert t(a["endsAt"]) >= t(a["startsAt"])
metrics = open(sys.argv[3]).read()
retries = [l for l in metrics.splitlines() if l.startswith("govstream_alert_retries_total ")]
assert retries and float(retries[0].split()[1]) >= 2, retries
state = json.load(open(sys.argv[4]))
scopes = state["kinds"]["dialogue"]["scopes"]
# a scope per (input partition, tenant): each of the 7 sessions (the key)
# sends all 5 tenants, so every partition a session hashes to has 5 scopes
parts = {s["partition"] for s in scopes}
pairs = {(s["partition"], s["scope"]) for s in scopes}
assert parts and parts <= {0, 1, 2}, state
assert pairs == {(p, "t%d" % i) for p in parts for i in range(5)}, state
assert state["kinds"]["dialogue"]["scope_count"] == len(scopes) == len(pairs), state
assert sum(s["accepted"] + s["rejected"] for s in scopes) == 3000, scopes
print("alerts ok: %d notifications, %s" % (len(mine), states))
PYEOF
log "firing and resolved received, HMAC verified, v4 fields and fingerprint checked"

# the alerts and metrics topics
"$PY" - "$BS" "$T_ALR" "$T_MET" "$GS_SOURCE_DIR/schemas/MetricsSnapshot.avsc" <<'PYEOF'
import io, json, sys, time
from confluent_kafka import Consumer, TopicPartition
import fastavro
bs, t_alr, t_met, schema_file = sys.argv[1:]
schema = fastavro.parse_schema(json.load(open(schema_file)))

def read_all(topic):
    c = Consumer({"bootstrap.servers": bs, "group.id": "it-reader-%s" % topic,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    out, deadline = [], time.time() + 30
    while len(out) < high and time.time() < deadline:  # up to the end seen at start
        m = c.poll(0.5)
        if m is not None and not m.error():
            out.append(m)
    c.close()
    return out

alerts = read_all(t_alr)
names = [json.loads(m.value())["groupLabels"]["alertname"] for m in alerts]
assert "ItRequestsFlowing" in names, names
for m in alerts:
    assert m.key().decode() == json.loads(m.value())["alerts"][0]["fingerprint"]
snaps = [fastavro.schemaless_reader(io.BytesIO(m.value()), schema) for m in read_all(t_met)]
assert len(snaps) >= 3, len(snaps)
assert all(s["worker_id"] == "w1" for s in snaps)
total = max(sum(c["value"] for c in s["counters"] if c["name"] == "govstream_requests_total")
            for s in snaps)
assert total == 3000, total
hist = [h for s in snaps for h in s["histograms"]
        if h["name"] == "govstream_request_duration_seconds" and h["labels"]["stage"] == "total"
        and h["count"] > 0]
assert hist and all(0 <= h["p50"] <= h["p95"] <= h["p99"] for h in hist), hist[:2]
assert sum(h["count"] for h in hist) <= 3000
lag = [l for s in snaps for l in s["lag"]]
assert lag, "no partition lag in any snapshot"
print("topics ok: %d alerts, %d snapshots, %d with latency, %d lag points"
      % (len(alerts), len(snaps), len(hist), len(lag)))
PYEOF
stop_worker w1
expect_eq "$STOP_RC" 0 "w1 exit code"

# the receiver unreachable: nothing waits for it
dead=$(free_port)
start_worker w2 -o alerts.eval_interval_ms=200 -o alerts.webhook.url="http://127.0.0.1:$dead/x" \
  -o alerts.webhook.backoff_ms=50 -o alerts.webhook.retries=2 -o "$RULE"
wait_ready w2
RUN=$RUN-b produce 2000 --rate 1000 >/dev/null
res=$(RUN=$RUN-b verify 2000 0 --timeout 60)
expect_eq "$(jqv "$res" .unique)" 2000 "results with the receiver unreachable"
deadline=$((SECONDS + 20))
until grep -q '^govstream_alerts_failed_total [1-9]' <<<"$(curl -sf "http://127.0.0.1:${WORKER_PORT[w2]}/metrics")"; do
  [ $SECONDS -lt $deadline ] || fail "no failed delivery counted with the receiver unreachable"
  sleep 0.5
done
stop_worker w2
expect_eq "$STOP_RC" 0 "w2 exit code"

for f in "$IT_DIR"/w1.log "$IT_DIR"/w2.log; do
  ! grep -q "$MARK" "$f" || fail "request text in $f"
  ! grep -q "$SECRET" "$f" || fail "the webhook secret in $f"
done
log "all results arrived with the receiver unreachable; no text or secret in the logs"
