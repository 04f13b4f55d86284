#!/usr/bin/env bash
# ok/bad always succeed, so `cond && ok || bad` is a proper if/else here
# shellcheck disable=SC2015
# Smoke test of a Confluent-compatible schema registry REST API.
#
#   ops/registry/smoke.sh [BASE_URL]      (default http://127.0.0.1:8081/apis/ccompat/v7)
#
# Registers an Avro record under subject "t-value" (BACKWARD), reads it back by id,
# registers a backward-compatible evolution (new field with default) and checks it
# gets a new id, and checks an incompatible change is refused with HTTP 409.
# Prints "N passed, N failed"; exits non-zero on any failure. Uses a fresh subject
# name suffix when SMOKE_SUBJECT is set (default t-value).
set -uo pipefail
BASE=${1:-http://127.0.0.1:8081/apis/ccompat/v7}
SUBJ=${SMOKE_SUBJECT:-t-value}
CT='Content-Type: application/vnd.schemaregistry.v1+json'
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
req() {  # METHOD PATH [BODY] -> sets CODE and BODY
  local out
  if [ $# -ge 3 ]; then
    out=$(curl -s -m 20 -w '\n%{http_code}' -X "$1" -H "$CT" --data "$3" "$BASE$2")
  else
    out=$(curl -s -m 20 -w '\n%{http_code}' -X "$1" "$BASE$2")
  fi
  CODE=${out##*$'\n'}; BODY=${out%$'\n'*}
}
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {"d": d}))' "$BODY" "$1" 2>/dev/null; }

V1='{"type":"record","name":"Event","namespace":"gov.smoke","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}'
V2='{"type":"record","name":"Event","namespace":"gov.smoke","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"region","type":"string","default":"eu"}]}'
V3='{"type":"record","name":"Event","namespace":"gov.smoke","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"region","type":"string","default":"eu"},{"name":"must","type":"int"}]}'
wrap() { python3 -c 'import json,sys; print(json.dumps({"schema": sys.argv[1]}))' "$1"; }

req GET /subjects;                       [ "$CODE" = 200 ] && ok "GET /subjects" || bad "GET /subjects -> $CODE $BODY"
req PUT "/config/$SUBJ" '{"compatibility":"BACKWARD"}'
[ "$CODE" = 200 ] && ok "PUT /config/$SUBJ BACKWARD" || bad "PUT /config/$SUBJ -> $CODE $BODY"

req POST "/subjects/$SUBJ/versions" "$(wrap "$V1")"; ID1=$(json 'd["id"]')
[ "$CODE" = 200 ] && [ -n "$ID1" ] && ok "register v1 -> id $ID1" || bad "register v1 -> $CODE $BODY"
req POST "/subjects/$SUBJ/versions" "$(wrap "$V1")"
[ "$CODE" = 200 ] && [ "$(json 'd["id"]')" = "$ID1" ] && ok "re-register v1 is idempotent" || bad "re-register v1 -> $CODE $BODY"

req GET "/schemas/ids/$ID1"
if [ "$CODE" = 200 ] && python3 - "$BODY" "$V1" <<'EOF'
import json, sys
got = json.loads(json.loads(sys.argv[1])["schema"]); want = json.loads(sys.argv[2])
sys.exit(0 if got == want else 1)
EOF
then ok "GET /schemas/ids/$ID1 returns v1"; else bad "GET /schemas/ids/$ID1 -> $CODE $BODY"; fi

req POST "/compatibility/subjects/$SUBJ/versions/latest" "$(wrap "$V2")"
[ "$CODE" = 200 ] && [ "$(json 'd["is_compatible"]')" = True ] && ok "v2 compatible (BACKWARD)" || bad "compat v2 -> $CODE $BODY"
req POST "/subjects/$SUBJ/versions" "$(wrap "$V2")"; ID2=$(json 'd["id"]')
[ "$CODE" = 200 ] && [ -n "$ID2" ] && [ "$ID2" != "$ID1" ] && ok "register v2 -> new id $ID2" || bad "register v2 -> $CODE $BODY"

req POST "/subjects/$SUBJ/versions" "$(wrap "$V3")"
[ "$CODE" = 409 ] && ok "incompatible v3 refused with 409" || bad "register v3 (incompatible) -> $CODE $BODY"

req GET "/subjects/$SUBJ/versions/latest"
[ "$CODE" = 200 ] && [ "$(json 'd["id"]')" = "$ID2" ] && ok "latest is v2" || bad "latest -> $CODE $BODY"
req POST "/subjects/$SUBJ" "$(wrap "$V1")"
[ "$CODE" = 200 ] && [ "$(json 'd["id"]')" = "$ID1" ] && ok "lookup v1 under subject" || bad "lookup v1 -> $CODE $BODY"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
