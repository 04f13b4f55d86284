#!/usr/bin/env bash
# Issue 13 through the real broker:
#   - labelled trajectories from the generator (`govstream intent sample`, on
#     subjects and seeds that training never saw) get the expected intents,
#     six probabilities sorted and summing to 1, and the right target;
#   - a hand inside the protective separation distance gives
#     emergency_stop=true, STOP, a braking plan and a GovstreamIntentProtectiveStop
#     alert at a webhook receiver; a hand far away gives no risk;
#   - NaN, non-increasing t_ms, too few samples and more than 32 targets are
#     VALIDATION dead letters naming the field;
#   - SIGHUP swaps in a retrained model; without one the worker is not ready.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init intent
PY=$(py_venv)
create_topics 3

MODEL=$IT_DIR/intent.gsm
"$GS" train intent --out "$MODEL" --train 6000 --test 300 2>"$IT_DIR/train.log" || fail "train intent"
"$GS" model validate "$MODEL" >/dev/null || fail "model validate"
SHA=$("$GS" model info "$MODEL" | awk '/^sha256:/ {print $2}')

start_receiver "$PY"

intent_worker() {
  local id=$1
  shift
  start_worker "$id" -o dialogue.enabled=false -o intent.enabled=true \
    -o intent.requests_topic="$T_REQ" -o intent.results_topic="$T_RES" \
    -o alerts.webhook.url="http://127.0.0.1:$RPORT/alerts" -o alerts.webhook.backoff_ms=100 "$@"
}

N=60
"$GS" intent sample --out "$IT_DIR/cases.jsonl" --n $N --run-id "$RUN" || fail "intent sample"
# crafted: a hand 0.3 m from a moving end effector, one 2.5 m away, and the
# malformed ones (each names its field)
python3 - "$RUN" >"$IT_DIR/crafted.jsonl" 2>"$IT_DIR/bad.jsonl" <<'PYEOF'
import json, sys
run = sys.argv[1]
def hand(x, n=30, dt=33):
    return [{"t_ms": 1000 + dt * i, "x": x, "y": 0.0, "z": 0.3} for i in range(n)]
robot = {"position": {"x": 0.3, "y": 0.0, "z": 0.3}, "velocity": {"x": 0.2, "y": 0.0, "z": 0.0}}
def req(tag, h, **kw):
    r = {"request_id": "%s-%s" % (run, tag), "robot_id": "%s-r%s" % (run, tag), "hand": h, "robot": robot}
    r.update(kw)
    return json.dumps(r)
print(req("stop", hand(0.6)))
print(req("clear", hand(2.8)))
nan = hand(1.0); del nan[3]["x"]
order = hand(1.0); order[4]["t_ms"] = order[3]["t_ms"]
targets = [{"id": "t%d" % i, "position": {"x": 0.5, "y": 0.0, "z": 0.0}} for i in range(33)]
print(req("nan", nan), file=sys.stderr)
print(req("order", order), file=sys.stderr)
print(req("few", hand(1.0, 4, 100)), file=sys.stderr)
print(req("targets", hand(1.0), targets=targets), file=sys.stderr)
PYEOF

intent_worker w1 -o models.intent="$MODEL"
wait_ready w1
# the Riccati check is logged at load
grep -q '"detail":"intent model intent v1; MPC terminal cost by DARE doubling: residual .*closed-loop spectral radius 0\.' \
  "$IT_DIR/w1.log" || fail "no DARE check in the log"
for f in cases crafted bad; do
  "$LOAD" produce -b "$BS" -t "$T_REQ" -n "$(wc -l <"$IT_DIR/$f.jsonl")" --kind intent \
    --run-id "$RUN" --from "$IT_DIR/$f.jsonl" >/dev/null
done
res=$(verify $((N + 2)) 4 --kind intent --timeout 60 --dump "$IT_DIR/a.jsonl" \
  --dump-deadletters "$IT_DIR/dl.jsonl")
expect_eq "$(jqv "$res" .unique)" $((N + 2)) "intent results"
expect_eq "$(jqv "$res" .deadletters.VALIDATION)" 4 "VALIDATION dead letters"

# ---- 1. intents, targets and the envelope -------------------------------------------
summary=$(python3 - "$IT_DIR/cases.jsonl" "$IT_DIR/a.jsonl" "$SHA" <<'PYEOF'
import json, sys
cases = {c["request_id"]: c for c in map(json.loads, open(sys.argv[1]))}
ok = targets_ok = targets_n = 0
for r in map(json.loads, open(sys.argv[2])):
    assert r["model"]["name"] == "intent" and r["model"]["sha256"] == sys.argv[3], r["model"]
    ps = [i["probability"] for i in r["intents"]]
    assert len(ps) == 6 and abs(sum(ps) - 1) < 1e-9 and ps == sorted(ps, reverse=True), r["intents"]
    assert {i["intent"] for i in r["intents"]} == {"REACH", "GRAB", "HANDOVER", "POINT", "WAVE", "IDLE"}
    s = r["safety"]
    assert s["emergency_stop"] == (s["min_distance"] < s["protective_distance"]), s
    assert (r["command"] == "STOP") == s["emergency_stop"], r
    assert r["mpc"]["status"] in ("optimal", "relaxed", "none"), r["mpc"]
    assert (r["mpc"]["status"] == "none") == (r["command"] == "CONTINUE"), r
    assert r["accepted"] and r["note"] == "decided", r
    c = cases.get(r["request_id"])
    if not c:
        continue
    ok += r["intents"][0]["intent"] == c["label"]
    if c["target"] is not None:
        targets_n += 1
        targets_ok += r["target_id"] == c["target"]
print(json.dumps({"top1": ok, "n": len(cases), "targets_ok": targets_ok, "targets_n": targets_n}))
PYEOF
) || fail "intent results"
log "labelled: $summary"
[ "$(jq '.top1 >= 0.85 * .n' <<<"$summary")" = true ] || fail "top-1 below 85%: $summary"
[ "$(jq '.targets_ok >= 0.7 * .targets_n' <<<"$summary")" = true ] || fail "targets: $summary"

# ---- 2. the protective stop, its alert, and a clear hand -------------------------------
stop=$(jq -c "select(.request_id == \"$RUN-stop\")" "$IT_DIR/a.jsonl")
expect_eq "$(jqv "$stop" .safety.emergency_stop)" true "emergency_stop"
expect_eq "$(jqv "$stop" .command)" STOP "command"
expect_eq "$(jqv "$stop" .goal)" null "goal of a stop"
[ "$(jqv "$stop" '.acceleration.x < 0')" = true ] || fail "a stop does not brake: $stop"
[ "$(jqv "$stop" '.safety.risk')" = 1 ] || fail "risk of a stop: $stop"
clear=$(jq -c "select(.request_id == \"$RUN-clear\")" "$IT_DIR/a.jsonl")
expect_eq "$(jqv "$clear" .safety.emergency_stop)" false "emergency_stop far away"
expect_eq "$(jqv "$clear" .safety.risk)" 0 "risk far away"
deadline=$((SECONDS + 30))
until [ -s "$IT_DIR/received.jsonl" ] && grep -q "$RUN-rstop" "$IT_DIR/received.jsonl"; do
  [ $SECONDS -lt $deadline ] || fail "no GovstreamIntentProtectiveStop at the webhook receiver"
  sleep 0.3
done
python3 - "$IT_DIR/received.jsonl" "$RUN" <<'PYEOF' || fail "alert payload"
import json, sys
seen = False
for line in open(sys.argv[1]):
    body = json.loads(line)
    for a in body.get("payload", body).get("alerts", []):
        if a["labels"].get("alertname") != "GovstreamIntentProtectiveStop":
            continue
        assert set(a["labels"]) <= {"alertname", "severity", "worker"}, a["labels"]
        seen |= a["annotations"]["robot_id"] == sys.argv[2] + "-rstop"
assert seen, "no alert names the robot"
PYEOF

# ---- 3. dead letters name the field ---------------------------------------------------
for want in "hand\[3\].x: NaN" "hand\[4\].t_ms" "hand: 4 samples" "targets: 33"; do
  grep -q "\"error_message\":\"$want" "$IT_DIR/dl.jsonl" ||
    fail "no VALIDATION dead letter naming $want: $(cat "$IT_DIR/dl.jsonl")"
done

# ---- 4. SIGHUP: a retrained model; without one, not ready -----------------------------
"$GS" train intent --out "$IT_DIR/v2.gsm" --train 1200 --test 60 --version v2 2>/dev/null
mv "$IT_DIR/v2.gsm" "$MODEL"
kill -HUP "${WORKER_PID[w1]}"
sleep 1
head -1 "$IT_DIR/crafted.jsonl" | sed "s/$RUN-stop/$RUN-v2/g" >"$IT_DIR/v2.jsonl"
"$LOAD" produce -b "$BS" -t "$T_REQ" -n 1 --kind intent --run-id "$RUN" \
  --from "$IT_DIR/v2.jsonl" >/dev/null
verify $((N + 3)) 4 --kind intent --timeout 30 --dump "$IT_DIR/b.jsonl" >/dev/null
expect_eq "$(jq -r "select(.request_id == \"$RUN-v2\") | .model.version" "$IT_DIR/b.jsonl")" v2 \
  "model version after SIGHUP"
intent_worker w2 -o models.intent="$IT_DIR/missing.gsm"
sleep 3
kill -0 "${WORKER_PID[w2]}" 2>/dev/null || fail "w2 exited without a model"
ready w2 && fail "w2 ready without a model"
log "intent: labelled $summary; protective stop and alert; dead letters name fields; reload"
