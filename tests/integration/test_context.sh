#!/usr/bin/env bash
# Issue 3, test 3: through the real broker, one session (governance.scope =
# session) with a scripted sequence of moral values. An independent model of
# SPEC 3.1-3.4 (tests/integration/governance_model.py) predicts every
# result's threshold, verdict, phase, step and context_items; the worker
# must match it exactly - context_items grows as accepted requests are
# committed to memory and consolidated.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init context
create_topics 3
start_worker w1 -o governance.scope=session
wait_ready w1

model=$GS_SOURCE_DIR/tests/integration/governance_model.py
python3 "$model" script "$RUN-sA" >"$IT_DIR/script.jsonl"
n=$(wc -l <"$IT_DIR/script.jsonl")
produce 0 --from "$IT_DIR/script.jsonl" >/dev/null
res=$(verify "$n" 0 --timeout 60 --dump "$IT_DIR/results.jsonl")
expect_eq "$(jqv "$res" .unique)" "$n" "results"
python3 "$model" check "$GS_SOURCE_DIR/config/lexicon" "$IT_DIR/script.jsonl" \
  "$IT_DIR/results.jsonl" || fail "results differ from the model"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
