#!/usr/bin/env bash
# End-to-end throughput of the intent kind (SPEC 8), side by side in one run
# over the same N pre-produced intent requests (govstream-load's generated
# scenes: 0.3 to all of a movement, Kinect- and mocap-class, 10 to 256 hand
# samples, about 40% of them protective stops) on the same local broker,
# alternating ROUNDS times:
#   passthrough  plain librdkafka consume -> produce copy (bench/passthrough.c)
#   intent       this build's worker, intent kind only, the trained model
# Measured like bench/e2e.sh: output records over the span between the first
# and the last output record's timestamp (group join and model load excluded).
# Figures: medians, and their ratios to the pass-through of the same run.
#   bench/e2e_intent.sh [N=100000] [ROUNDS=3]     (uses build/, starts its own broker)
# The model is trained into .cache/bench/intent.gsm once.
N=${1:-100000}
ROUNDS=${2:-3}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
progress() { if [ -t 2 ]; then echo "$*" >&2; fi; }

mkdir -p .cache/bench
[ -f .cache/bench/intent.gsm ] || build/govstream train intent --out .cache/bench/intent.gsm 2>/dev/null

bench_setup 0
$LOAD produce -b "$BS" -t "$IN" -n "$N" --kind intent --run-id "b$RUN" >/dev/null

declare -A rates
for r in $(seq 1 "$ROUNDS"); do
  out=bench.$RUN.pt$r
  $LOAD topics -b "$BS" --create "$out" --partitions 6 -q
  build/bench-passthrough "$BS" "$IN" "$out" "pt-$RUN-$r" "$N" >/dev/null
  rates[pt]+="$(bench_rate "$out" "$N") "
  rates[intent]+="$(bench_kind_worker intent "i$r" "$N" -o models.intent=.cache/bench/intent.gsm) "
  progress "round $r/$ROUNDS: $(for k in "${!rates[@]}"; do printf '%s=%s ' "$k" "${rates[$k]##* }"; done)"
done

json=$(rates_json "${!rates[@]}")
jq --argjson n "$N" --arg cpu "$(cpu_model)" --arg cores "$(nproc)" \
  --arg version "$(build/govstream version)" '
  . as $r | ($r.pt.median_rps) as $pt
  | {requests: $n, kind: "intent", govstream: $version, machine: {cpu: $cpu, cores: $cores},
     passthrough_median_rps: $pt,
     results: ($r | del(.pt) | map_values(. + {ratio_to_passthrough: ((.median_rps / $pt * 1000 | round) / 1000)}))}' <<<"$json"
