#!/usr/bin/env bash
# Quickstart: install, build, start a local Kafka, create the topics, run
# three govstream workers on sample dialogue traffic and print a summary.
# Everything stays up afterwards so you can look around; stop it all with
#   ops/quickstart.sh --stop
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/.cache/quickstart
N=${GS_QUICKSTART_REQUESTS:-3000}

stop_all() {
  for f in "$STATE"/*.pid; do
    [ -f "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  sleep 1
  ops/kafka/stop.sh >/dev/null 2>&1 || true
  echo "quickstart: workers and local Kafka stopped"
}
if [ "${1:-}" = "--stop" ]; then
  stop_all
  exit 0
fi

step() { printf '\n== %s\n' "$*"; }

step "1/6 dependencies (ops/install-deps.sh)"
ops/install-deps.sh

step "2/6 build (cmake, build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGS_TESTS=OFF >/dev/null
cmake --build build -j 2 | tail -n 1

step "3/6 local Kafka (KRaft, 127.0.0.1:9092)"
BS=$(ops/kafka/start.sh)
build/govstream-load topics -b "$BS" --partitions 6 \
  --create govstream.dialogue.requests,govstream.dialogue.results,govstream.deadletter

step "4/6 three workers, one consumer group (logs in .cache/quickstart/)"
mkdir -p "$STATE"
for i in 1 2 3; do
  if [ -f "$STATE/w$i.pid" ] && kill -0 "$(cat "$STATE/w$i.pid")" 2>/dev/null; then
    echo "worker w$i already running"
    continue
  fi
  build/govstream run -c config/govstream.cfg -o worker.id="w$i" \
    -o http.listen="127.0.0.1:$((9463 + i))" >"$STATE/w$i.log" 2>&1 &
  echo $! >"$STATE/w$i.pid"
done
for i in 1 2 3; do
  until curl -sf "http://127.0.0.1:$((9463 + i))/health/ready" >/dev/null; do sleep 0.3; done
  echo "worker w$i ready: http://127.0.0.1:$((9463 + i))/health/ready"
done

step "5/6 sample traffic: $N dialogue requests, 1% of them malformed"
RUN=qs-$(date +%s)
build/govstream-load produce -b "$BS" -t govstream.dialogue.requests -n "$N" \
  --run-id "$RUN" --malformed-count $((N / 100)) --rate 5000 | jq -c '{produced, valid, malformed}'

step "6/6 results"
build/govstream-load verify -b "$BS" --run-id "$RUN" --expect-results $((N - N / 100)) \
  --expect-deadletters $((N / 100)) --timeout 60 --show 3 >"$STATE/summary.json" || true
jq '{results, duplicates, missing, accepted, notes, dead_letters: .deadletters,
     per_worker: .workers, throughput_rps: (.throughput_rps | floor)}' "$STATE/summary.json"

cat <<MSG

govstream is running:
  results topic      govstream.dialogue.results  (Avro, schemas/DialogueResult.avsc)
  dead letters       govstream.deadletter        (Avro, schemas/DeadLetter.avsc)
  health             http://127.0.0.1:9464/health/ready  (and :9465, :9466)
  worker logs        .cache/quickstart/w*.log (JSON lines)
  more traffic       build/govstream-load produce -b $BS -t govstream.dialogue.requests -n 10000
  stop everything    ops/quickstart.sh --stop
MSG
