#!/usr/bin/env bash
# The command line: schema printing, configuration checking with errors that
# name the file, line and key. No broker needed.
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

# docs/CONFIG.md documents every key the code knows
while read -r key _; do
  grep -q "| \`$key\` |" "$GS_SOURCE_DIR/docs/CONFIG.md" || fail "docs/CONFIG.md lacks $key"
done < <("$GS" check-config "$CFG" --dump 2>/dev/null | grep -v '^kafka')
log "ok"
