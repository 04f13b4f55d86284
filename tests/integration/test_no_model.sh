#!/usr/bin/env bash
# Issue 10 (SPEC 1.2): a dialogue worker that needs a model and has none is
# not ready and stays out of the group; in the explicit governance-only mode
# its results say so: accepted=false, note "no model", no predictions, no
# text, while the governance verdict, threshold and phase are still there.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init no_model
create_topics 3

# ---- 1. no model configured, not governance-only: not ready ----------------------
start_worker w1 -o dialogue.governance_only=false -o models.dialogue=
for _ in $(seq 100); do
  body=$(curl -s "http://127.0.0.1:${WORKER_PORT[w1]}/health/ready" || true)
  grep -q 'model not loaded' <<<"$body" && break
  sleep 0.1
done
grep -q 'model not loaded' <<<"$body" || fail "w1 readiness: $body"
grep -q 'no model configured' "$IT_DIR/w1.log" || fail "w1 does not say why"
sleep 1
grep -q 'partitions assigned' "$IT_DIR/w1.log" && fail "w1 joined the group without a model"
stop_worker w1
expect_eq "$STOP_RC" 0 "w1 exit code"

# ---- 2. governance only: every answer says there is no model ----------------------
start_worker w2 # lib.sh: dialogue.governance_only=true
wait_ready w2
python3 - "$RUN" >"$IT_DIR/requests.jsonl" <<'PY'
import json, sys
run = sys.argv[1]
for i, (op, mv) in enumerate([("NEXT_TOKEN", 0.95), ("TOP_K", 0.95), ("GENERATE", 0.95),
                               ("TOP_K", 0.1)]):
    print(json.dumps({"request_id": "%s-r%d" % (run, i), "session_id": "%s-s%d" % (run, i),
                      "tenant": "%s-t%d" % (run, i), "op": op, "turns": ["hello there"],
                      "moral_value": mv}))
PY
produce 0 --from "$IT_DIR/requests.jsonl" >/dev/null
res=$(verify 4 0 --timeout 60 --dump "$IT_DIR/results.jsonl")
expect_eq "$(jqv "$res" .unique)" 4 "results"
python3 - "$IT_DIR/results.jsonl" <<'PY' || fail "governance-only results"
import json, sys
res = {r["request_id"].rsplit("-", 1)[1]: r for r in map(json.loads, open(sys.argv[1]))}
for k in ("r0", "r1", "r2"):
    r = res[k]
    assert r["accepted"] is False and r["note"] == "no model", r
    assert r["predictions"] == [] and r["text"] is None, r
    assert r["moral_value"] == 0.95 and r["moral_threshold"] == 0.5 and r["phase"] == "WAKE", r
    assert r["model"] == {"name": "", "version": "", "sha256": ""}, r
r = res["r3"]
assert r["accepted"] is False and r["note"] == "morally rejected", r
print("governance-only: 3 x 'no model', 1 x 'morally rejected'")
PY
stop_worker w2
expect_eq "$STOP_RC" 0 "w2 exit code"
