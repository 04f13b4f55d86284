#!/usr/bin/env bash
# Restore time of one partition holding one full scope (SPEC 3.6): N
# requests of one tenant and one session go to a 1-partition topic with
# governance.memory_capacity vectors (default 20,000) and the moral value
# given, so that about half are accepted and written to memory; the worker stops
# (SIGTERM) and a second one restores the partition from the changelog.
# Prints JSON: the scope's vectors, the records and bytes restored (the
# uncompacted log: every header written, and every slot write), and the
# restore's milliseconds from the worker's "state restored" line.
#   bench/restore.sh [N]   (default 45000)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
n=${1:-45000}
bench_setup 0
IN=bench.$RUN.restore
$LOAD topics -b "$BS" --create "$IN,$IN.res,$IN.dl" --partitions 1 -q
# the moral value given (uniform): about half are accepted
$LOAD produce -b "$BS" -t "$IN" -n "$n" --run-id "r$RUN" --tenants 1 --sessions 1 \
  --moral-given 1 >/dev/null
opts=(-o governance.memory_capacity=20000 -o governance.scope_idle_s=0)
bench_worker_up first "$IN" "$IN.res" "$IN.dl" -o state.topic="$IN.state" "${opts[@]}"
$LOAD rate -b "$BS" -t "$IN.res" --expect-results "$n" --timeout 600 >/dev/null
vectors=$(curl -sf "http://127.0.0.1:$HTTP_PORT/state" | jq '[.kinds.dialogue.scopes[].memory_used] | add')
kill -TERM "$WORKER"
wait "$WORKER"
log=/tmp/gs-bench-$RUN-second.log
bench_worker_up second "$IN" "$IN.res" "$IN.dl" -o state.topic="$IN.state" "${opts[@]}" \
  -o log.level=info
for _ in $(seq 600); do grep -q '"state restored"' "$log" && break; sleep 0.1; done
line=$(grep '"state restored"' "$log") || { echo "no restore in $log" >&2; exit 1; }
for _ in $(seq 50); do # /state follows the restore within a loop iteration
  restored=$(curl -sf "http://127.0.0.1:$HTTP_PORT/state" | jq '[.kinds.dialogue.scopes[].memory_used] | add')
  [ "$restored" = null ] || break
  sleep 0.1
done
kill -TERM "$WORKER"
wait "$WORKER"
jq -c --argjson v "$vectors" --argjson r "$restored" \
  '{requests: '"$n"', vectors: $v, vectors_restored: $r, records, bytes, ms}' <<<"$line"
