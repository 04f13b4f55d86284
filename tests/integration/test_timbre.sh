#!/usr/bin/env bash
# Issue 14 (SPEC 1.4) through the real broker:
#   - notes rendered from TimGM6mb (a sound-font lineage the model never saw:
#     it is trained on FluidR3 + MuseScore only) of programs from different
#     families are classified: top_k labels sorted, probabilities in [0, 1],
#     note "classified", the model named; the top-3 hit rate is well above
#     chance (3/11);
#   - a 25 s WAV recording is split into 3 clips: only the last result has
#     recording_labels (top_k of them) and it counts all 3 clips;
#   - a worker SIGKILLed between the clips of a recording (5 clips, top_k 5;
#     the first 3 answered and committed): its successor restores the
#     recording from the changelog (SPEC 3.6) and the last clip counts all 5;
#   - an odd PCM byte count, over 10 s of audio, too little audio, a sample
#     rate out of range and top_k out of range are VALIDATION dead letters
#     naming the field, and the same partition goes on;
#   - no audio bytes reach the worker's log (debug level, dead letters
#     included);
#   - SIGHUP swaps in a retrained model file (its version in the results);
#   - without a model the worker is not ready.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init timbre
PY=$(py_venv)
create_topics 3

# Training runs with $GS_TRAINER (ops/test.sh: the release build), and so
# does the rendering: govstream-render from the trainer's build, else ours.
TRAIN=${GS_TRAINER:-$GS}
RENDER=
for d in "$(dirname "$TRAIN")" "$GS_BUILD_DIR"; do
  if [ -x "$d/govstream-render" ]; then
    RENDER=$d/govstream-render
    break
  fi
done
[ -n "$RENDER" ] || fail "no govstream-render next to $TRAIN or in $GS_BUILD_DIR (it needs libfluidsynth)"
FLUID=/usr/share/sounds/sf2/FluidR3_GM.sf2
MUSE=/usr/share/sounds/sf3/MuseScore_General_Full.sf3
TIM=/usr/share/sounds/sf2/TimGM6mb.sf2
for f in "$FLUID" "$MUSE" "$TIM"; do
  [ -r "$f" ] || fail "no sound font $f (ops/install-deps.sh installs them)"
done

# ---- the model: the Fluid lineage only, small ----------------------------------------
t0=$SECONDS
mkdir -p "$IT_DIR/notes" "$IT_DIR/held" "$IT_DIR/long"
"$RENDER" --out "$IT_DIR/notes" --font "$FLUID" --font "$MUSE" --pitches 3 \
  2>"$IT_DIR/render.log" || fail "render the training notes"
MODEL=$IT_DIR/timbre.gsm
"$TRAIN" train timbre --notes "$IT_DIR/notes" --out "$MODEL" --augment 1 --epochs 40 \
  >"$IT_DIR/train.log" 2>&1 || fail "train timbre"
grep -q 'skipped: no notes on one side: one lineage only' "$IT_DIR/train.log" ||
  fail "the cross-lineage splits are not reported as skipped"
"$GS" model validate "$MODEL" >/dev/null || fail "model validate"
SHA=$("$GS" model info "$MODEL" | awk '/^sha256:/ {print $2}')
[ ${#SHA} -eq 64 ] || fail "no sha256 from model info: $SHA"
log "rendered and trained in $((SECONDS - t0)) s"

# held out: TimGM6mb, one program per family (pitches 3, two velocities: 6 notes each)
PROGRAMS=(0 11 19 24 33 40 52 56 65 73 81)
for p in "${PROGRAMS[@]}"; do
  mkdir -p "$IT_DIR/tim/$p"
  "$RENDER" --out "$IT_DIR/tim/$p" --font "$TIM" --pitches 3 --program "$p" \
    --wav "$IT_DIR/held" 2>>"$IT_DIR/render.log" || fail "render TimGM6mb program $p"
done
N_HELD=$(find "$IT_DIR/held" -name '*.wav' | wc -l)
[ "$N_HELD" -ge 30 ] || fail "only $N_HELD held-out notes rendered"

# A 25 s recording of held-out notes (flute and string ones in turn), the
# requests of a recording sent in two halves (5 clips of 5 s from it), and
# the malformed requests. MARK is the audio of the malformed clips: a byte
# pattern that must never show in a log, raw, hex or base64.
MARK='GSAUDIOMARK!'
python3 - "$RUN" "$IT_DIR" "$MARK" <<'PYEOF' || fail "the crafted requests"
import base64, glob, json, os, sys, wave
run, d, mark = sys.argv[1:4]
RATE = 22050
frames = b""
notes = sorted(glob.glob(d + "/held/*-flute-*.wav")) + sorted(glob.glob(d + "/held/*-string-*.wav"))
assert notes, "no flute or string notes"
while len(frames) < 2 * 25 * RATE:
    for n in notes:
        with wave.open(n, "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE), n
            frames += w.readframes(w.getnframes())
with wave.open(d + "/long/long.wav", "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(frames[: 2 * 25 * RATE])

def line(f, **kw):
    f.write(json.dumps(kw) + "\n")

# the recording cut by the SIGKILL: clips 0-2, then 3-4
for name, ks in (("kill1", range(0, 3)), ("kill2", range(3, 5))):
    with open("%s/%s.jsonl" % (d, name), "w") as f:
        for k in ks:
            line(f, request_id="%s-kill-%d" % (run, k), recording_id=run + "-kill-rec",
                 wav=d + "/long/long.wav", offset=5 * RATE * k, frames=5 * RATE,
                 clip_index=k, last=k == 4, top_k=5)

# malformed: one recording_id, so one partition, which must go on after them
pattern = [b | mark.encode()[2 * i + 1] << 8 for i, b in enumerate(mark.encode()[::2])]
def marked(seconds, rate):
    n = int(seconds * rate)
    return (pattern * (n // len(pattern) + 1))[:n]
rec = run + "-bad-rec"
def bad(f, tag, rate, seconds, **kw):
    r = dict(request_id="%s-bad-%s" % (run, tag), recording_id=rec, sample_rate=rate,
             clip_index=0, last=False, samples=marked(seconds, rate))
    r.update(kw)
    line(f, **r)
with open(d + "/odd.jsonl", "w") as f:  # --malformed-count 5: the 5th is the odd byte count
    for i in range(5):
        bad(f, "odd%d" % i, RATE, 1.0)
with open(d + "/bad.jsonl", "w") as f:
    bad(f, "long", 8000, 11.0)  # 176,000 bytes: within timbre.max_request_bytes
    bad(f, "short", 16000, 0.1)
    bad(f, "rate", 7000, 1.0)
    bad(f, "topk", RATE, 1.0, top_k=12)
with open(d + "/after.jsonl", "w") as f:
    with wave.open(notes[0], "rb") as w:
        pcm = w.readframes(w.getnframes())
    samples = [int.from_bytes(pcm[i:i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]
    line(f, request_id=run + "-bad-after", recording_id=rec, sample_rate=RATE,
         clip_index=0, last=True, samples=samples)
with open(d + "/v2.jsonl", "w") as f:  # the clip after SIGHUP
    line(f, request_id=run + "-v2-0", recording_id=run + "-v2-rec", sample_rate=RATE,
         clip_index=0, last=True, samples=samples)

# what a log must not contain: the pattern raw, in hex, in base64 (any alignment)
raw = mark.encode() * 8
needles = [mark, raw.hex()[:48], raw.hex().upper()[:48]]
for shift in range(3):
    needles.append(base64.b64encode(raw[shift:]).decode()[:32])
with open(d + "/needles", "w") as f:
    f.write("\n".join(needles) + "\n")
PYEOF

timbre_worker() {
  local id=$1
  shift
  start_worker "$id" -o dialogue.enabled=false -o timbre.enabled=true \
    -o timbre.requests_topic="$T_REQ" -o timbre.results_topic="$T_RES" -o log.level=debug "$@"
}

timbre_worker w1 -o models.timbre="$MODEL"
wait_ready w1 120
grep -q "\"detail\":\"timbre model timbre v1: " "$IT_DIR/w1.log" || fail "no model load in the log"

# ---- 1. held-out notes -----------------------------------------------------------------
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-held" --from "$IT_DIR/held" \
  >/dev/null || fail "produce the held-out notes"
res=$(verify "$N_HELD" 0 --run-id "$RUN-held" --kind timbre --timeout 120 --dump "$IT_DIR/held.jsonl")
expect_eq "$(jqv "$res" .unique)" "$N_HELD" "results of held-out notes"
expect_eq "$(jqv "$res" .accepted)" "$N_HELD" "accepted held-out notes"
held=$(python3 - "$IT_DIR/held.jsonl" "$SHA" <<'PYEOF'
import json, re, sys
FAMILIES = {"bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
            "synth_lead", "vocal"}
def check_labels(ls, k, what):
    assert len(ls) == k, (what, ls)
    ps = [l["probability"] for l in ls]
    assert all(0.0 <= p <= 1.0 for p in ps), (what, ls)
    assert ps == sorted(ps, reverse=True), (what, ls)
    assert {l["label"] for l in ls} <= FAMILIES and len({l["label"] for l in ls}) == k, (what, ls)
hits = top1 = n = 0
per = {}
for r in map(json.loads, open(sys.argv[1])):
    assert r["accepted"] is True and r["note"] == "classified", r
    m = r["model"]
    assert m["name"] == "timbre" and m["version"] and m["sha256"] == sys.argv[2], m
    check_labels(r["labels"], 3, "labels")
    # one clip, its own recording: closed by it
    assert r["clips"] == 1, r
    check_labels(r["recording_labels"], 3, "recording_labels")
    assert 700 <= r["duration_ms"] <= 1500, r["duration_ms"]
    assert r["features"]["rms_dbfs"] < 0 and r["features"]["centroid_hz"] > 0, r["features"]
    family = re.search(r"-p\d{3}-([a-z_]+)-n\d+-v\d+$", r["recording_id"]).group(1)
    got = [l["label"] for l in r["labels"]]
    n += 1
    hits += family in got
    top1 += family == got[0]
    f = per.setdefault(family, [0, 0])
    f[0] += family in got
    f[1] += 1
print(json.dumps({"n": n, "top3": round(hits / n, 3), "top1": round(top1 / n, 3),
                  "top3_per_family": {k: "%d/%d" % tuple(v) for k, v in sorted(per.items())}}))
PYEOF
) || fail "held-out results"
log "held out (TimGM6mb): $held"
TOP3_FLOOR=0.6
[ "$(jq ".top3 >= $TOP3_FLOOR" <<<"$held")" = true ] ||
  fail "top-3 rate $(jqv "$held" .top3) below $TOP3_FLOOR (chance 0.27)"

# ---- 2. a 25 s recording: 3 clips, the last one answers for the recording --------------
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-long" \
  --from "$IT_DIR/long/long.wav" >/dev/null || fail "produce the long recording"
res=$(verify 3 0 --run-id "$RUN-long" --kind timbre --timeout 60 --dump "$IT_DIR/long.jsonl")
expect_eq "$(jqv "$res" .unique)" 3 "results of the 25 s recording"
long=$(python3 - "$IT_DIR/long.jsonl" "$RUN-long-long" <<'PYEOF'
import json, sys
rs = sorted(map(json.loads, open(sys.argv[1])), key=lambda r: r["source"]["offset"])
assert {r["recording_id"] for r in rs} == {sys.argv[2]}, [r["recording_id"] for r in rs]
assert len({r["source"]["partition"] for r in rs}) == 1, "clips of one recording on several partitions"
assert [r["clips"] for r in rs] == [1, 2, 3], [r["clips"] for r in rs]
assert [r["recording_labels"] is None for r in rs] == [True, True, False], rs
assert all(8000 <= r["duration_ms"] <= 10000 for r in rs), [r["duration_ms"] for r in rs]
last = rs[-1]["recording_labels"]
assert len(last) == 3 and [l["probability"] for l in last] == sorted(
    (l["probability"] for l in last), reverse=True), last
print(json.dumps({"clips": rs[-1]["clips"], "durations_ms": [r["duration_ms"] for r in rs],
                  "recording_top3": [l["label"] for l in last]}))
PYEOF
) || fail "the 25 s recording"
log "25 s recording: $long"

# ---- 4. malformed PCM: VALIDATION dead letters naming the field ------------------------
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-bad" --from "$IT_DIR/odd.jsonl" \
  --malformed-count 5 >"$IT_DIR/odd.json" || fail "produce the odd byte count"
# the load tool's malformations in turn: random, 3 x truncated (raw framing), invalid_value
expect_eq "$(jq .malformed.invalid_value "$IT_DIR/odd.json")" 1 "odd byte counts produced"
for f in bad after; do
  "$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-bad" \
    --from "$IT_DIR/$f.jsonl" >/dev/null || fail "produce $f.jsonl"
done
res=$(verify 1 9 --run-id "$RUN-bad" --kind timbre --timeout 60 --dump "$IT_DIR/after.jsonl" \
  --dump-deadletters "$IT_DIR/dl.jsonl")
expect_eq "$(jqv "$res" .unique)" 1 "results after the malformed clips"
expect_eq "$(jqv "$res" .deadletters.total)" 9 "dead letters"
expect_eq "$(jqv "$res" .deadletters.VALIDATION)" 5 "VALIDATION dead letters"
expect_eq "$(jqv "$res" .deadletters.DECODE)" 4 "DECODE dead letters (random and truncated Avro)"
for want in "pcm: 44101 bytes, must be an even number" "pcm: 11000 ms of audio, must be 250..10000 ms" \
  "pcm: 100 ms of audio" "sample_rate: 7000, must be 8000..48000" "top_k: 12, must be 1..11"; do
  jq -se --arg w "$want" 'any(.[]; .error_class == "VALIDATION" and .kind == "timbre"
      and (.error_message | startswith($w)))' "$IT_DIR/dl.jsonl" >/dev/null ||
    fail "no VALIDATION dead letter naming \"$want\": $(cat "$IT_DIR/dl.jsonl")"
done
after=$(cat "$IT_DIR/after.jsonl")
expect_eq "$(jqv "$after" .note)" classified "the clip after the malformed ones"
# dead-lettered clips are not aggregated
expect_eq "$(jqv "$after" .clips)" 1 "clips counted after the malformed ones"
expect_eq "$(jqv "$after" '.recording_labels | length')" 3 "recording_labels after the malformed ones"

# ---- 3. SIGKILL between the clips of a recording ---------------------------------------
kill_verify() { # N DUMP: the kill recording's results
  verify "$1" 0 --run-id "$RUN-kill" --kind timbre --timeout 90 --dump "$2"
}
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-kill" \
  --from "$IT_DIR/kill1.jsonl" >/dev/null || fail "produce clips 0-2"
res=$(kill_verify 3 "$IT_DIR/kill1.json")
expect_eq "$(jqv "$res" .unique)" 3 "results of clips 0-2"
read -r part next < <(jq -rs 'max_by(.source.offset) | "\(.source.partition) \(.source.offset + 1)"' \
  "$IT_DIR/kill1.json")
expect_eq "$(jq -sc 'sort_by(.source.offset) | map(.clips)' "$IT_DIR/kill1.json")" "[1,2,3]" \
  "clips before the SIGKILL"
# Their offsets committed first (auto-commit, every second): otherwise the
# successor redelivers them on top of the restored state (at-least-once,
# OPERATIONS.md) and counts them twice.
"$PY" - "$BS" "$GROUP" "$T_REQ" "$part" "$next" <<'PYEOF' || fail "offsets of clips 0-2 not committed"
import sys, time
from confluent_kafka import Consumer, TopicPartition
bs, group, topic, part, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
c = Consumer({"bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False})
deadline = time.time() + 30
try:
    while True:
        got = c.committed([TopicPartition(topic, part)], timeout=10)[0].offset
        if got >= want:
            break
        if time.time() > deadline:
            sys.exit("committed offset %d on partition %d, want %d" % (got, part, want))
        time.sleep(0.2)
finally:
    c.close()
PYEOF
kill9_worker w1
timbre_worker w2 -o models.timbre="$MODEL"
wait_ready w2 120
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-kill" \
  --from "$IT_DIR/kill2.jsonl" >/dev/null || fail "produce clips 3-4"
res=$(kill_verify 5 "$IT_DIR/kill2.json")
expect_eq "$(jqv "$res" .unique)" 5 "results of the recording cut by the SIGKILL"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates after the SIGKILL"
killed=$(python3 - "$IT_DIR/kill2.json" <<'PYEOF'
import json, sys
rs = sorted(map(json.loads, open(sys.argv[1])), key=lambda r: r["source"]["offset"])
assert [r["worker_id"] for r in rs] == ["w1"] * 3 + ["w2"] * 2, [r["worker_id"] for r in rs]
assert [r["clips"] for r in rs] == [1, 2, 3, 4, 5], [r["clips"] for r in rs]
assert [r["recording_labels"] is None for r in rs] == [True] * 4 + [False], rs
assert all(len(r["labels"]) == 5 for r in rs), [r["labels"] for r in rs]
ps = [l["probability"] for l in rs[-1]["recording_labels"]]
assert len(ps) == 5 and ps == sorted(ps, reverse=True) and all(0 <= p <= 1 for p in ps), rs[-1]
print(json.dumps({"clips": [r["clips"] for r in rs], "workers": [r["worker_id"] for r in rs],
                  "recording_top5": [l["label"] for l in rs[-1]["recording_labels"]]}))
PYEOF
) || fail "the recording cut by the SIGKILL"
log "SIGKILL between clips: $killed"
grep -q '"msg":"state restored"' "$IT_DIR/w2.log" || fail "w2 logged no state restore"
restored=$(curl -sf "http://127.0.0.1:${WORKER_PORT[w2]}/metrics" |
  awk '$1 ~ /^govstream_state_restored_records_total/ { s += $2 } END { print s + 0 }')
[ "$restored" -gt 0 ] || fail "w2 restored no changelog records"

# ---- 4. SIGHUP: a retrained model file (version v2) is served from then on ------------
"$TRAIN" train timbre --notes "$IT_DIR/notes" --out "$IT_DIR/v2.gsm" --augment 1 --epochs 5 \
  --version v2 >"$IT_DIR/train-v2.log" 2>&1 || fail "train timbre v2"
mv "$IT_DIR/v2.gsm" "$MODEL"
kill -HUP "${WORKER_PID[w2]}"
sleep 1
"$LOAD" produce -b "$BS" -t "$T_REQ" --kind timbre --run-id "$RUN-v2" \
  --from "$IT_DIR/v2.jsonl" >/dev/null || fail "produce the clip after SIGHUP"
verify 1 0 --run-id "$RUN-v2" --kind timbre --timeout 60 --dump "$IT_DIR/v2.json" >/dev/null
expect_eq "$(jq -r .model.version "$IT_DIR/v2.json")" v2 "model version after SIGHUP"
expect_eq "$(jq -r .note "$IT_DIR/v2.json")" classified "the clip after SIGHUP"
log "SIGHUP: the retrained model (v2) answers the next clip"
stop_worker w2
expect_eq "$STOP_RC" 0 "exit code of w2"

# ---- 5. no audio in the logs ------------------------------------------------------------
for id in w1 w2; do
  f=$IT_DIR/$id.log
  while read -r needle; do
    ! grep -qF "$needle" "$f" || fail "$id.log carries audio bytes ($needle)"
  done <"$IT_DIR/needles"
  ! grep -qE '[A-Za-z0-9+/=]{200,}|(\\u00[0-9a-fA-F]{2}){8,}' "$f" ||
    fail "$id.log has a long base64, hex or escaped-byte run"
  longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$f")
  [ "$longest" -le 1000 ] || fail "$id.log has a line of $longest characters"
done
dl_lines=$(grep -c '"msg":"dead letter"' "$IT_DIR/w1.log" || true)
[ "$dl_lines" -ge 9 ] || fail "expected 9 dead-letter log lines (debug), got $dl_lines"
dl_longest=$(grep '"msg":"dead letter"' "$IT_DIR/w1.log" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
[ "$dl_longest" -le 500 ] || fail "a dead-letter log line of $dl_longest characters"

# ---- 6. without a model, not ready -----------------------------------------------------
timbre_worker w3 -o models.timbre="$IT_DIR/missing.gsm"
code=
for _ in $(seq 150); do
  code=$(curl -s -o "$IT_DIR/ready.json" -w '%{http_code}' \
    "http://127.0.0.1:${WORKER_PORT[w3]}/health/ready" || true)
  grep -q 'model not loaded' "$IT_DIR/ready.json" 2>/dev/null && break
  sleep 0.2
done
expect_eq "$code" 503 "/health/ready without a timbre model"
grep -q 'model not loaded' "$IT_DIR/ready.json" || fail "readiness reason: $(cat "$IT_DIR/ready.json")"
grep -q '"msg":"model not loaded; not joining the group".*"kind":"timbre".*missing\.gsm: No such file' \
  "$IT_DIR/w3.log" || fail "w3 does not name the missing model file"
grep -q 'partitions assigned' "$IT_DIR/w3.log" && fail "w3 joined the group without a model"
stop_worker w3
expect_eq "$STOP_RC" 0 "exit code of w3"
log "timbre ($SECONDS s): held out $held; 25 s recording $long; SIGKILL $killed; 9 dead letters; logs clean; not ready without a model"
