#!/usr/bin/env bash
# Issue 11, item 6: an authenticated broker. This test's own broker has a
# SASL_SSL listener (SCRAM-SHA-512, with a CA and certificate made here by
# openssl); workers reach it only through kafka.* pass-through keys, with the
# password from an env var (kafka.sasl.password_env) or a file
# (kafka.sasl.password_file). With the right password a worker processes
# requests end to end; with a wrong one it stays not ready and says why. No
# password appears in a worker's log, in check-config --dump or on any HTTP
# endpoint, nor in this test's output. The broker's ports (clients 29392,
# controller 29492, SASL_SSL 29592; GS_IT_SASL_PORT moves them) are no other
# test's and below the ephemeral range; the test's own producer and verifier
# use PLAINTEXT.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
GS_IT_KAFKA_PORT=${GS_IT_SASL_PORT:-29392}
BS=127.0.0.1:$GS_IT_KAFKA_PORT
SASL_BS=127.0.0.1:$((GS_IT_KAFKA_PORT + 200)) # start.sh --sasl-ssl: BASE+200
it_init sasl
S=$IT_DIR/secrets
KAFKA_UP=
stop_kafka() { [ -z "$KAFKA_UP" ] || "$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1; }
# Files (logs, HTTP answers) holding a secret, by name; hide_leaks renames
# them so that it_cleanup, on a failure, does not print their last lines.
leaks() { [ -s "$S/patterns" ] && grep -lF -f "$S/patterns" "$IT_DIR"/*.log "$IT_DIR"/http/* 2>/dev/null; }
hide_leaks() {
  local f
  for f in $(leaks); do
    mv "$f" "$f.leaked"
    log "a password in $f (not shown)"
  done
}
AT_EXIT+=(stop_kafka hide_leaks)

# ---- secrets: made into files (0600) by builtins and openssl, never given
# on a command line. The password has punctuation that quoting or splitting
# anywhere on its way would break.
mkdir -m 700 "$S" "$IT_DIR/http"
(
  umask 077
  cd "$S"
  openssl rand -hex 16 >broker.p12.password
  pw="ok-$(openssl rand -hex 12) ,=\"%\\"
  printf '%s\n' "$pw" >password
  printf 'gsworker %s\n' "$pw" >scram-users
  printf 'bad-%s\n' "$(openssl rand -hex 12)" >wrong
  cat password wrong broker.p12.password >patterns # what must never show
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 1 -subj /CN=govstream-it-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req "${ec[@]}" -keyout broker.key -out broker.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >broker.ext
  openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -extfile broker.ext -out broker.pem
  openssl pkcs12 -export -in broker.pem -inkey broker.key -name broker -out broker.p12 \
    -passout file:broker.p12.password
) >"$IT_DIR/openssl.log" 2>&1

# A broker left by an interrupted run of this test would hold the ports.
"$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" >/dev/null 2>&1 || true
KAFKA_UP=1
"$GS_SOURCE_DIR/ops/kafka/start.sh" --port "$GS_IT_KAFKA_PORT" --sasl-ssl "$S" >"$IT_DIR/kafka.log" 2>&1 ||
  fail "broker did not start"
create_topics 3
export GS_IT_SASL_PASSWORD GS_IT_SASL_WRONG
GS_IT_SASL_PASSWORD=$(<"$S/password")
GS_IT_SASL_WRONG=$(<"$S/wrong")

# sasl_worker ID [-o key=value]...: a worker that knows the broker only by
# its SASL_SSL listener (later -o settings win over start_worker's).
sasl_worker() {
  local id=$1
  shift
  start_worker "$id" -o kafka.bootstrap.servers="$SASL_BS" \
    -o kafka.security.protocol=SASL_SSL -o kafka.sasl.mechanisms=SCRAM-SHA-512 \
    -o kafka.sasl.username=gsworker -o kafka.ssl.ca.location="$S/ca.pem" "$@"
}

# expect_reason ID REASON SECONDS: /health/ready answers 503 with REASON.
expect_reason() {
  local deadline=$((SECONDS + $3)) body
  until body=$(curl -s "http://127.0.0.1:${WORKER_PORT[$1]}/health/ready") &&
    [ "$(jq -r .reason <<<"$body" 2>/dev/null)" = "$2" ]; do
    kill -0 "${WORKER_PID[$1]}" 2>/dev/null || fail "worker $1 exited"
    [ $SECONDS -lt $deadline ] || fail "$1: no \"$2\" within $3 s (last: $body)"
    sleep 0.2
  done
  jq -e '.status == "not ready"' <<<"$body" >/dev/null || fail "$1: $body"
}

# endpoints ID: saves what every HTTP endpoint of the worker serves.
endpoints() {
  local u
  for u in /health/live /health/ready /metrics /state /config /; do
    curl -s "http://127.0.0.1:${WORKER_PORT[$1]}$u" >"$IT_DIR/http/$1${u//\//_}" || true
  done
}

# ---- a wrong password: not ready, and why (librdkafka's security debug on)
sasl_worker bad -o kafka.sasl.password_env=GS_IT_SASL_WRONG \
  -o log.level=debug -o kafka.debug=security
expect_reason bad "broker authentication failed" 30
grep -q 'SASL authentication error' "$IT_DIR/bad.log" || fail "no authentication error logged"
endpoints bad
kill9_worker bad
log "wrong password: 503 broker authentication failed"

# ---- the right password, from an env var and then from a file
BASE_RUN=$RUN
# right_password ID KEY=VALUE: the worker joins and answers N requests.
right_password() {
  local id=$1 n=30 res
  RUN=$BASE_RUN-$id
  sasl_worker "$id" -o "$2"
  wait_ready "$id" 60
  produce "$n" >/dev/null
  res=$(verify "$n" 0 --timeout 60)
  expect_eq "$(jqv "$res" .unique)" "$n" "$id: requests with a result"
  expect_eq "$(jqv "$res" .duplicates)" 0 "$id: duplicates"
  expect_eq "$(jqv "$res" ".workers.$id // 0")" "$n" "$id: results by this worker"
  endpoints "$id"
  stop_worker "$id"
  expect_eq "$STOP_RC" 0 "$id: exit code"
  log "$2: ready, $n requests answered over SASL_SSL, clean exit"
}
right_password env kafka.sasl.password_env=GS_IT_SASL_PASSWORD
right_password file kafka.sasl.password_file="$S/password"

# ---- no secret anywhere: names of files only, never the matching lines
for k in password_env=GS_IT_SASL_PASSWORD password_file="$S/password"; do
  "$GS" check-config "$CFG" -o kafka.sasl."$k" --dump >"$IT_DIR/http/dump-${k%%=*}" 2>&1 ||
    fail "check-config refused kafka.sasl.$k"
  grep -qx 'kafka.sasl.password = "(secret)"' "$IT_DIR/http/dump-${k%%=*}" ||
    fail "check-config --dump does not mask kafka.sasl.$k"
done
[ -z "$(leaks)" ] || fail "a password was logged or served" # hide_leaks names the files
logs=("$IT_DIR"/*.log) answers=("$IT_DIR"/http/*)
log "no password in ${#logs[@]} logs, ${#answers[@]} HTTP answers and dumps"
