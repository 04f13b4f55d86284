#!/usr/bin/env bash
# Stop the schema registry that ops/registry/start.sh started on a port, and remove
# its run state (pid, log, temp dirs) from the cache. Idempotent: exits 0 when
# nothing is running. The build in the cache is kept.
#
#   ops/registry/stop.sh [--port 8081]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GS_REGISTRY_CACHE:-$HERE/.cache}
PORT=${GS_REGISTRY_PORT:-8081}

while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "registry: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$PORT" in ''|*[!0-9]*) echo "registry: bad --port '$PORT'" >&2; exit 2 ;; esac

RUN="$CACHE/run/$PORT"
if [ -f "$RUN/pid" ]; then
  PID=$(cat "$RUN/pid")
  JAR=$(cat "$RUN/jar" 2>/dev/null || true)
  # only signal the process if it still is the registry we started (pid reuse)
  if kill -0 "$PID" 2>/dev/null && [ -n "$JAR" ] && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -qF -- "$JAR"; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$PID" 2>/dev/null; then
      echo "registry: pid $PID did not stop on TERM within 15s; sending KILL" >&2
      kill -KILL "$PID" 2>/dev/null || true
      for _ in $(seq 1 25); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    fi
    echo "registry: stopped pid $PID (port $PORT)" >&2
  fi
fi
rm -rf "$RUN"
exit 0
