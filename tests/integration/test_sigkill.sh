#!/usr/bin/env bash
# Issue 2, test 3: like test_group_10k, but one worker is killed with SIGKILL
# half-way. At-least-once: every request_id has at least one result; the
# duplicates (offsets processed but not yet committed by the dead worker)
# are reported.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init sigkill
create_topics 6
for w in w1 w2 w3; do start_worker "$w"; done
for w in w1 w2 w3; do wait_ready "$w"; done
sleep 2

produce 10000 --rate 2000 >"$IT_DIR/produce.json" &
producer=$!
sleep 2.5 # about half of the requests are in
kill9_worker w2
log "w2 killed with SIGKILL"
wait "$producer" || fail "producer failed"
log "produced: $(cat "$IT_DIR/produce.json")"
res=$(verify 10000 0 --timeout 120)
log "verified: $res"
expect_eq "$(jqv "$res" .unique)" 10000 "request ids with a result"
expect_eq "$(jqv "$res" .missing)" 0 "missing"
expect_eq "$(jqv "$res" .deadletters.total)" 0 "dead letters"
[ "$(jqv "$res" '.workers.w2 // 0')" -gt 0 ] || fail "w2 produced nothing before the kill"
[ "$(jqv "$res" '.workers.w1 // 0')" -gt 0 ] || fail "w1 produced nothing"
[ "$(jqv "$res" '.workers.w3 // 0')" -gt 0 ] || fail "w3 produced nothing"
for w in w1 w3; do
  stop_worker "$w"
  expect_eq "$STOP_RC" 0 "exit code of $w"
done
log "at-least-once held; duplicates after SIGKILL: $(jqv "$res" .duplicates)"
