#!/usr/bin/env bash
# Issue 2, test 6: a producer with a newer writer schema (extra fields with
# defaults, optional fields dropped), registered in the real schema
# registry, is processed correctly next to one using our schema.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init evolution
create_topics 3
start_worker w1 -o registry.url="$REG" -o dialogue.input_framing=confluent \
  -o dialogue.output_framing=confluent
wait_ready w1

base=$RUN # run ids are key prefixes: keep the two runs disjoint
RUN=$base-v2
produce 200 --framing confluent --registry "$REG" \
  --writer-schema "$GS_SOURCE_DIR/tests/data/DialogueRequest_v2.avsc" >/dev/null
RUN=$base-v1
produce 200 --framing confluent --registry "$REG" --seed 2 >/dev/null
RUN=$base-v2
res=$(verify 200 0 --framing confluent --timeout 60)
log "v2 producer: $res"
expect_eq "$(jqv "$res" .unique)" 200 "results for the v2 producer"
expect_eq "$(jqv "$res" .deadletters.total)" 0 "dead letters for the v2 producer"
# v2 has no tenant field: the reader's default applies
expect_eq "$(jqv "$res" '.tenants.default')" 200 "results with the default tenant"
RUN=$base-v1
res=$(verify 200 0 --framing confluent --timeout 60)
log "v1 producer: $res"
expect_eq "$(jqv "$res" .unique)" 200 "results for the v1 producer"
expect_eq "$(jqv "$res" '.tenants.default // 0')" 0 "v1 requests keep their tenant"
ids=$(curl -sf "$REG/subjects/$T_REQ-value/versions")
expect_eq "$(jq length <<<"$ids")" 2 "writer schema versions registered"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
