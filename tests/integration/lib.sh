# shellcheck shell=bash disable=SC2034 # REG, STOP_RC, STOP_MS are for the tests
# Shared helpers for integration tests (sourced). Every worker a test starts
# is stopped by the EXIT trap; topics and groups are unique per test run.
set -euo pipefail

: "${GS_SOURCE_DIR:?}" "${GS_BUILD_DIR:?}" "${GS_IT_KAFKA_PORT:=39092}" "${GS_IT_REGISTRY_PORT:=38081}"
GS=$GS_BUILD_DIR/govstream
LOAD=$GS_BUILD_DIR/govstream-load
BS=127.0.0.1:$GS_IT_KAFKA_PORT
REG=http://127.0.0.1:$GS_IT_REGISTRY_PORT/apis/ccompat/v7
CFG=$GS_SOURCE_DIR/config/govstream.cfg
declare -A WORKER_PID WORKER_PORT
BG_PIDS=() # other helpers a test starts (receivers): killed on exit
# Commands run on exit after that (a test's own broker: its stop). Not in a
# trap of the test's own: that would hand it_cleanup their exit code.
AT_EXIT=()

log() { printf '[%s %s] %s\n' "$(date +%T)" "${IT_NAME:-it}" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# it_init NAME: unique topics/group, scratch dir, cleanup trap.
it_init() {
  IT_NAME=$1
  local id
  id=$1-$$-$RANDOM
  IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gs-it-$1.XXXXXX")
  T_REQ=it.$id.requests T_RES=it.$id.results T_DL=it.$id.deadletter
  T_MET=it.$id.metrics T_ALR=it.$id.alerts T_STATE=it.$id.state
  GROUP=it-$id RUN=$id
  trap it_cleanup EXIT
}

it_cleanup() {
  local rc=$?
  for w in "${!WORKER_PID[@]}"; do
    kill -KILL "${WORKER_PID[$w]}" 2>/dev/null || true
  done
  for p in "${BG_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for c in "${AT_EXIT[@]}"; do
    $c || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$IT_DIR"/*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f ----" >&2
      tail -n 30 "$f" >&2
    done
  fi
  [ -n "${GS_IT_KEEP:-}" ] || rm -rf "$IT_DIR"
  exit "$rc"
}

create_topics() {
  "$LOAD" topics -b "$BS" --create "$T_REQ,$T_RES,$T_DL" --partitions "${1:-6}" -q
  "$LOAD" topics -b "$BS" --create "$T_MET,$T_ALR" --partitions 1 -q
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_worker ID [-o key=value]...: runs a worker of this test's group. It
# serves governance only unless the test gives it a model
# (-o dialogue.governance_only=false -o models.dialogue=FILE).
start_worker() {
  local id=$1
  shift
  local port
  port=$(free_port)
  "$GS" run -c "$CFG" \
    -o worker.id="$id" -o http.listen="127.0.0.1:$port" \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="$GROUP" \
    -o kafka_consumer.session.timeout.ms=6000 -o kafka_consumer.heartbeat.interval.ms=1000 \
    -o dialogue.requests_topic="$T_REQ" -o dialogue.results_topic="$T_RES" \
    -o deadletter.topic="$T_DL" -o metrics.topic="$T_MET" -o alerts.topic="$T_ALR" \
    -o state.topic="$T_STATE" -o dialogue.governance_only=true "$@" >"$IT_DIR/$id.log" 2>&1 &
  WORKER_PID[$id]=$!
  WORKER_PORT[$id]=$port
}

ready() { curl -sf "http://127.0.0.1:${WORKER_PORT[$1]}/health/ready" >/dev/null; }

wait_ready() {
  local id=$1 deadline=$((SECONDS + ${2:-60}))
  until ready "$id"; do
    kill -0 "${WORKER_PID[$id]}" 2>/dev/null || fail "worker $id exited while starting"
    [ $SECONDS -lt $deadline ] || fail "worker $id not ready after ${2:-60}s"
    sleep 0.2
  done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stop_worker ID: SIGTERM and wait; sets STOP_RC and STOP_MS. (Not usable
# in $(...): a subshell cannot wait for the worker.)
stop_worker() {
  local id=$1 pid=${WORKER_PID[$1]} t0
  t0=$(now_ms)
  kill -TERM "$pid"
  STOP_RC=0
  wait "$pid" || STOP_RC=$?
  STOP_MS=$(($(now_ms) - t0))
  unset "WORKER_PID[$id]"
}

kill9_worker() {
  kill -KILL "${WORKER_PID[$1]}"
  wait "${WORKER_PID[$1]}" 2>/dev/null || true
  unset "WORKER_PID[$1]"
}

# produce N [extra args]: prints the load tool's JSON summary.
produce() {
  local n=$1
  shift
  "$LOAD" produce -b "$BS" -t "$T_REQ" -n "$n" --run-id "$RUN" "$@"
}

# verify EXPECT_RESULTS EXPECT_DL [extra args]: prints the verifier's JSON.
verify() {
  local r=$1 d=$2
  shift 2
  "$LOAD" verify -b "$BS" --run-id "$RUN" --results "$T_RES" --deadletter "$T_DL" \
    --expect-results "$r" --expect-deadletters "$d" "$@" || true
}

# jqv JSON FILTER: one value from a JSON document.
jqv() { jq -r "$2" <<<"$1"; }

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected $2, got $1"; }

# py_venv: a Python with the peer clients some tests use (confluent-kafka,
# fastavro), installed from PyPI once into .cache/; prints its path.
py_venv() {
  local v=$GS_SOURCE_DIR/.cache/venv-it
  if ! "$v/bin/python" -c 'import confluent_kafka, fastavro' 2>/dev/null; then
    python3 -m venv "$v" >&2
    "$v/bin/pip" install -q 'confluent-kafka==2.6.1' 'fastavro==1.9.7' >&2
  fi
  echo "$v/bin/python"
}

# start_receiver PY [receiver options...]: the webhook receiver
# (ops/webhook/receiver.py) on a free loopback port, writing
# $IT_DIR/received.jsonl; stopped on exit. Sets RPORT.
start_receiver() {
  local py=$1
  shift
  "$py" "$GS_SOURCE_DIR/ops/webhook/receiver.py" --port 0 --port-file "$IT_DIR/rport" \
    --out "$IT_DIR/received.jsonl" "$@" &
  BG_PIDS+=($!)
  for _ in $(seq 50); do [ -s "$IT_DIR/rport" ] && break; sleep 0.1; done
  [ -s "$IT_DIR/rport" ] || fail "the webhook receiver did not start"
  RPORT=$(cat "$IT_DIR/rport")
}
