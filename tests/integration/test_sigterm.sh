#!/usr/bin/env bash
# Issue 2, test 5: SIGTERM during load -> exit 0 within shutdown.timeout_ms;
# a restarted worker continues from the committed offsets: every request
# has exactly one result (nothing lost, nothing reprocessed).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init sigterm
create_topics 6
TIMEOUT_MS=10000
start_worker w1 -o shutdown.timeout_ms=$TIMEOUT_MS
wait_ready w1

produce 10000 --rate 2000 >"$IT_DIR/produce.json" &
producer=$!
sleep 2
stop_worker w1
log "SIGTERM during load: exit code $STOP_RC after $STOP_MS ms (deadline $TIMEOUT_MS ms)"
expect_eq "$STOP_RC" 0 "exit code after SIGTERM"
[ "$STOP_MS" -lt "$TIMEOUT_MS" ] || fail "took $STOP_MS ms, deadline $TIMEOUT_MS ms"
grep -q '"msg":"committed"' "$IT_DIR/w1.log" || fail "no commit logged on shutdown"

start_worker w2
wait_ready w2
wait "$producer" || fail "producer failed"
res=$(verify 10000 0 --timeout 120)
log "verified: $res"
expect_eq "$(jqv "$res" .unique)" 10000 "request ids with a result"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates after a clean shutdown"
[ "$(jqv "$res" '.workers.w1 // 0')" -gt 0 ] || fail "w1 did nothing before SIGTERM"
[ "$(jqv "$res" '.workers.w2 // 0')" -gt 0 ] || fail "w2 did nothing after the restart"
stop_worker w2
expect_eq "$STOP_RC" 0 "exit code of the restarted worker"
