#!/usr/bin/env bash
# The command line: schema printing, configuration checking with errors that
# name the file, line and key, train/model usage errors. No broker needed.
# (Model files: test_model_quality.sh.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init cli
for s in DialogueRequest DialogueResult DeadLetter; do
  cmp <("$GS" schema print "$s") "$GS_SOURCE_DIR/schemas/$s.avsc" || fail "schema print $s differs from the file"
done
"$GS" schema print Nope 2>/dev/null && fail "unknown schema accepted"
"$GS" check-config "$CFG" 2>/dev/null || fail "shipped config rejected"

printf 'batch: {\n  max = 0;\n};\n' >"$IT_DIR/a.cfg"
err=$("$GS" check-config "$IT_DIR/a.cfg" 2>&1) && fail "batch.max = 0 accepted"
expect_eq "$err" "$IT_DIR/a.cfg:2: batch.max: must be between 1 and 65536 (got 0)" "error text"

printf 'kafka: {\n  bootstrap_servers = "x";\n  no_such_prop = 1;\n};\n' >"$IT_DIR/b.cfg"
err=$("$GS" check-config "$IT_DIR/b.cfg" 2>&1) && fail "unknown librdkafka property accepted"
grep -q "b.cfg:3: kafka.no.such.prop: No such configuration property" <<<"$err" || fail "got: $err"

printf 'dialogue: { input_framing = "confluent"; };\n' >"$IT_DIR/c.cfg"
err=$("$GS" check-config "$IT_DIR/c.cfg" 2>&1) && fail "confluent framing without registry accepted"
grep -q "registry.url: required" <<<"$err" || fail "got: $err"

"$GS" run -c "$IT_DIR/a.cfg" 2>/dev/null && fail "run with a bad config succeeded"
"$GS" bogus 2>/dev/null && fail "unknown command accepted"
"$GS" version | grep -q "^govstream " || fail "version"

# train / model: usage errors exit 2 and say which option
rc=0
err=$("$GS" train dialogue --corpus x --out y --units abc 2>&1) || rc=$?
expect_eq "$rc" 2 "train with --units abc"
grep -qF -- "--units: expected a number in [1, 16384], got 'abc'" <<<"$err" || fail "got: $err"
rc=0
"$GS" train dialogue --out y >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "train without --corpus"
"$GS" train dialogue --help 2>&1 | grep -q -- "--corpus FILE" || fail "train --help"
rc=0
err=$("$GS" train dialogue --corpus "$IT_DIR/none.txt" --out "$IT_DIR/m.gsm" 2>&1) || rc=$?
expect_eq "$rc" 1 "train on a missing corpus"
grep -q "none.txt" <<<"$err" || fail "got: $err"
rc=0
"$GS" model frobnicate x >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "model with an unknown subcommand"

# docs/CONFIG.md is what `govstream config docs` prints from the key tables
cmp <("$GS" config docs) "$GS_SOURCE_DIR/docs/CONFIG.md" ||
  fail "docs/CONFIG.md is out of date: build/govstream config docs > docs/CONFIG.md"
# and so it documents every key the code knows
while read -r key _; do
  grep -q "| \`$key\` |" "$GS_SOURCE_DIR/docs/CONFIG.md" || fail "docs/CONFIG.md lacks $key"
done < <("$GS" check-config "$CFG" --dump 2>/dev/null | grep -v '^kafka')
# the BLAS kernel is logged at start, and a generic one on an AVX2 CPU warned about
# (no broker here: the worker waits for its topics until SIGTERM)
OPENBLAS_CORETYPE=Prescott timeout -s TERM 3 "$GS" run -c "$CFG" -o dialogue.governance_only=true \
  -o http.listen= -o kafka.bootstrap.servers=127.0.0.1:1 2>"$IT_DIR/blas.log" || true
grep '"msg":"BLAS"' "$IT_DIR/blas.log" | grep -q '"kernel":"Prescott"' || fail "BLAS kernel not logged"
if grep -qw avx2 /proc/cpuinfo; then
  grep -q 'the BLAS kernel uses neither AVX2 nor AVX-512' "$IT_DIR/blas.log" ||
    fail "no warning about a generic BLAS kernel on an AVX2 CPU"
fi
log "ok"
