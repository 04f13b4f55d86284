#!/usr/bin/env bash
# Usage: wait-ready.sh [bootstrap] [timeout_s]
# Waits until every broker in the comma-separated bootstrap list
# (default 127.0.0.1:${GS_KAFKA_PORT:-9092}) is registered and answering
# requests. Exit 0 when ready, 1 on timeout.
# GS_KAFKA_PIDS (optional, set by start.sh): fail at once if one of these dies
# instead of sitting out the whole timeout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bootstrap=${1:-127.0.0.1:${GS_KAFKA_PORT:-9092}}
timeout=${2:-60}
IFS=, read -ra addrs <<<"$bootstrap"
start=$SECONDS
deadline=$((start + timeout))
ensure_jars

check() {
  local p
  for p in ${GS_KAFKA_PIDS:-}; do
    # /proc sizes read as 0, so look at the content; zombies have none
    grep -qa . "/proc/$p/cmdline" 2>/dev/null || die "broker pid $p exited"
  done
  ((SECONDS <= deadline)) || die "$bootstrap not ready after ${timeout}s"
}

# Phase 1: listeners open. Cheap, so no JVM is spawned while the brokers boot.
for a in "${addrs[@]}"; do
  until port_open "${a%:*}" "${a##*:}"; do check; sleep 0.2; done
done

# Phase 2: a listener opens before the broker is unfenced. The metadata lists
# only live brokers, so wait until BrokerApiVersionsCommand sees all of them;
# that guarantees e.g. RF=3 topic creation succeeds right after.
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
printf 'request.timeout.ms=3000\ndefault.api.timeout.ms=5000\n' >"$cfg"
until
  left=$((deadline - SECONDS + 1)) # never overshoot the caller's timeout by much
  n=$(timeout "$((left < 20 ? left : 20))" "${GS_TOOL[@]}" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$bootstrap" --command-config "$cfg" 2>/dev/null | grep -c ' -> (' || true)
  ((n >= ${#addrs[@]}))
do
  check
  sleep 0.5
done
log "$bootstrap ready ($n broker(s)) after $((SECONDS - start))s"
