#!/usr/bin/env bash
# Issue 10: the generated Avro codec against an independent implementation.
# test_avrogen (unit.avrogen) encodes thousands of random records of every
# schema and resolves records of an evolved producer schema; fastavro, from
# PyPI, must write the same bytes, read the same values and resolve the same
# values (tests/integration/avro_peer.py).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init avro_peer
py=$(py_venv)
"$GS_BUILD_DIR/tests/test_avrogen" --dump "$IT_DIR" >"$IT_DIR/unit.log" 2>&1 ||
  fail "test_avrogen --dump: $(tail -n 5 "$IT_DIR/unit.log")"
out=$("$py" "$GS_SOURCE_DIR/tests/integration/avro_peer.py" "$IT_DIR" "$GS_SOURCE_DIR") ||
  fail "fastavro disagrees: $out"
log "$out"
