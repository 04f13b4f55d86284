#!/usr/bin/env bash
# Issue 11, item 4: chaos. The test's own 3-node cluster (clients on
# 29792-29794, controllers on 29892-29894, GS_IT_CHAOS_PORT moves them; no
# other test's ports and below the ephemeral range). Every topic has 3
# replicas and min.insync.replicas 2: the brokers' setting (start.sh
# --nodes 3), so it holds for the changelog the workers create too (with
# state.replication_factor=3); topics.sh --describe checks both on every
# topic of a run. Two runs, each with its own topics and group:
# at-least-once, then delivery.mode=exactly_once. In each, 3 workers read
# requests produced live while the test SIGKILLs a worker and restarts it
# with the same worker.id (>= 10 times), SIGKILLs one broker and restarts
# it on its data, and stops the one that coordinates the workers' group
# gracefully and starts it again (exactly-once also loses all three
# brokers at once for 15 s); a
# worker that exits by itself, or whose /health/live says it is stalled,
# is restarted, as a supervisor would, and counted. Then a read_committed reader (govstream-load verify) counts the
# results. Figures per mode, one JSON line each, in the log and in
# GS_IT_CHAOS_OUT (default $GS_BUILD_DIR/it.chaos.json): sent (requests in
# the input topic), results, unique, lost (sent - unique), duplicates, dead
# letters, the longest gap between consecutive results' processed_at_ms and
# the longest wait of a request (its first result's processed_at_ms minus
# the request's CreateTime), and per input partition the requests without
# a result (lost_by_partition: count, first and last offset); a shortfall
# is diagnosed (diagnose_shortfall). Asserted: lost == 0 in both modes, duplicates
# == 0 in exactly-once; at-least-once duplicates are measured only.
# GS_IT_CHAOS_FULL=1: a longer run (more requests, 30 worker kills, two
# broker kills); GS_IT_CHAOS_N / _RATE / _KILLS override the sizes, and
# GS_IT_CHAOS_MODES ("at_least_once exactly_once") picks the runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
GS_IT_KAFKA_PORT=${GS_IT_CHAOS_PORT:-29792}
P=$GS_IT_KAFKA_PORT
BS=127.0.0.1:$P,127.0.0.1:$((P + 1)),127.0.0.1:$((P + 2)) # produce, verify and workers use all 3
KAFKA=$GS_SOURCE_DIR/ops/kafka
OUT=${GS_IT_CHAOS_OUT:-$GS_BUILD_DIR/it.chaos.json}
if [ -n "${GS_IT_CHAOS_FULL:-}" ]; then
  N=${GS_IT_CHAOS_N:-48000} RATE=${GS_IT_CHAOS_RATE:-200} KILLS=${GS_IT_CHAOS_KILLS:-30} BROKER_ROUNDS=2
else
  N=${GS_IT_CHAOS_N:-9000} RATE=${GS_IT_CHAOS_RATE:-150} KILLS=${GS_IT_CHAOS_KILLS:-10} BROKER_ROUNDS=1
fi
it_init chaos
BASE_ID=$RUN
KAFKA_UP=
# stop_kafka: each node's kafka.log into the scratch dir first (stop.sh
# deletes the data dir), as node-I.kafka.txt
stop_kafka() {
  [ -n "$KAFKA_UP" ] || return 0
  local state=${GS_KAFKA_CACHE:-$KAFKA/.cache}/run/$P.state DATA_DIR='' i
  # shellcheck source=/dev/null
  [ -f "$state" ] && . "$state"
  for i in 1 2 3; do
    [ -f "$DATA_DIR/node-$i/kafka.log" ] && cp "$DATA_DIR/node-$i/kafka.log" "$IT_DIR/node-$i.kafka.txt"
  done
  "$KAFKA/stop.sh" --port "$P" >/dev/null 2>&1
}
AT_EXIT+=(stop_kafka)

# A cluster left by an interrupted run of this test would hold the ports.
"$KAFKA/stop.sh" --port "$P" >/dev/null 2>&1 || true
KAFKA_UP=1
"$KAFKA/start.sh" --nodes 3 --port "$P" >"$IT_DIR/kafka.log" 2>&1 || fail "cluster did not start"
log "3-node cluster up on $BS"

# kafka_jvm CLASS ARGS...: one of the Kafka CLI tools from the cached jars.
kafka_jvm() (
  # shellcheck source=../../ops/kafka/lib.sh
  . "$KAFKA/lib.sh"
  ensure_jars
  kafka_tool "$@"
)

# event WHAT: a line of this run's timeline, ms since the producer started.
event() {
  echo "$(($(now_ms) - T0)) $*" >>"$IT_DIR/$MODE.events"
  log "$MODE: $*"
}

# at MS: sleeps until MS ms after the producer started.
at() {
  local t=$((T0 + $1))
  while [ "$(now_ms)" -lt "$t" ]; do sleep 0.1; done
}

# wait_in_sync SECONDS: until no partition is under-replicated (a broker
# that came back has caught up), so that the next broker fault takes away
# one replica of 3, never a second one.
wait_in_sync() {
  local deadline=$((SECONDS + $1)) out
  while :; do
    if out=$("$KAFKA/topics.sh" --port "$P" --describe --under-replicated-partitions 2>&1) &&
      ! grep -q Partition: <<<"$out"; then
      return 0
    fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

# node I ACTION [--no-wait]: ops/kafka/node.sh on this test's cluster.
node() { GS_KAFKA_START_TIMEOUT=120 "$KAFKA/node.sh" --port "$P" --node "$@" 2>>"$IT_DIR/nodes.log"; }

# outage SECONDS: every node SIGKILLed at once (the cluster, its quorum
# and every transaction coordinator gone), then all started again. The
# workers' open transactions cannot commit nor even abort meanwhile:
# exactly-once must pause its inputs and retry the abort until the
# brokers are back, then rewind; nothing may be lost or doubled.
outage() {
  local i
  for i in 1 2 3; do node "$i" kill || return 1; done
  event "full outage: all 3 nodes killed (SIGKILL) for $1 s"
  sleep "$1"
  for i in 1 2 3; do node "$i" start --no-wait || return 1; done
  "$KAFKA/wait-ready.sh" "$BS" 120 2>>"$IT_DIR/nodes.log" || return 1
  event "all 3 nodes back and registered"
  wait_in_sync 120 || { event "partitions still under-replicated 120 s after the outage"; return 1; }
  event "all partitions in sync"
}

# group_coordinator: the node that coordinates the workers' group now.
group_coordinator() {
  kafka_jvm org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$BS" \
    --describe --group "$GROUP" --state 2>/dev/null | sed -n 's/.*:[0-9]* *(\([1-3]\)).*/\1/p' | head -n 1 | grep .
}

# broker_chaos A B MS (in the background): in each of BROKER_ROUNDS equal
# slices of the MS the producer runs, node A is SIGKILLed and, 12 s or more
# later (longer than broker.session.timeout.ms, so the controller fences
# it and its leaders move), restarted on its data; once every partition is
# in sync again the node that coordinates the workers' group (B if that
# cannot be told) is stopped gracefully and started again. With
# OUTAGE, the first slice starts with the full outage and the rest comes
# later in it. The exit code says whether every node came back.
broker_chaos() {
  local a=$1 b slice=$(($3 / BROKER_ROUNDS)) r t what
  # shares of the slice at which A is killed, restarted, and B stopped
  local kill_at=15 start_at=35 stop_at=60
  [ -z "$OUTAGE" ] || kill_at=55 start_at=70 stop_at=85
  for ((r = 0; r < BROKER_ROUNDS; r++)); do
    t=$((r * slice))
    if [ $r = 0 ] && [ -n "$OUTAGE" ]; then # first, while requests come in
      at $((t + slice * 10 / 100))
      outage "$OUTAGE" || return 1
    fi
    at $((t + slice * kill_at / 100))
    node "$a" kill || return 1
    event "broker node $a killed (SIGKILL)"
    sleep 12
    at $((t + slice * start_at / 100))
    node "$a" start || return 1
    event "broker node $a restarted and registered"
    wait_in_sync 90 || { event "partitions still under-replicated 90 s after node $a came back"; return 1; }
    event "all partitions in sync"
    at $((t + slice * stop_at / 100))
    what=", the group's coordinator"
    b=$(group_coordinator) || { b=$2 what=; }
    node "$b" stop || return 1
    event "broker node $b$what stopped (SIGTERM)"
    sleep 5
    node "$b" start || return 1
    event "broker node $b started again and registered"
    wait_in_sync 90 || { event "partitions still under-replicated 90 s after node $b came back"; return 1; }
    event "all partitions in sync"
  done
}

# restart ID: starts worker ID again (its last log kept as ID.log.K).
restart() {
  local n=0
  while [ -e "$IT_DIR/$1.log.$n" ]; do n=$((n + 1)); done
  mv "$IT_DIR/$1.log" "$IT_DIR/$1.log.$n"
  start_worker "$1" "${WOPTS[@]}"
}

# supervise: what a supervisor would do. A worker that exited by itself is
# restarted; so is one whose /health/live answers 503 (its poll loop has not
# run for 30 s: OPERATIONS.md says to restart on it), after a SIGKILL. Both
# are counted (figures' worker_exits: code, or "stalled"). Liveness is
# probed every 2 s at most.
LIVE_CHECK=0
supervise() {
  local w id rc why probe=0
  if [ "$(now_ms)" -ge "$LIVE_CHECK" ]; then
    probe=1
    LIVE_CHECK=$(($(now_ms) + 2000))
  fi
  for w in 1 2 3; do
    id=$PREFIX$w
    if kill -0 "${WORKER_PID[$id]}" 2>/dev/null; then
      [ $probe = 1 ] || continue
      [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${WORKER_PORT[$id]}/health/live")" = 503 ] || continue
      kill -KILL "${WORKER_PID[$id]}" 2>/dev/null || true
      wait "${WORKER_PID[$id]}" 2>/dev/null || true
      rc=stalled why="/health/live: stalled; SIGKILLed"
    else
      rc=0
      wait "${WORKER_PID[$id]}" || rc=$?
      why=$(grep '"level":"error"' "$IT_DIR/$id.log" | tail -n 1 | jq -r '"last error: " + .msg + ": " + (.error // "")' 2>/dev/null) || true
      why="exited with code $rc${why:+; $why}"
    fi
    unset "WORKER_PID[$id]"
    echo "$id $rc $(($(now_ms) - T0))" >>"$IT_DIR/$MODE.exits"
    event "worker $id: $why; restarted"
    restart "$id"
  done
}

# diagnose_shortfall: when results are missing, while the cluster is up,
# into MODE.diagnosis.txt and the log: the producers with a transaction
# still open on the results and changelog partitions (one held open blocks
# every read_committed reader of its partition after its first record), the
# group's owners and offsets, the workers' lag, restores and transactions,
# and which warnings and errors they logged.
diagnose_shortfall() {
  local t p w out=$IT_DIR/$MODE.diagnosis.txt
  : >"$out"
  for t in "$T_RES" "$T_STATE"; do
    for p in 0 1 2 3 4 5; do
      echo "== $t [$p]" >>"$out"
      kafka_jvm org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$BS" \
        describe-producers --topic "$t" --partition "$p" >>"$out" 2>&1 || true
    done
  done
  for p in 1 2 3; do
    echo "== find-hanging on broker $p" >>"$out"
    kafka_jvm org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$BS" \
      find-hanging --broker-id "$p" --max-transaction-timeout 1 >>"$out" 2>&1 || true
  done
  echo "== the group: owners, committed offsets and lag" >>"$out"
  kafka_jvm org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$BS" \
    --describe --group "$GROUP" >>"$out" 2>&1 || true
  for w in 1 2 3; do # and what each worker is doing
    echo "== $PREFIX$w /metrics" >>"$out"
    curl -s -m 2 "http://127.0.0.1:${WORKER_PORT[$PREFIX$w]}/metrics" |
      grep -E '^govstream_(consumer_lag|state_restoring|transactions_total|ready|producer_queue)' >>"$out" || true
  done
  echo "== the workers' log lines over all their runs, by message (warnings and errors)" >>"$out"
  cat "$IT_DIR/$PREFIX"*.log* | grep -E '"level":"(warn|error)"' | jq -r '.msg' 2>/dev/null |
    sort | uniq -c | sort -rn | head -n 20 >>"$out" || true
  log "$MODE: transactions, the group and the workers ($out):"
  grep -v '^\s*$' "$out" | head -n 160 >&2
}

# chaos_run MODE PREFIX NODE_KILLED NODE_STOPPED OUTAGE_S [-o key=value]...
# (OUTAGE_S "": no full outage)
chaos_run() {
  MODE=$1 PREFIX=$2 OUTAGE=$5
  local node_a=$3 node_b=$4 k w id t res unique deadline ms rate=$RATE
  shift 5
  # the outage takes about 40 s: a slower input keeps the faults after it
  # within the input
  [ -z "$OUTAGE" ] || rate=$((RATE * 2 / 3))
  WOPTS=(-o state.replication_factor=3 "$@")
  local id0=$BASE_ID-$MODE
  T_REQ=it.$id0.requests T_RES=it.$id0.results T_DL=it.$id0.deadletter
  T_MET=it.$id0.metrics T_ALR=it.$id0.alerts T_STATE=it.$id0.state
  GROUP=it-$id0 RUN=$id0
  : >"$IT_DIR/$MODE.events"
  : >"$IT_DIR/$MODE.exits"
  "$LOAD" topics -b "$BS" --create "$T_REQ,$T_RES,$T_DL" --partitions 6 --replication 3 -q
  "$LOAD" topics -b "$BS" --create "$T_MET,$T_ALR" --partitions 1 --replication 3 -q
  for w in 1 2 3; do start_worker "$PREFIX$w" "${WOPTS[@]}"; done
  for w in 1 2 3; do wait_ready "$PREFIX$w" 90; done
  log "$MODE: 3 workers ready; $N requests at $rate/s, $KILLS worker kills, $BROKER_ROUNDS broker kill(s)"

  T0=$(now_ms)
  ms=$((N * 1000 / rate))
  produce "$N" --rate "$rate" --tenants 8 --sessions 200 --moral-given 0.5 --seed 11 \
    >"$IT_DIR/$MODE.produce.json" 2>"$IT_DIR/$MODE.produce.log" &
  local producer=$!
  BG_PIDS+=("$producer")
  broker_chaos "$node_a" "$node_b" "$ms" &
  local brokers=$!
  BG_PIDS+=("$brokers")
  # worker kills evenly over the first 90% of the run, whoever is next, ready
  # or not (a restarted one has about two intervals to come up)
  for ((k = 0; k < KILLS; k++)); do
    t=$((2000 + k * (ms * 9 / 10 - 2000) / KILLS))
    while [ "$(now_ms)" -lt $((T0 + t)) ]; do
      supervise
      sleep 0.2
    done
    id=$PREFIX$((k % 3 + 1))
    supervise # (a worker that exits on its own just before its kill is restarted first)
    until kill -KILL "${WORKER_PID[$id]}" 2>/dev/null; do supervise; done
    wait "${WORKER_PID[$id]}" 2>/dev/null || true
    restart "$id"
    event "worker $id killed (SIGKILL, kill $((k + 1))) and restarted"
  done
  while kill -0 "$producer" 2>/dev/null; do
    supervise
    sleep 0.2
  done
  wait "$producer" || fail "$MODE: producer failed: $(tail -n 5 "$IT_DIR/$MODE.produce.log")"
  event "producer done: $(jq -c '{valid, delivery_failures, seconds}' "$IT_DIR/$MODE.produce.json")"
  while kill -0 "$brokers" 2>/dev/null; do
    supervise
    sleep 0.2
  done
  wait "$brokers" || fail "$MODE: a broker did not come back (see nodes.log)"

  # verify reads everything again each time: a duplicate counts towards
  # --expect-results, so it may stop before the last unique one is in
  deadline=$((SECONDS + 180))
  while :; do
    supervise
    res=$(verify "$N" 0 --timeout 30 --dump "$IT_DIR/$MODE.results.jsonl")
    unique=$(jqv "$res" .unique)
    if [ "$unique" -ge "$N" ] || [ $SECONDS -ge $deadline ]; then break; fi
    log "$MODE: $unique of $N so far"
  done
  event "verified: $(jqv "$res" '{results, unique, duplicates, workers}' | tr -d ' \n')"
  [ "$unique" -ge "$N" ] || diagnose_shortfall

  # the requests' CreateTime, partition and offset, for the waits
  kafka_jvm org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BS" \
    --topic "$T_REQ" --from-beginning --max-messages "$N" --timeout-ms 30000 \
    --formatter-property print.timestamp=true --formatter-property print.partition=true \
    --formatter-property print.offset=true --formatter-property print.value=false \
    >"$IT_DIR/$MODE.requests.txt" 2>"$IT_DIR/$MODE.console.log" || true
  # RF and min.insync.replicas as the brokers apply them (the changelog was
  # created by the workers, with state.replication_factor=3)
  "$KAFKA/topics.sh" --port "$P" --describe >"$IT_DIR/$MODE.topics.txt" 2>&1 || fail "topics --describe failed"
  for t in "$T_REQ" "$T_RES" "$T_DL" "$T_MET" "$T_ALR" "$T_STATE"; do
    grep -qE "^Topic: $t\s.*ReplicationFactor: 3\s.*min\.insync\.replicas=2" "$IT_DIR/$MODE.topics.txt" ||
      fail "$t: not RF 3 with min.insync.replicas=2: $(grep "^Topic: $t\s" "$IT_DIR/$MODE.topics.txt")"
  done

  supervise
  for w in 1 2 3; do
    stop_worker "$PREFIX$w"
    expect_eq "$STOP_RC" 0 "$MODE: exit code of $PREFIX$w after SIGTERM"
  done

  figures "$MODE" "$res" "$k" >"$IT_DIR/$MODE.figures.json"
  log "$MODE figures: $(cat "$IT_DIR/$MODE.figures.json")"
  cat "$IT_DIR/$MODE.figures.json" >>"$OUT"
}

# figures MODE VERIFY_JSON WORKER_KILLS: the JSON line of a run.
figures() {
  python3 - "$1" "$2" "$3" "$BROKER_ROUNDS" "$IT_DIR/$1.results.jsonl" "$IT_DIR/$1.requests.txt" \
    "$T0" "$IT_DIR/$1.exits" "${OUTAGE:-0}" <<'PY'
import json, re, sys
mode, verified, kills, rounds, dump, reqs, t0, exits, outage = sys.argv[1:]
v, t0 = json.loads(verified), int(t0)
created = {}  # (partition, offset) -> CreateTime ms
for line in open(reqs):
    m = re.match(r"CreateTime:(\d+)\s+Partition:(\d+)\s+Offset:(\d+)", line)
    if m:
        created[(int(m[2]), int(m[3]))] = int(m[1])
first, ids, times = {}, set(), []
for line in open(dump):
    r = json.loads(line)
    src, at = r["source"], r["processed_at_ms"]
    key = (src["partition"], src["offset"])
    ids.add(r["request_id"])
    times.append(at)
    first[key] = min(at, first.get(key, at))
times.sort()
gap, gap_at = 0, 0
for a, b in zip(times, times[1:]):
    if b - a > gap:
        gap, gap_at = b - a, a
# the same within one input partition: how long it had no owner processing it
by_part = {}
for (part, _), at in first.items():
    by_part.setdefault(part, []).append(at)
pgap = (0, None, 0)
for part, ats in by_part.items():
    ats.sort()
    for a, b in zip(ats, ats[1:]):
        if b - a > pgap[0]:
            pgap = (b - a, part, a)
waits = sorted((at - created[k], k) for k, at in first.items() if k in created)
w = [x for x, _ in waits]
pct = lambda q: w[int((len(w) - 1) * q)] if w else None
worst = waits[-1] if waits else (None, None)
sent = len(created)
seen = set(first)
lost_by = {}
for k in created:
    if k not in seen:
        lost_by.setdefault(k[0], []).append(k[1])
print(json.dumps({
    "mode": mode, "sent": sent, "results": len(times), "unique": len(ids),
    "lost": sent - len(ids), "duplicates": len(times) - len(ids),
    "deadletters": v["deadletters"]["total"],
    "longest_gap_ms": gap, "longest_gap_from_s": round((gap_at - t0) / 1000, 1) if times else None,
    "longest_partition_gap_ms": pgap[0], "longest_partition_gap_partition": pgap[1],
    "longest_partition_gap_from_s": round((pgap[2] - t0) / 1000, 1) if pgap[1] is not None else None,
    "longest_wait_ms": worst[0],
    "longest_wait_created_at_s": round((created[worst[1]] - t0) / 1000, 1) if worst[1] else None,
    "wait_ms_p50": pct(0.5), "wait_ms_p99": pct(0.99),
    "worker_kills": int(kills), "broker_kills": int(rounds), "broker_graceful_restarts": int(rounds),
    "full_outage_s": int(outage),
    # per input partition: how many, and the first and last offset
    "lost_by_partition": {str(p): [len(o), min(o), max(o)] for p, o in sorted(lost_by.items())},
    "worker_exits": [dict(zip(("worker", "code", "at_s"), (w, int(c) if c.isdigit() else c, round(int(t) / 1000, 1))))
                     for w, c, t in (l.split() for l in open(exits) if l.strip())],
    "workers": v["workers"]}, separators=(",", ":")))
PY
}

: >"$OUT"
log "figures go to $OUT"
MODES=${GS_IT_CHAOS_MODES:-at_least_once exactly_once}
for m in $MODES; do
  case $m in
  at_least_once) chaos_run at_least_once a 2 3 "" ;;
  exactly_once) chaos_run exactly_once e 1 2 15 -o delivery.mode=exactly_once ;;
  *) fail "GS_IT_CHAOS_MODES: unknown mode $m" ;;
  esac
done
for m in $MODES; do
  f=$IT_DIR/$m.figures.json
  expect_eq "$(jq .lost "$f")" 0 "$m: lost requests"
  expect_eq "$(jq .sent "$f")" "$N" "$m: requests in the input topic"
  expect_eq "$(jq .deadletters "$f")" 0 "$m: dead letters"
  [ "$(jq .worker_kills "$f")" -ge 10 ] || fail "$m: fewer than 10 worker kills"
done
[ ! -f "$IT_DIR/exactly_once.figures.json" ] ||
  expect_eq "$(jq .duplicates "$IT_DIR/exactly_once.figures.json")" 0 "exactly_once: duplicates"
log "ok: nothing lost in either mode, no duplicate in exactly-once; figures in $OUT"
