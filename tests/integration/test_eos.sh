#!/usr/bin/env bash
# Issue 11, item 2: exactly-once mode. Three workers with
# delivery.mode=exactly_once read requests produced live; two of them are
# SIGKILLed in turn and restarted with the same worker.id (so each fences the
# producer it replaces). A read_committed reader must see every request's
# result exactly once, no duplicates, and the group's committed offsets must
# be at the end of the input. A worker with the same worker.id as a running
# one fences it: the older one exits non-zero (the supervisor's signal).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init eos
N=${GS_IT_EOS_N:-6000}
create_topics 6
EOS=(-o delivery.mode=exactly_once -o delivery.transaction_interval_ms=100)

for w in 1 2 3; do start_worker "e$w" "${EOS[@]}"; done
for w in 1 2 3; do wait_ready "e$w"; done
rate=1000
produce "$N" --rate "$rate" --tenants 4 --sessions 60 --moral-given 0.5 --seed 5 \
  >"$IT_DIR/produce.json" &
producer=$!
for victim in e2 e3; do
  sleep $((N / 4 / rate))
  kill9_worker "$victim"
  start_worker "$victim" "${EOS[@]}"
  log "$victim killed (SIGKILL) and restarted"
done
wait "$producer" || fail "producer failed"
res=$(verify "$N" 0 --timeout 120)
log "verified: $(jqv "$res" '{results, unique, duplicates, workers}' | tr -d ' \n')"
expect_eq "$(jqv "$res" .unique)" "$N" "requests with a result"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates seen by a read_committed reader"

# fencing: a second process with e1's id takes over its transactional id;
# e1 learns it at its next transaction, so more requests follow
start_worker e1b "${EOS[@]}" -o worker.id=e1
wait_ready e1b 60
RUN=$RUN-2
produce 600 --rate 200 --tenants 4 --sessions 60 --seed 6 >/dev/null
deadline=$((SECONDS + 60))
while kill -0 "${WORKER_PID[e1]}" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "e1 was not fenced within 60 s"
  sleep 0.2
done
wait "${WORKER_PID[e1]}" && rc=0 || rc=$?
unset 'WORKER_PID[e1]'
[ "$rc" -ne 0 ] || fail "fenced worker e1 exited 0"
grep -q 'fenced\|FENCED' "$IT_DIR/e1.log" || fail "e1 did not log that it was fenced"
log "e1 fenced by a new process with its worker.id: exit code $rc"
res=$(verify 600 0 --timeout 120)
expect_eq "$(jqv "$res" .unique)" 600 "requests with a result after the fencing"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates after the fencing"
for w in e1b e2 e3; do
  stop_worker "$w"
  expect_eq "$STOP_RC" 0 "exit code of $w"
done
log "ok: exactly once through 2 SIGKILLs; fencing stops the zombie"
