#!/usr/bin/env bash
# One end-to-end table for every kind (SPEC 8, issue 15): for each row, N
# requests of that kind pre-produced once, then alternating ROUNDS times the
# raw librdkafka consume -> produce pass-through (bench/passthrough.c) of the
# same messages and the worker serving only that kind; the ratio of their
# medians. Measured like bench/e2e.sh: output records over the span between
# the first and the last output record's timestamp (group join and model
# load excluded).
#   dialogue-20k    governance only, the default 20,000-vector memories (4
#                   tenants: each memory fills to 20,000 within the run)
#   dialogue-model  NEXT_TOKEN / TOP_K / GENERATE with the dialogue model
#   intent          the intent model (bench/e2e_intent.sh's traffic)
#   screen          the UN list (bench/e2e_screen.sh's traffic)
#   timbre          the timbre model, generated clips
#   bench/e2e_all.sh [ROUNDS=3]   (uses build/, starts its own broker)
# GS_BENCH_N="dialogue-20k=200000 dialogue-model=20000 intent=100000 screen=100000
# timbre=3000" sets the rows and their sizes; GS_BENCH_PIN=1 pins as lib.sh says;
# GS_BENCH_WORKER_OPTS adds worker overrides to every row.
# Models: .cache/bench/{dialogue,intent}.gsm are trained once, the UN list
# built once; timbre needs .cache/models/timbre.gsm (ops/quickstart.sh trains
# it) and its row is left out without it.
ROUNDS=${1:-3}
ROWS=${GS_BENCH_N:-dialogue-20k=200000 dialogue-model=20000 intent=100000 screen=100000 timbre=3000}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }

mkdir -p .cache/bench
prepare() { # the model or list a row needs
  case $1 in
  dialogue-model)
    [ -f .cache/bench/dialogue.gsm ] || build/govstream train dialogue \
      --corpus .cache/data/chitchat.txt --out .cache/bench/dialogue.gsm >/dev/null 2>&1 ;;
  intent)
    [ -f .cache/bench/intent.gsm ] || build/govstream train intent \
      --out .cache/bench/intent.gsm >/dev/null 2>&1 ;;
  screen)
    if ! [ -f .cache/bench/un.gsl ]; then
      ops/data/fetch_un_list.sh .cache/data >/dev/null
      build/govstream watchlist build --format un-xml .cache/data/un-consolidated.xml \
        --out .cache/bench/un.gsl >/dev/null 2>&1
    fi ;;
  timbre) [ -f .cache/models/timbre.gsm ] ;;
  esac
}
kind_of() { echo "${1%%-*}"; }
worker_opts() {
  case $1 in
  dialogue-20k) echo "-o dialogue.governance_only=true" ;;
  dialogue-model) echo "-o dialogue.governance_only=false -o models.dialogue=.cache/bench/dialogue.gsm" ;;
  intent) echo "-o models.intent=.cache/bench/intent.gsm" ;;
  screen) echo "-o models.screen=.cache/bench/un.gsl" ;;
  timbre) echo "-o models.timbre=.cache/models/timbre.gsm" ;;
  esac
}

bench_setup 0
rows_json=()
for row in $ROWS; do
  name=${row%%=*} n=${row#*=} kind=$(kind_of "${row%%=*}")
  if ! prepare "$name"; then
    progress "$name: left out (no model)"
    continue
  fi
  IN=bench.$RUN.$name.in
  $LOAD topics -b "$BS" --create "$IN" --partitions 6 -q
  $LOAD produce -b "$BS" -t "$IN" -n "$n" --kind "$kind" --run-id "b$RUN$name" >/dev/null
  read -ra opts <<<"$(worker_opts "$name") ${GS_BENCH_WORKER_OPTS:-}"
  pt="" wk=""
  for r in $(seq 1 "$ROUNDS"); do
    out=bench.$RUN.$name.pt$r
    $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
    "${PIN_WORKER[@]}" build/bench-passthrough "$BS" "$IN" "$out" "pt-$RUN-$name-$r" "$n" >/dev/null
    pt+="$(bench_rate "$out" "$n") "
    wk+="$(bench_kind_worker "$kind" "$name$r" "$n" "${opts[@]}") "
    progress "$name round $r/$ROUNDS: pass-through ${pt##* } worker ${wk##* }"
  done
  rows_json+=("$(jq -n --arg name "$name" --argjson n "$n" --arg pt "$pt" --arg wk "$wk" '
    def med: split(" ") | map(select(. != "") | tonumber) | sort | .[(length - 1) / 2 | floor];
    def all: split(" ") | map(select(. != "") | tonumber);
    {row: $name, requests: $n, passthrough_rps: ($pt | med), worker_rps: ($wk | med),
     ratio: ((($wk | med) / ($pt | med) * 1000 | round) / 1000),
     rounds: {passthrough: ($pt | all), worker: ($wk | all)}}')")
done
printf '%s\n' "${rows_json[@]}" | jq -s --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  --arg version "$(build/govstream version)" --arg pin "${GS_BENCH_PIN:-0}" \
  '{govstream: $version, machine: {cpu: $cpu, cores: $cores}, pinned: ($pin == "1"), rows: .}'
