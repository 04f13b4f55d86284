#!/usr/bin/env bash
# Issue 3, test 3: through the real broker, one session (governance.scope =
# session) with a scripted sequence of moral values. An independent model of
# SPEC 3.1-3.4 (tests/integration/governance_model.py) predicts every
# result's threshold, verdict, phase, step and context_items; the worker
# must match it exactly - context_items grows as accepted requests are
# committed to memory and consolidated. The worker serves the model that
# test_model_quality.sh trains, so that accepted requests are answered.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init context
create_topics 3
model=$GS_BUILD_DIR/it-models/small.gsm
[ -f "$model" ] || fail "$model missing (it.model_quality trains it)"
start_worker w1 -o governance.scope=session -o dialogue.governance_only=false \
  -o models.dialogue="$model"
wait_ready w1

gmodel=$GS_SOURCE_DIR/tests/integration/governance_model.py
python3 "$gmodel" script "$RUN-sA" >"$IT_DIR/script.jsonl"
n=$(wc -l <"$IT_DIR/script.jsonl")
produce 0 --from "$IT_DIR/script.jsonl" >/dev/null
res=$(verify "$n" 0 --timeout 60 --dump "$IT_DIR/results.jsonl")
expect_eq "$(jqv "$res" .unique)" "$n" "results"
python3 "$gmodel" check "$GS_SOURCE_DIR/config/lexicon" "$IT_DIR/script.jsonl" \
  "$IT_DIR/results.jsonl" || fail "results differ from the model"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
