#!/usr/bin/env bash
# Usage: stop.sh [--port BASE]
# Stops the instance start.sh started on BASE (default GS_KAFKA_PORT or 9092):
# SIGTERM, up to GS_KAFKA_STOP_TIMEOUT (30) s grace, then SIGKILL; removes its
# data dir and state. Succeeds if nothing is running. (One node only, keeping
# its data: node.sh.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${GS_KAFKA_PORT:-9092}
while (($#)); do
  case $1 in
    --port) port=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
check_port "$port"

[[ -f $(state_file "$port") ]] || { log "nothing running on port $port"; exit 0; }
exec 9>"$GS_KAFKA_RUN/$port.lock"
flock 9
stop_instance "$port"
log "stopped instance on port $port"
