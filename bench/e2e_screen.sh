#!/usr/bin/env bash
# End-to-end throughput of the screen kind (SPEC 8), side by side in one run
# over the same N pre-produced screen requests (govstream-load's payment
# texts, 60 to 110 characters) on the same local broker, alternating ROUNDS
# times:
#   passthrough  plain librdkafka consume -> produce copy (bench/passthrough.c)
#   screen-un    this build's worker, screen kind only, the UN list (1,018 entries)
#   screen-100k  the same with the generated list of 201,027 names (seed 1)
# Measured like bench/e2e.sh: output records over the span between the first
# and the last output record's timestamp (group join and list load excluded).
# Figures: medians, and their ratios to the pass-through of the same run.
#   bench/e2e_screen.sh [N=100000] [ROUNDS=3]     (uses build/, starts its own broker)
# The lists are built into .cache/bench/ once (ops/data/fetch_un_list.sh,
# ops/data/gen_watchlist.py --seed 1).
N=${1:-100000}
ROUNDS=${2:-3}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }

mkdir -p .cache/bench
if ! [ -f .cache/bench/un.gsl ]; then
  ops/data/fetch_un_list.sh .cache/data
  build/govstream watchlist build --format un-xml .cache/data/un-consolidated.xml \
    --out .cache/bench/un.gsl 2>/dev/null
fi
if ! [ -f .cache/bench/gen-100k.gsl ]; then
  progress "generating and building the 100,000-name list into .cache/bench"
  python3 ops/data/gen_watchlist.py --seed 1 --persons 60000 --entities 20000 \
    --out .cache/bench/gen-100k.xml
  build/govstream watchlist build --list GEN --format un-xml .cache/bench/gen-100k.xml \
    --out .cache/bench/gen-100k.gsl 2>/dev/null
fi

bench_setup 0
$LOAD produce -b "$BS" -t "$IN" -n "$N" --kind screen --run-id "b$RUN" >/dev/null

declare -A rates
for r in $(seq 1 "$ROUNDS"); do
  out=bench.$RUN.pt$r
  $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
  build/bench-passthrough "$BS" "$IN" "$out" "pt-$RUN-$r" "$N" >/dev/null
  rates[pt]+="$(bench_rate "$out" "$N") "
  rates[screen-un]+="$(bench_kind_worker screen "un$r" "$N" -o models.screen=.cache/bench/un.gsl) "
  rates[screen-100k]+="$(bench_kind_worker screen "g$r" "$N" -o models.screen=.cache/bench/gen-100k.gsl) "
  progress "round $r/$ROUNDS: $(for k in "${!rates[@]}"; do printf '%s=%s ' "$k" "${rates[$k]##* }"; done)"
done

json=$(rates_json "${!rates[@]}")
jq --argjson n "$N" --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  --arg version "$(build/govstream version)" '
  . as $r | ($r.pt.median_rps) as $pt
  | {requests: $n, kind: "screen", govstream: $version, machine: {cpu: $cpu, cores: $cores},
     passthrough_median_rps: $pt,
     results: ($r | del(.pt) | map_values(. + {ratio_to_passthrough: ((.median_rps / $pt * 1000 | round) / 1000)}))}' <<<"$json"
