#!/usr/bin/env bash
# Usage: node.sh [--port BASE] --node I stop|kill|start [--no-wait]|status
# Stops, kills or restarts node I (1-based) of the instance start.sh started
# on BASE (default GS_KAFKA_PORT or 9092), keeping its data dir and config,
# so that a restarted node rejoins the quorum and its replicas catch up.
#   stop    SIGTERM, up to GS_KAFKA_STOP_TIMEOUT (30) s grace, then SIGKILL
#   kill    SIGKILL (a crash: the node recovers its logs when it restarts)
#   start   start it again if it is down (else a no-op), then wait up to
#           GS_KAFKA_START_TIMEOUT (60) s until every live node is registered
#           (--no-wait: return once launched, e.g. to start every node of
#           a cluster that lost its quorum; wait-ready.sh waits for them)
#   status  print "up PID" or "down" (exit 0 either way)
# A node restarted sooner than broker.session.timeout.ms (9 s) after a kill
# may still be counted by its old registration; that its replicas have
# caught up, topics.sh --describe --under-replicated-partitions tells.
# stop.sh still stops the whole instance and deletes the data.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${GS_KAFKA_PORT:-9092}
node='' action='' wait=1
while (($#)); do
  case $1 in
    --port) port=${2:?}; shift 2 ;;
    --node) node=${2:?}; shift 2 ;;
    stop | kill | start | status) action=$1; shift ;;
    --no-wait) wait=0; shift ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
check_port "$port"
[[ -n $action ]] || die "say stop, kill, start or status (try --help)"
[[ $node =~ ^[1-9][0-9]*$ ]] || die "--node I (1-based) is needed"

state=$(state_file "$port")
[[ -f $state ]] || die "no instance on port $port (start it with start.sh)"
exec 9>"$GS_KAFKA_RUN/$port.lock"
flock 9 # one start/stop of this instance at a time
DATA_DIR='' PIDS='' NODES='' BOOTSTRAP='' SASL_DIR='' SASL_BOOTSTRAP=''
# shellcheck source=/dev/null
. "$state"
((node <= NODES)) || die "the instance on port $port has $NODES node(s), no node $node"
read -ra pids <<<"$PIDS"
dir=$DATA_DIR/node-$node
[[ -f $dir/server.properties ]] || die "no $dir/server.properties"
pid=${pids[node - 1]}
up() { owns_pid "$1" "$DATA_DIR"; }

# waits up to $2 s for pid $1 to be gone; 1 if it is still there
gone_within() {
  local deadline=$((SECONDS + $2))
  while up "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

case $action in
  status)
    if up "$pid"; then echo "up $pid"; else echo down; fi
    ;;
  stop | kill)
    if ! up "$pid"; then
      log "node $node is not running"
      exit 0
    fi
    if [[ $action == stop ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! gone_within "$pid" "${GS_KAFKA_STOP_TIMEOUT:-30}"; then
        log "node $node still running after ${GS_KAFKA_STOP_TIMEOUT:-30}s, SIGKILL $pid"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    else
      kill -KILL "$pid" 2>/dev/null || true
    fi
    gone_within "$pid" 30 || die "node $node (pid $pid) does not exit"
    if [[ $action == stop ]]; then done_=stopped; else done_=killed; fi
    log "node $node $done_ (pid $pid), data kept in $dir"
    ;;
  start)
    if up "$pid"; then
      log "node $node already running (pid $pid)"
      exit 0
    fi
    for p in $((port + node - 1)) $((port + GS_CONTROLLER_OFFSET + node - 1)) \
      ${SASL_DIR:+$((port + GS_SASL_SSL_OFFSET + node - 1))}; do
      ! port_open 127.0.0.1 "$p" || die "port $p is already in use"
    done
    ensure_jars
    launch_node "$dir"
    pids[node - 1]=$!
    printf 'DATA_DIR=%q\nNODES=%q\nBOOTSTRAP=%q\nPIDS=%q\nSASL_DIR=%q\nSASL_BOOTSTRAP=%q\n' \
      "$DATA_DIR" "$NODES" "$BOOTSTRAP" "${pids[*]}" "$SASL_DIR" "$SASL_BOOTSTRAP" >"$state.tmp"
    mv "$state.tmp" "$state"
    if ((!wait)); then
      log "node $node launched (pid ${pids[node - 1]}) on $dir"
      exit 0
    fi
    # ready when the brokers of all live nodes (this one included) are registered
    live_bs=''
    for ((i = 1; i <= NODES; i++)); do
      up "${pids[i - 1]}" && live_bs+="${live_bs:+,}127.0.0.1:$((port + i - 1))"
    done
    GS_KAFKA_PIDS=${pids[node - 1]} "$GS_KAFKA_DIR/wait-ready.sh" "$live_bs" "${GS_KAFKA_START_TIMEOUT:-60}" || {
      echo "---- tail of node-$node/kafka.log ----" >&2
      tail -n 40 "$dir/kafka.log" >&2
      die "node $node did not come back"
    }
    log "node $node started again (pid ${pids[node - 1]}) on $dir"
    ;;
esac
