#!/usr/bin/env bash
# Issue 4, tests 3 and 4, through the real broker with the model trained on
# the real corpus by test_model_quality.sh:
#   - NEXT_TOKEN / TOP_K carry sorted probabilities summing to <= 1, GENERATE
#     carries text, and every result names the model file's SHA-256;
#   - SIGHUP with a corrupt file keeps serving the old model;
#   - SIGHUP with a valid file swaps it in: a model trained on a looping
#     corpus, whose generated text the quality gate rejects (marked
#     quality_gate:looping, not accepted, no text);
#   - a worker whose model does not load stays not ready ("model not
#     loaded") and out of the group until SIGHUP finds a valid file.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init model_serving
TRAIN=${GS_TRAINER:-$GS}
small=$GS_BUILD_DIR/it-models/small.gsm
[ -f "$small" ] || fail "$small missing (it.model_quality trains it)"
create_topics 3

# sha256 FILE: the model's SHA-256 as its trailer records it, checked here
# against the content independently of the worker.
sha256() {
  python3 - "$1" <<'EOF'
import hashlib, sys
b = open(sys.argv[1], "rb").read()
assert hashlib.sha256(b[:-32]).digest() == b[-32:], "trailer mismatch"
print(b[-32:].hex())
EOF
}

# requests TAG OP... : one request per op and prompt, each in its own tenant
# (a fresh governance scope: awake, threshold 0.5) with moral value 0.95.
requests() {
  python3 - "$RUN" "$@" <<'EOF'
import json, sys
run, tag, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
prompts = [["hi, how are you?"], ["what do you do for fun?"],
           ["do you like pizza?", "yes, i love it."], ["where are you from?"],
           ["what is your favorite movie?"], ["i just got back from a trip to japan!"]]
i = 0
for p in prompts:
    for op in ops:
        print(json.dumps({"request_id": "%s-%s%02d" % (run, tag, i), "session_id": "%s-s%d" % (run, i),
                          "tenant": "%s-%s%02d" % (run, tag, i), "op": op, "turns": p,
                          "top_k": 3 + 3 * (i % 6), "max_tokens": 24, "moral_value": 0.95}))
        i += 1
EOF
}

# check FILE.jsonl SHA EXPECT: results against their requests
check() {
  python3 - "$1" "$2" "$3" "$IT_DIR/requests.jsonl" <<'EOF'
import json, sys
path, sha, expect, reqs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
req = {}
for l in open(reqs):
    r = json.loads(l)
    req[r["request_id"]] = r
n = 0
for l in open(path):
    r = json.loads(l)
    q = req[r["request_id"]]
    assert r["model"]["sha256"] == sha, (r["request_id"], r["model"], sha)
    assert r["accepted"] if expect == "ok" else True, r
    preds = r["predictions"]
    probs = [p for _, p in preds]
    if q["op"] == "GENERATE":
        assert preds == [], r
        if expect == "ok":
            assert r["text"] and r["note"] == "processed", r
            assert len(r["text"].split()) <= q["max_tokens"], r
        else:
            # the prompts share no word with "la la la": drift applies too
            assert not r["accepted"] and r["text"] is None, r
            assert r["note"].startswith("quality_gate:"), r
            assert "looping" in r["note"].split(":")[1].split(","), r
    else:
        assert r["text"] is None, r
        assert len(preds) == (1 if q["op"] == "NEXT_TOKEN" else q["top_k"]), r
        assert all(0 < p <= 1 for p in probs), r
        assert probs == sorted(probs, reverse=True), r
        assert sum(probs) <= 1.0, r
        assert len(set(t for t, _ in preds)) == len(preds), r
    n += 1
print(n)
EOF
}

cp "$small" "$IT_DIR/model.gsm"
sha_small=$(sha256 "$small")
start_worker w1 -o dialogue.governance_only=false -o models.dialogue="$IT_DIR/model.gsm"
wait_ready w1

# ---- 1. the real model: predictions and text -------------------------------------
requests a NEXT_TOKEN TOP_K GENERATE >"$IT_DIR/requests.jsonl"
produce 0 --from "$IT_DIR/requests.jsonl" >/dev/null
res=$(verify 18 0 --timeout 60 --dump "$IT_DIR/a.jsonl")
expect_eq "$(jqv "$res" .unique)" 18 "results (real model)"
expect_eq "$(check "$IT_DIR/a.jsonl" "$sha_small" ok)" 18 "checked results (real model)"
log "real model: $(jq -c '[.request_id, .predictions[0:3], .text]' "$IT_DIR/a.jsonl" | head -n 3 | tr '\n' ' ')"

# ---- 2. SIGHUP with a corrupt file: the old model keeps serving -------------------
size=$(stat -c %s "$small")
head -c $((size / 2)) "$small" >"$IT_DIR/broken.gsm"
mv "$IT_DIR/broken.gsm" "$IT_DIR/model.gsm"
kill -HUP "${WORKER_PID[w1]}"
for _ in $(seq 50); do
  grep -q '"model reload failed; keeping the current model"' "$IT_DIR/w1.log" && break
  sleep 0.2
done
grep '"model reload failed; keeping the current model"' "$IT_DIR/w1.log" | grep -q 'truncated' ||
  fail "no reload failure logged"
ready w1 || fail "worker not ready after a refused reload"
requests b NEXT_TOKEN TOP_K >"$IT_DIR/b.req.jsonl"
cat "$IT_DIR/b.req.jsonl" >>"$IT_DIR/requests.jsonl"
produce 0 --from "$IT_DIR/b.req.jsonl" >/dev/null
res=$(verify 30 0 --timeout 60 --dump "$IT_DIR/b.jsonl")
expect_eq "$(jqv "$res" .unique)" 30 "results after the refused reload"
expect_eq "$(check "$IT_DIR/b.jsonl" "$sha_small" ok)" 30 "checked results (old model kept)"

# ---- 3. SIGHUP with a valid file: a looping model, rejected by the quality gate ---
python3 - >"$IT_DIR/loop.txt" <<'EOF'
# every reply is the same word 30 times; distinct first turns so the split
# by conversation has all three parts
for i in range(400):
    print("hello number %d\t%s" % (i, " ".join(["la"] * 30)))
EOF
"$TRAIN" train dialogue --corpus "$IT_DIR/loop.txt" --out "$IT_DIR/loop.gsm" --vocab 64 \
  --units 64 --code-dims 8 --input-nnz 8 --name it-loop >/dev/null 2>"$IT_DIR/train.log" ||
  fail "training the looping model: $(tail -n 3 "$IT_DIR/train.log")"
sha_loop=$(sha256 "$IT_DIR/loop.gsm")
cp "$IT_DIR/loop.gsm" "$IT_DIR/model.gsm.tmp" && mv "$IT_DIR/model.gsm.tmp" "$IT_DIR/model.gsm"
kill -HUP "${WORKER_PID[w1]}"
for _ in $(seq 50); do
  grep -q '"models reloaded"' "$IT_DIR/w1.log" && break
  sleep 0.2
done
grep -q '"models reloaded"' "$IT_DIR/w1.log" || fail "valid model not reloaded"
requests c GENERATE >"$IT_DIR/c.req.jsonl"
cat "$IT_DIR/c.req.jsonl" >>"$IT_DIR/requests.jsonl"
produce 0 --from "$IT_DIR/c.req.jsonl" >/dev/null
res=$(verify 36 0 --timeout 60 --dump "$IT_DIR/all.jsonl")
expect_eq "$(jqv "$res" .unique)" 36 "results after the swap"
grep -- "-c[0-9][0-9]\"" "$IT_DIR/all.jsonl" >"$IT_DIR/c.jsonl"
expect_eq "$(check "$IT_DIR/c.jsonl" "$sha_loop" looping)" 6 "checked results (looping model)"

# ---- 4. a worker whose model does not load is not ready, until SIGHUP fixes it ----
head -c 1000 "$small" >"$IT_DIR/w2.gsm"
start_worker w2 -o dialogue.governance_only=false -o models.dialogue="$IT_DIR/w2.gsm"
for _ in $(seq 100); do
  body=$(curl -s "http://127.0.0.1:${WORKER_PORT[w2]}/health/ready" || true)
  grep -q 'model not loaded' <<<"$body" && break
  sleep 0.1
done
grep -q 'model not loaded' <<<"$body" || fail "w2 readiness: $body"
grep -q '"model not loaded; not joining the group"' "$IT_DIR/w2.log" || fail "w2 log"
grep -q 'partitions assigned' "$IT_DIR/w2.log" && fail "w2 joined the group without a model"
cp "$small" "$IT_DIR/w2.gsm"
kill -HUP "${WORKER_PID[w2]}"
wait_ready w2 30

stop_worker w2
expect_eq "$STOP_RC" 0 "w2 exit code"
stop_worker w1
expect_eq "$STOP_RC" 0 "w1 exit code"
# no user text or model paths in logs beyond what was asked for
grep -q 'how are you' "$IT_DIR"/w*.log && fail "user text in a log"
# nor generated text: no log line holds any generated text of 3 words or more
jq -r 'select(.text != null and (.text | split(" ") | length) >= 3) | .text' "$IT_DIR/a.jsonl" \
  >"$IT_DIR/generated.txt"
[ -s "$IT_DIR/generated.txt" ] || fail "no generated text to look for"
grep -qFf "$IT_DIR/generated.txt" "$IT_DIR"/w*.log && fail "generated text in a log"
log "model serving: ok"
