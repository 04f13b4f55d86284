#!/usr/bin/env bash
# Issue 2, test 4: 1,000 malformed messages (random Avro body, truncated
# Avro, wrong magic byte, unknown schema id, NaN moral value, over the
# maximum request size) mixed into 5,000 valid ones, Confluent framing via
# the real schema registry -> 5,000 results and 1,000 dead letters with the
# right error_class; the worker is alive and ready afterwards.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init malformed
create_topics 6
start_worker w1 -o registry.url="$REG" -o dialogue.input_framing=confluent \
  -o dialogue.output_framing=confluent -o deadletter.framing=confluent
wait_ready w1

out=$(produce 6000 --malformed-count 1000 --framing confluent --registry "$REG" --oversize-bytes 70000)
log "produced: $out"
expect_eq "$(jqv "$out" .valid)" 5000 "valid produced"
res=$(verify 5000 1000 --framing confluent --timeout 120)
log "verified: $res"
expect_eq "$(jqv "$res" .unique)" 5000 "results"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates"
expect_eq "$(jqv "$res" .deadletters.total)" 1000 "dead letters"
for cls in DECODE SCHEMA VALIDATION TOO_LARGE; do
  expect_eq "$(jqv "$res" ".deadletters.$cls")" "$(jqv "$out" ".expected_deadletters.$cls")" "$cls dead letters"
done
expect_eq "$(jqv "$res" .deadletters.INTERNAL)" 0 "INTERNAL dead letters"
kill -0 "${WORKER_PID[w1]}" || fail "worker died"
ready w1 || fail "worker not ready after the malformed input"
# and it still serves new traffic
RUN=$RUN-after
produce 100 --framing confluent --registry "$REG" >/dev/null
res=$(verify 100 0 --framing confluent --timeout 60)
expect_eq "$(jqv "$res" .unique)" 100 "results after the malformed input"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
