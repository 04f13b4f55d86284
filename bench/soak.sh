#!/usr/bin/env bash
# Memory soak (SPEC 8: "RSS of a worker with one 20,000 x 384 scope and the
# default models <= 128 MB, flat over a 10-minute soak"). One worker with
# the default configuration and the dialogue model serves one tenant at a
# steady RATE (an even mix of NEXT_TOKEN, TOP_K and GENERATE) for MINUTES,
# so the tenant's scope fills to its 20,000 vectors early and then keeps
# replacing them. Every 10 s it reads process_resident_memory_bytes and the
# governance gauges from /metrics (the CSV goes to /tmp). Reports RSS when
# the scope is first full, the highest and the last RSS after that, and
# the change between the first and the last full minute.
#   bench/soak.sh [MINUTES=10] [RATE=300] [MODEL=.cache/models/dialogue.gsm]
# (uses build/, starts its own broker; ops/quickstart.sh trains the model)
MINUTES=${1:-10}
RATE=${2:-300}
MODEL=${3:-.cache/models/dialogue.gsm}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ -f "$MODEL" ] || { echo "no model at $MODEL: run ops/quickstart.sh first" >&2; exit 2; }
N=$((RATE * 60 * MINUTES))
bench_setup 0 # no requests yet: they are produced at RATE while the worker runs
res=bench.$RUN.res dl=bench.$RUN.dl
$LOAD topics -b "$BS" --create "$res,$dl" --partitions 6 -q
bench_worker_up soak "$IN" "$res" "$dl" -o dialogue.governance_only=false -o models.dialogue="$MODEL" -o metrics.topic= \
  -o alerts.topic=
$LOAD produce -b "$BS" -t "$IN" -n "$N" --rate "$RATE" --tenants 1 --run-id "s$RUN" >/dev/null &
BENCH_PIDS+=($!)

csv=/tmp/gs-bench-$RUN-soak.csv
echo "seconds,rss_bytes,memory_vectors,requests" >"$csv"
metric() { awk -v m="$1" '$1 == m {print $2}' <<<"$2"; }
t0=$(date +%s)
while (($(date +%s) - t0 < MINUTES * 60)); do
  sleep 10
  m=$(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics") || continue
  reqs=$(grep '^govstream_requests_total' <<<"$m" | awk '{s += $2} END {print s + 0}')
  echo "$(($(date +%s) - t0)),$(metric process_resident_memory_bytes "$m"),$(metric govstream_memory_vectors "$m"),$reqs" >>"$csv"
  echo "soak: $(tail -1 "$csv")" >&2
done

python3 - "$csv" "$MINUTES" "$RATE" "$(cpu_model)" "$(nproc)" <<'PYEOF'
import csv, json, sys
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
full = [r for r in rows if r["memory_vectors"] >= 20000]
mib = lambda b: round(b / 2**20, 1)
out = {"minutes": int(sys.argv[2]), "rate_rps": int(sys.argv[3]), "samples": len(rows),
       "requests_done": int(rows[-1]["requests"]) if rows else 0, "csv": sys.argv[1]}
if full:
    first_min = [r["rss_bytes"] for r in full if r["seconds"] < full[0]["seconds"] + 60]
    last_min = [r["rss_bytes"] for r in full if r["seconds"] > full[-1]["seconds"] - 60]
    out.update({
        "scope_full_after_s": int(full[0]["seconds"]),
        "rss_mib": {"when_full": mib(full[0]["rss_bytes"]),
                   "max_after_full": mib(max(r["rss_bytes"] for r in full)),
                   "last": mib(full[-1]["rss_bytes"])},
        "rss_change_first_to_last_full_minute_mib":
            mib(sum(last_min) / len(last_min) - sum(first_min) / len(first_min)),
        "max_rss_within_spec_128_mb": max(r["rss_bytes"] for r in full) <= 128e6})
else:
    out["error"] = "the scope never filled: raise RATE or MINUTES"
out["machine"] = {"cpu": sys.argv[4], "cores": sys.argv[5]}
print(json.dumps(out, indent=2))
PYEOF
