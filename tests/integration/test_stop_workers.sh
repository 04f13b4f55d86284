#!/usr/bin/env bash
# Issue 10: `ops/quickstart.sh --stop` (ops/stop-workers.sh) waits until the
# workers have finished their SIGTERM drain before the broker is stopped,
# and kills, boundedly, a worker that does not exit.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init stop_workers
stop=$GS_SOURCE_DIR/ops/stop-workers.sh

# A stand-in worker whose drain takes 2 s after SIGTERM, and one that ignores SIGTERM.
bash -c 'trap "sleep 2; exit 0" TERM; while :; do sleep 0.1; done' &
slow=$!
BG_PIDS+=("$slow")
echo "$slow" >"$IT_DIR/slow.pid"
sleep 0.3 # let it install its trap
t0=$(now_ms)
"$stop" "$IT_DIR" 10 || fail "stop-workers failed on a worker that exits"
took=$(($(now_ms) - t0))
kill -0 "$slow" 2>/dev/null && fail "stop-workers returned while the worker still ran"
[ "$took" -ge 1900 ] || fail "stop-workers returned after ${took} ms, before the 2 s drain ended"
[ -e "$IT_DIR/slow.pid" ] && fail "pid file left behind"

bash -c 'trap "" TERM; while :; do sleep 0.1; done' &
stuck=$!
BG_PIDS+=("$stuck")
echo "$stuck" >"$IT_DIR/stuck.pid"
sleep 0.3
rc=0
"$stop" "$IT_DIR" 1 2>"$IT_DIR/stop.err" || rc=$?
expect_eq "$rc" 1 "exit code when a worker had to be killed"
sleep 0.2
kill -0 "$stuck" 2>/dev/null && fail "a worker ignoring SIGTERM was not killed"
grep -q "still running after 1s" "$IT_DIR/stop.err" || fail "no message about the killed worker"
log "stop-workers: waited ${took} ms for a 2 s drain; killed a stuck worker after 1 s"
