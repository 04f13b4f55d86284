#!/usr/bin/env bash
# Issue 10: a request kind is a folder and one table line. The test-only echo
# kind (tests/kinds/echo/, its own schemas) is added to the product's kinds by
# one line in tests/kinds/main.c; with nothing else changed, one worker serves
# dialogue and echo side by side through the real broker: its config keys,
# check-config, the docs, govstream-load's generator and verifier, results,
# dead letters (kind "echo"), /metrics and /state all work for it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init kinds
TK=$GS_BUILD_DIR/tests/govstream-test-kinds
[ -x "$TK" ] || fail "$TK missing"
GS=$TK # start_worker runs this binary

# ---- the table drives the configuration and its docs ----------------------------
# (outputs in variables: grep -q would end a pipe early, and pipefail fail it)
dump=$("$TK" check-config "$CFG" -o echo.enabled=true --dump 2>/dev/null)
grep -q '^echo.separator = " "$' <<<"$dump" || fail "echo keys missing from check-config --dump"
err=$("$TK" check-config "$CFG" -o echo.separator=too-long-sep 2>&1) && fail "bad echo.separator accepted"
grep -q 'echo.separator: at most 8 bytes' <<<"$err" || fail "echo's check hook: $err"
docs=$("$TK" config docs)
# shellcheck disable=SC2016 # backticks are Markdown here, not expansions
grep -q '^| `echo.requests_topic` | `govstream.echo.requests` |' <<<"$docs" ||
  fail "echo keys missing from config docs"
docs=$("$GS_BUILD_DIR/govstream" config docs)
grep -q 'echo\.' <<<"$docs" && fail "the product knows the test kind"
"$TK" schema print EchoRequest | cmp - "$GS_SOURCE_DIR/tests/kinds/echo/schemas/EchoRequest.avsc" ||
  fail "schema print EchoRequest differs from its file"

# ---- one worker, two kinds --------------------------------------------------------
create_topics 3
T_EREQ=it.$RUN.echo.requests T_ERES=it.$RUN.echo.results
"$LOAD" topics -b "$BS" --create "$T_EREQ,$T_ERES" --partitions 3 -q
start_worker w1 -o echo.enabled=true -o echo.requests_topic="$T_EREQ" \
  -o echo.results_topic="$T_ERES" -o echo.separator=+
wait_ready w1

out=$("$TK" load produce -b "$BS" --kind echo -t "$T_EREQ" -n 300 --run-id "$RUN" \
  --malformed-count 30 --sessions 7)
expect_eq "$(jqv "$out" .valid)" 270 "valid echo requests"
produce 200 >/dev/null # dialogue, into the same group's other topic
res=$("$TK" load verify -b "$BS" --kind echo --run-id "$RUN" --results "$T_ERES" \
  --deadletter "$T_DL" --expect-results 270 --timeout 60 --dump "$IT_DIR/echo.jsonl" || true)
log "echo: $res"
expect_eq "$(jqv "$res" .unique)" 270 "echo results"
expect_eq "$(jqv "$res" .duplicates)" 0 "echo duplicates"
expect_eq "$(jqv "$res" .notes.echoed)" 270 "echo notes"
expect_eq "$(jqv "$res" .deadletter_kinds.echo)" 30 "dead letters naming the echo kind"
for cls in DECODE VALIDATION TOO_LARGE; do
  expect_eq "$(jqv "$res" ".deadletters.$cls")" "$(jqv "$out" ".expected_deadletters.$cls")" "echo $cls dead letters"
done
python3 - "$IT_DIR/echo.jsonl" <<'PY' || fail "echo results are not echoes"
import json, sys
n = 0
for r in map(json.loads, open(sys.argv[1])):
    parts = r["text"].split("+")
    assert 1 <= len(parts) <= 3 and len(set(parts)) == 1, r
    assert parts[0] in ("ping", "hello", "echo", "govstream"), r
    assert r["length"] == len(r["text"].encode()) and r["accepted"], r
    assert r["echo_id"].startswith(r["request_id"].split("-")[0]), r
    n += 1
print(n)
PY
res=$(verify 200 -1 --timeout 60)
expect_eq "$(jqv "$res" .unique)" 200 "dialogue results next to echo"

# the kind label comes from the table too
metrics=$(curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/metrics")
grep -q '^govstream_requests_total{kind="echo",outcome="accepted"} 270$' <<<"$metrics" ||
  fail "echo outcomes on /metrics: $(grep 'requests_total' <<<"$metrics")"
grep -q '^govstream_requests_total{kind="dialogue",outcome="dead_letter"} 0$' <<<"$metrics" ||
  fail "dialogue outcomes on /metrics"
curl -sf "http://127.0.0.1:${WORKER_PORT[w1]}/state" | jq -e '.kinds.dialogue.scope_count > 0 and (.kinds.echo == null)' >/dev/null ||
  fail "/state: governance of dialogue only"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
