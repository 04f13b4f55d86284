#!/usr/bin/env bash
# Proves that the Python reference pipeline (bench/python/reference.py)
# computes what the C worker computes: both run over the same 1-partition
# input topic (so every scope sees the same request order) into their own
# topics, and for every request_id accepted, note, phase, step,
# moral_threshold, moral_value and context_items must be identical, with
# dead letters equal in number per error class, and the memories each
# result names (`context`) the same: position by position the same scores
# (within 1e-5) for at least 99 % of the positions (the worker's
# approximate index serves banks of 4,096 and more; below that all of
# them), and every memory both name with the same score and phase. The
# ids themselves can differ among memories of equal score: generated
# traffic repeats texts, and which of several cosines of 1 rounds to
# 1.0000001 depends on the BLAS kernel, so the id recall is printed, not
# required. Exits non-zero on any difference.
#
# Cases: generated traffic (govstream-load produce, 4 tenants, 50 malformed
# inputs) with memories of 200 vectors (FIFO eviction) and of the default
# 20,000; and scripted requests (edge moral values, context_top_k 1..20,
# turns without words, Unicode, SPEC 1.1 violations) with 16-vector memories,
# once with the default rhythm and once with wake 5 / sleep 2 and
# sleep_policy "reject".
#
#   bench/python/check_equivalence.sh [N=5000]
# Env: PYTHON (default .cache/venv-bench/bin/python, see bench/python/README.md),
#      GS_EQ_KAFKA_PORT (default 29192; the script starts and stops its own broker),
#      GS_EQ_KEEP=1 keeps the results and logs (the path is printed).
# Uses build/govstream and build/govstream-load as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-5000}
PY=${PYTHON:-.cache/venv-bench/bin/python}
PORT=${GS_EQ_KAFKA_PORT:-29192}
LOAD=build/govstream-load
REF=bench/python/reference.py

[[ -x build/govstream && -x $LOAD ]] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 2; }
"$PY" -c 'import confluent_kafka, fastavro, numpy' 2>/dev/null || {
  echo "no Python environment at $PY: python3 -m venv .cache/venv-bench &&" \
    ".cache/venv-bench/bin/pip install -r bench/python/requirements.txt (or set PYTHON)" >&2
  exit 2
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gs-equivalence.XXXXXX")
[ -z "${GS_EQ_KEEP:-}" ] || echo "keeping $WORK" >&2
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ops/kafka/stop.sh --port "$PORT" >/dev/null 2>&1 || true
  [ -n "${GS_EQ_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
BS=$(ops/kafka/start.sh --port "$PORT" 2>"$WORK/kafka.log") || { cat "$WORK/kafka.log" >&2; exit 1; }
RUN=eq$(date +%s)

# Scripted requests, one JSON object a line (govstream-load produce --from):
# prints the numbers of valid and invalid ones. (produce --from keeps at most
# 64 turns, so "too many turns" cannot be scripted.)
make_script() { # RUNID COUNT FILE
  "$PY" - "$@" <<'EOF'
import json, random, sys

run, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(20261202)
phrases = [
    "hello there", "can you help me plan a trip", "i hate waiting in line",
    "the game lets you attack and destroy the base", "Kill—now", "\u201ckill\u201d the bug",
    "kill\u00e9 is not kill", "HELP! Care, LOVE and Trust", "don't 'harm' anyone", "''peace''",
    "\u00c9l\u00e8ve: respect, fair, honest", "\u4e2d\u6587\u3002\u5b89\u5168", "terrorist bomb murder weapon",
    "support\u00a0and\u2003protect", "\uff21\uff22\uff23 kind", "same same same", "abuse exploit racist sexist",
    "!!!", "\u2014 \u2026 \u201c\u201d", "''", "   ", "12 34 56", "collaborate on understanding",
]
edge_values = [0.0, 0.29999999999999999, 0.3, 0.30000000000000004, 0.49999997, 0.4999999,
               0.49999999999999994, 0.5, 0.55, 0.8, 0.8999999999999999, 0.9, 1.0]
tenants = ["t0", "t1", "t2", "t\u00dc"]
invalid_kinds = [("top_k", 0), ("top_k", 21), ("context_top_k", 0), ("context_top_k", 21),
                 ("max_tokens", 0), ("max_tokens", 257), ("turns", []), ("turns", ["a" * 10001]),
                 ("turns", ["b" * 5000, "c" * 5001]), ("request_id", ""), ("request_id", "r" * 129),
                 ("tenant", ""), ("session_id", f"{run}-" + "s" * 130), ("moral_value", 1.5),
                 ("moral_value", -0.25)]
valid = invalid = 0
with open(path, "w", encoding="utf-8") as f:
    for i in range(n):
        r = {"request_id": f"{run}-{i}", "session_id": f"{run}-s{rnd.randrange(40)}",
             "tenant": rnd.choice(tenants), "op": rnd.choice(["NEXT_TOKEN", "TOP_K", "GENERATE"]),
             "turns": [rnd.choice(phrases) for _ in range(rnd.randint(1, 5))],
             "top_k": 5, "max_tokens": 32, "context_top_k": rnd.randint(1, 20)}
        x = rnd.random()
        if x < 0.25:
            r["moral_value"] = rnd.choice(edge_values)
        elif x < 0.5:
            r["moral_value"] = rnd.random()
        if rnd.random() < 0.03:
            field, value = rnd.choice(invalid_kinds)
            r[field] = value
            invalid += 1
        else:
            valid += 1
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(valid, invalid)
EOF
}

# Compares two verify dumps and summaries; prints one line, fails on a difference.
compare() { # NAME C_DUMP C_SUMMARY PY_DUMP PY_SUMMARY
  "$PY" - "$@" <<'EOF'
import json, sys
from collections import Counter

name, c_dump, c_sum, p_dump, p_sum = sys.argv[1:]
fields = ["accepted", "note", "phase", "step", "moral_threshold", "moral_value", "context_items",
          "session_id", "tenant"]


def load(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return {r["request_id"]: r for r in rows}, len(rows)


c, c_rows = load(c_dump)
p, p_rows = load(p_dump)
cs, ps = json.load(open(c_sum)), json.load(open(p_sum))
problems = []
if c_rows != len(c) or p_rows != len(p):
    problems.append(f"duplicate results: C {c_rows - len(c)}, Python {p_rows - len(p)}")
if set(c) != set(p):
    only_c, only_p = sorted(set(c) - set(p)), sorted(set(p) - set(c))
    problems.append(f"request ids only in C: {only_c[:5]} ({len(only_c)}), only in Python: {only_p[:5]} ({len(only_p)})")
diffs = [(rid, f, c[rid][f], p[rid][f]) for rid in sorted(set(c) & set(p)) for f in fields if c[rid][f] != p[rid][f]]
if diffs:
    by_field = Counter(f for _, f, _, _ in diffs)
    problems.append(f"{len(diffs)} field differences {dict(by_field)}, e.g. " +
                    "; ".join(f"{rid}.{f}: C {cv!r} Python {pv!r}" for rid, f, cv, pv in diffs[:5]))
named = shared = positions = equal = 0
off = []
for rid in set(c) & set(p):
    cs_, ps_ = ([x["score"] for x in r[rid]["context"]] for r in (c, p))
    positions += len(ps_)
    equal += sum(abs(x - y) <= 1e-5 for x, y in zip(cs_, ps_))
    cc = {x["memory_id"]: (x["score"], x["phase"]) for x in c[rid]["context"]}
    pc = {x["memory_id"]: (x["score"], x["phase"]) for x in p[rid]["context"]}
    named += len(pc)
    both = set(cc) & set(pc)
    shared += len(both)
    off += [(rid, m) for m in both if abs(cc[m][0] - pc[m][0]) > 1e-5 or cc[m][1] != pc[m][1]]
recall = shared / named if named else 1.0
score_match = equal / positions if positions else 1.0
if score_match < 0.99:
    problems.append(f"context: {equal} of {positions} scores the same")
if off:
    problems.append(f"context: {len(off)} memories with another score or phase, e.g. {off[:3]}")
if cs["deadletters"] != ps["deadletters"]:
    problems.append(f"dead letters: C {cs['deadletters']}, Python {ps['deadletters']}")
spread = Counter(r["context_items"] for r in c.values())
print(f"{name}: {len(c)} results ({cs['accepted']} accepted, notes {cs['notes']}), "
      f"dead letters {cs['deadletters']}, context_items {dict(sorted(spread.items()))}, "
      f"context scores {equal}/{positions} the same, id recall {recall:.4f}: "
      + ("IDENTICAL" if not problems else "DIFFERENT"))
for line in problems:
    print("  " + line)
sys.exit(1 if problems else 0)
EOF
}

# Runs both pipelines over topic IN and compares: case NAME IN RESULTS DEADLETTERS "C OPTIONS" "PY OPTIONS"
case_run() {
  local name=$1 in=$2 n_res=$3 n_dl=$4 c_opts=$5 py_opts=$6 who pid
  local -a copts pyopts
  read -ra copts <<<"$c_opts"
  read -ra pyopts <<<"$py_opts"
  for who in c py; do
    $LOAD topics -b "$BS" --create "$RUN.$name.$who.res,$RUN.$name.$who.dl" --partitions 1 -q
  done
  build/govstream run -c config/govstream.cfg -o log.level=warn -o http.listen= \
    -o metrics.topic= -o alerts.topic= -o worker.id=c-worker \
    -o kafka.bootstrap.servers="$BS" -o kafka_consumer.group.id="$RUN-$name-c" \
    -o dialogue.requests_topic="$in" -o dialogue.results_topic="$RUN.$name.c.res" \
    -o deadletter.topic="$RUN.$name.c.dl" -o state.topic="$RUN.$name.state" \
    -o dialogue.governance_only=true "${copts[@]}" \
    2>"$WORK/$name.c.log" &
  pid=$!
  PIDS+=("$pid")
  verify "$name" c "$n_res" "$n_dl" || { tail -5 "$WORK/$name.c.log" >&2; return 1; }
  kill -TERM "$pid"
  wait "$pid" || { echo "$name: the C worker exited with $?" >&2; return 1; }

  "$PY" "$REF" --bootstrap "$BS" --input "$in" --group "$RUN-$name-py" \
    --results "$RUN.$name.py.res" --deadletter "$RUN.$name.py.dl" \
    --expect $((n_res + n_dl)) "${pyopts[@]}" 2>"$WORK/$name.py.log" &
  pid=$!
  PIDS+=("$pid")
  verify "$name" py "$n_res" "$n_dl" || { tail -5 "$WORK/$name.py.log" >&2; return 1; }
  wait "$pid" || { echo "$name: the Python reference exited with $?" >&2; cat "$WORK/$name.py.log" >&2; return 1; }

  compare "$name" "$WORK/$name.c.jsonl" "$WORK/$name.c.json" "$WORK/$name.py.jsonl" "$WORK/$name.py.json"
}

verify() { # NAME WHO RESULTS DEADLETTERS
  $LOAD verify -b "$BS" --run-id "$RUN" --results "$RUN.$1.$2.res" --deadletter "$RUN.$1.$2.dl" \
    --expect-results "$3" --expect-deadletters "$4" --timeout 120 --dump "$WORK/$1.$2.jsonl" \
    >"$WORK/$1.$2.json" || { echo "$1: $2 did not write the expected outputs: $(cat "$WORK/$1.$2.json")" >&2; return 1; }
}

failed=0
GEN=$RUN.gen.in
$LOAD topics -b "$BS" --create "$GEN" --partitions 1 -q
produced=$($LOAD produce -b "$BS" -t "$GEN" -n "$N" --run-id "$RUN" --tenants 4 --malformed-count 50 2>>"$WORK/produce.log")
gen_valid=$(jq .valid <<<"$produced")
case_run gen200 "$GEN" "$gen_valid" 50 "-o governance.memory_capacity=200" "--memory-capacity 200" || failed=1
case_run gen20000 "$GEN" "$gen_valid" 50 "" "" || failed=1

SCRIPTED=$RUN.scripted.in
$LOAD topics -b "$BS" --create "$SCRIPTED" --partitions 1 -q
read -r s_valid s_invalid < <(make_script "$RUN" 3000 "$WORK/scripted.jsonl")
$LOAD produce -b "$BS" -t "$SCRIPTED" --from "$WORK/scripted.jsonl" --run-id "$RUN" >/dev/null 2>>"$WORK/produce.log"
case_run scripted16 "$SCRIPTED" "$s_valid" "$s_invalid" \
  "-o governance.memory_capacity=16" "--memory-capacity 16" || failed=1
case_run scripted16reject "$SCRIPTED" "$s_valid" "$s_invalid" \
  "-o governance.memory_capacity=16 -o governance.wake_steps=5 -o governance.sleep_steps=2 -o governance.sleep_policy=reject" \
  "--memory-capacity 16 --wake-steps 5 --sleep-steps 2 --sleep-policy reject" || failed=1

if ((failed)); then
  echo "the Python reference and the C worker DIFFER" >&2
  exit 1
fi
echo "the Python reference and the C worker computed the same results"
