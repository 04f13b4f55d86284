# shellcheck shell=bash
# Shared by the end-to-end benchmarks (sourced): a broker of their own on
# GS_BENCH_KAFKA_PORT, pre-produced dialogue requests, one worker run
# measured from its output records' timestamps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# GS_BENCH_PIN=1: the broker and the load tools on CPU 0, the workers on CPU 1
# (taskset), so that the worker never waits for a core the broker holds.
PIN_LOAD=() PIN_WORKER=()
if [ "${GS_BENCH_PIN:-0}" = 1 ]; then PIN_LOAD=(taskset -c 0) PIN_WORKER=(taskset -c 1); fi
LOAD="${PIN_LOAD[*]} build/govstream-load" # split where it is used
PORT=${GS_BENCH_KAFKA_PORT:-29092}
if ! [ -x build/govstream ] || ! [ -x build/bench-passthrough ]; then
  echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2
  exit 2
fi

# Starts the broker (stopped on exit, with anything in BENCH_PIDS) and
# produces N (may be 0) requests to a 6-partition topic: sets BS, RUN, IN.
bench_setup() {
  local n=$1
  BS=$(ops/kafka/start.sh --port "$PORT")
  if [ ${#PIN_LOAD[@]} -gt 0 ]; then # every thread of the broker's JVM
    local p
    for p in $(pgrep -f "govstream-kafka-$PORT"); do taskset -apc 0 "$p" >/dev/null; done
  fi
  BENCH_PIDS=()
  trap bench_cleanup EXIT
  RUN=$(date +%s)
  IN=bench.$RUN.in
  $LOAD topics -b "$BS" --create "$IN" --partitions 6 -q
  if ((n > 0)); then $LOAD produce -b "$BS" -t "$IN" -n "$n" --run-id "b$RUN" >/dev/null; fi
}

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ops/kafka/stop.sh --port "$PORT" >/dev/null 2>&1
}

# Output records per second on topic $1 (first to last record timestamp).
bench_rate() { $LOAD rate -b "$BS" -t "$1" --expect-results "$2" --timeout 300 | jq .rate; }

# Runs one worker over the input until all N results are out and prints
# its rate: bench_worker NAME N [worker options...]
bench_worker() {
  local name=$1 n=$2 res=bench.$RUN.$1.res dl=bench.$RUN.$1.dl
  shift 2
  $LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
  # GS_BENCH_BINARY and GS_BENCH_CFG: another build (bench/e2e.sh's "before"),
  # which may predate dialogue.governance_only (it then had no model by default)
  # and state.topic (its own changelog: no worker restores another's state)
  local gov=(-o dialogue.governance_only=true -o state.topic="gs-$RUN-$name.state")
  [ -z "${GS_BENCH_BINARY:-}" ] || gov=()
  "${PIN_WORKER[@]}" "${GS_BENCH_BINARY:-build/govstream}" run -c "${GS_BENCH_CFG:-config/govstream.cfg}" \
    -o log.level=warn -o http.listen= \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="gs-$RUN-$name" \
    -o dialogue.requests_topic="$IN" -o dialogue.results_topic="$res" \
    -o deadletter.topic="$dl" "${gov[@]}" "$@" 2>"/tmp/gs-bench-$RUN-$name.log" &
  BENCH_WORKER=$!
  trap 'kill "$BENCH_WORKER" 2>/dev/null || true' EXIT # called in $(...): its own trap
  bench_rate "$res" "$n"
  kill -TERM "$BENCH_WORKER"
  wait "$BENCH_WORKER"
}

# Runs one worker that serves only KIND over the input until N results are
# out and prints its rate: bench_kind_worker KIND NAME N [worker options...]
bench_kind_worker() {
  local kind=$1 name=$2 n=$3 res=bench.$RUN.$2.res dl=bench.$RUN.$2.dl
  shift 3
  $LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
  "${PIN_WORKER[@]}" build/govstream run -c config/govstream.cfg -o log.level=warn -o http.listen= \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="gs-$RUN-$name" \
    -o dialogue.enabled=false -o "$kind.enabled=true" -o "$kind.requests_topic=$IN" \
    -o "$kind.results_topic=$res" -o deadletter.topic="$dl" \
    -o state.topic="gs-$RUN-$name.state" "$@" 2>"/tmp/gs-bench-$RUN-$name.log" &
  local pid=$!
  BENCH_PIDS+=("$pid")
  bench_rate "$res" "$n"
  kill -TERM "$pid"
  wait "$pid"
}

# Starts a worker that serves HTTP and waits until it is ready:
# bench_worker_up NAME IN RES DL [worker options...]; sets WORKER and HTTP_PORT.
bench_worker_up() {
  local name=$1 in=$2 res=$3 dl=$4
  shift 4
  HTTP_PORT=$(free_port)
  "${PIN_WORKER[@]}" build/govstream run -c config/govstream.cfg -o log.level=warn \
    -o http.listen="127.0.0.1:$HTTP_PORT" \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="gs-$RUN-$name" \
    -o dialogue.requests_topic="$in" -o dialogue.results_topic="$res" -o deadletter.topic="$dl" \
    -o state.topic="gs-$RUN-$name.state" -o dialogue.governance_only=true "$@" \
    2>"/tmp/gs-bench-$RUN-$name.log" &
  WORKER=$!
  BENCH_PIDS+=("$WORKER")
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  echo "worker $name not ready after 60 s (/tmp/gs-bench-$RUN-$name.log)" >&2
  exit 1
}

# A loopback port nothing listens on (the kernel's choice, released).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# rates_json KEY...: the caller's associative array `rates` (KEY -> the
# rounds' rates, space-separated) as {"KEY": {median_rps, rounds: [...]}, ...}
rates_json() {
  local k v
  # shellcheck disable=SC2154 # the caller's array
  for k in "$@"; do
    read -ra v <<<"${rates[$k]}"
    jq -n --arg k "$k" --argjson med "$(median "${v[@]}")" --arg all "${v[*]}" \
      '{($k): {median_rps: $med, rounds: ($all | split(" ") | map(tonumber))}}'
  done | jq -s 'add'
}
cpu_model() { lscpu | sed -n 's/^Model name: *//p'; }

# Per-CPU busy time between two snapshots: SNAP=$(cpu_snapshot); ...;
# cpu_busy "$SNAP" prints a JSON array of each CPU's busy share (0..1).
cpu_snapshot() { awk '/^cpu[0-9]/ {printf "%s %d %d;", $1, $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
cpu_busy() {
  awk -v a="$1" -v b="$(cpu_snapshot)" 'BEGIN {
    n = split(a, x, ";"); split(b, y, ";"); printf "[";
    for (i = 1; i < n; i++) { split(x[i], p, " "); split(y[i], q, " ");
      printf "%s%.3f", (i > 1 ? "," : ""), (q[3] > p[3] ? (q[2] - p[2]) / (q[3] - p[3]) : 0) }
    print "]" }'
}
