#!/usr/bin/env bash
# Backpressure: with a tiny producer queue and in-flight limit the worker
# must pause partitions (and resume them) instead of failing or dropping,
# and every request still gets exactly one result.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init backpressure
create_topics 6
produce 20000 >/dev/null # a backlog, so the worker runs flat out
start_worker w1 -o log.level=debug -o batch.max=64 -o delivery.max_inflight_per_partition=128 \
  -o kafka_producer.queue.buffering.max.messages=300 -o kafka_producer.linger.ms=20 \
  -o kafka_consumer.fetch.wait.max.ms=50 # a resumed partition waits for the next fetch
res=$(verify 20000 0 --timeout 120)
log "verified: $res"
expect_eq "$(jqv "$res" .unique)" 20000 "results"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates"
paused=$(grep -c '"msg":"paused"' "$IT_DIR/w1.log" || true)
resumed=$(grep -c '"msg":"resumed"' "$IT_DIR/w1.log" || true)
log "pauses: $paused, resumes: $resumed"
[ "$paused" -gt 0 ] || fail "flow control never paused a partition"
[ "$resumed" -gt 0 ] || fail "flow control never resumed"
! grep -q '"level":"error"' "$IT_DIR/w1.log" || fail "errors logged"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
