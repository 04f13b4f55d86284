#!/usr/bin/env bash
# Where a worker's time goes: perf (cpu-clock sampling, call graphs) over one
# govstream worker processing N pre-produced dialogue requests, governance
# only, with the default 20,000-vector memories unless GS_BENCH_WORKER_OPTS
# says otherwise. Prints the top symbols (self time, govstream's threads) and
# the share of the main groups: BLAS, the codec, allocation, librdkafka,
# the kernel. cpu-clock works where hardware counters do not (VMs).
#   bench/profile.sh [N=100000]     (needs linux-perf: ops/install-deps.sh)
N=${1:-100000}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || { echo "perf missing: ops/install-deps.sh" >&2; exit 2; }
read -ra opts <<<"${GS_BENCH_WORKER_OPTS:-}"
bench_setup "$N"
res=bench.$RUN.prof.res dl=bench.$RUN.prof.dl
$LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
data=/tmp/gs-profile-$RUN.data
perf record -q -e cpu-clock -g -o "$data" -- build/govstream run -c config/govstream.cfg \
  -o log.level=warn -o http.listen= -o kafka.bootstrap.servers="$BS" \
  -o kafka_consumer.group.id="prof-$RUN" -o dialogue.requests_topic="$IN" \
  -o dialogue.results_topic="$res" -o deadletter.topic="$dl" -o dialogue.governance_only=true \
  "${opts[@]}" 2>"/tmp/gs-bench-$RUN-prof.log" &
pid=$!
BENCH_PIDS+=("$pid")
rate=$(bench_rate "$res" "$N")
kill -INT "$pid" # perf passes it on and writes its data
wait "$pid" || true
# awk, not head: head would end the pipe early, and pipefail end the script
report=$(perf report -i "$data" --no-children --comm govstream --sort dso,symbol --stdio 2>/dev/null |
  awk '/^ +[0-9.]+%/ && n++ < 40')
echo "worker: $rate requests/s (${GS_BENCH_WORKER_OPTS:-defaults})"
sed -n 1,25p <<<"$report"
share() { awk -v pat="$1" '$0 ~ pat {s += $1} END {printf "%.1f%%", s}' <<<"$report"; }
echo "groups (of the top 40 symbols): BLAS $(share 'openblas|sgemm|sgemv|blas') |" \
  "codec $(share 'gs_avro|dec_|enc_|avro') | malloc/free $(share 'malloc|free|_int_|calloc') |" \
  "librdkafka $(share 'librdkafka') | kernel $(share 'kallsyms')"
rm -f "$data"
