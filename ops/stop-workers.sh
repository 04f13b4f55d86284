#!/usr/bin/env bash
# Stops the worker processes whose pids are in DIR/*.pid and waits until
# they have exited: SIGTERM makes a worker drain, flush and commit, which
# needs the broker, so whatever stops the broker must run after this.
# A worker still alive after TIMEOUT_S (default 35: shutdown.timeout_ms is
# 30 s and the worker's own watchdog exits by then) gets SIGKILL; its
# uncommitted tail is then redelivered. Exit status 1 if any needed SIGKILL.
#   ops/stop-workers.sh DIR [TIMEOUT_S]
set -euo pipefail
dir=${1:?usage: stop-workers.sh DIR [TIMEOUT_S]}
timeout_s=${2:-35}

pids=()
for f in "$dir"/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  rm -f "$f"
  if kill -TERM "$pid" 2>/dev/null; then
    pids+=("$pid")
  fi
done

deadline=$((SECONDS + timeout_s))
alive() {
  local left=()
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && left+=("$p")
  done
  pids=(${left[@]+"${left[@]}"})
  [ ${#pids[@]} -gt 0 ]
}
while alive && [ $SECONDS -lt $deadline ]; do
  sleep 0.2
done
if alive; then
  echo "stop-workers: ${#pids[@]} worker(s) still running after ${timeout_s}s; killing ${pids[*]}" >&2
  kill -KILL "${pids[@]}" 2>/dev/null || true
  exit 1
fi
