#!/usr/bin/env bash
# Issue 3, test 3: through the real broker, one session (governance.scope =
# session) with a scripted sequence of moral values. An independent model of
# SPEC 3.1-3.4 (tests/integration/governance_model.py) predicts every
# result's threshold, verdict, phase, step and context_items; the worker
# must match it exactly - context_items grows as accepted requests are
# committed to memory and consolidated - and every result's `context` must
# name what it retrieved (ids, cosines, phases: a top 5 by the model's own
# embedding). The worker serves the model that test_model_quality.sh
# trains, so that accepted requests are answered.
#
# `context` is a field added to DialogueResult with a default: the results
# subject starts with the schema released before it (FULL compatibility),
# the worker's registration must pass the registry's check, an
# incompatible change must not, and an old reader (fastavro with that
# schema) reads every result, without the new field.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init context
create_topics 3
model=$GS_BUILD_DIR/it-models/small.gsm
[ -f "$model" ] || fail "$model missing (it.model_quality trains it)"
subject=$T_RES-value
v1=$GS_SOURCE_DIR/tests/data/DialogueResult_v1.avsc
body() { jq -Rs '{schema: .}' "$1"; }
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"FULL"}' \
  "$REG/config/$subject" >/dev/null || fail "setting FULL compatibility"
curl -sf -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
  --data-binary "$(body "$v1")" "$REG/subjects/$subject/versions" >/dev/null ||
  fail "registering the old DialogueResult"
start_worker w1 -o governance.scope=session -o dialogue.governance_only=false \
  -o models.dialogue="$model" -o registry.url="$REG" -o dialogue.output_framing=confluent
wait_ready w1

gmodel=$GS_SOURCE_DIR/tests/integration/governance_model.py
python3 "$gmodel" script "$RUN-sA" >"$IT_DIR/script.jsonl"
n=$(wc -l <"$IT_DIR/script.jsonl")
produce 0 --from "$IT_DIR/script.jsonl" >/dev/null
res=$(verify "$n" 0 --timeout 60 --framing confluent --dump "$IT_DIR/results.jsonl")
expect_eq "$(jqv "$res" .unique)" "$n" "results"
python3 "$gmodel" check "$GS_SOURCE_DIR/config/lexicon" "$IT_DIR/script.jsonl" \
  "$IT_DIR/results.jsonl" || fail "results differ from the model"

# the registry holds both versions, and FULL refuses a field without a default
expect_eq "$(curl -sf "$REG/subjects/$subject/versions" | jq length)" 2 "result schema versions"
jq '.fields += [{"name": "extra", "type": "string"}]' "$v1" >"$IT_DIR/bad.avsc"
compat=$(curl -sf -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
  --data-binary "$(body "$IT_DIR/bad.avsc")" \
  "$REG/compatibility/subjects/$subject/versions/latest" | jq -r .is_compatible)
expect_eq "$compat" false "an added field without a default under FULL"
old=$("$(py_venv)" "$GS_SOURCE_DIR/tests/integration/result_reader.py" "$BS" "$T_RES" "$REG" \
  "$v1" "$n") || fail "old reader: $old"
log "old reader: $old"
expect_eq "$(jqv "$old" .read)" "$n" "results the old reader read"
expect_eq "$(jqv "$old" .mismatched)" 0 "results the old reader read differently"
[ "$(jqv "$old" .with_context)" -gt 0 ] || fail "no result named its context"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
