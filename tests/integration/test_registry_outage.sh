#!/usr/bin/env bash
# Infrastructure failures pause and retry, they are never dead-lettered:
# the worker's registry is unreachable while Confluent-framed requests
# arrive -> no results, no dead letters, /health/ready says why; once the
# registry is reachable again every request is processed, none twice.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init regoutage
create_topics 3
proxy_port=$(free_port) # nothing listens here until the "outage" ends
start_worker w1 -o registry.url="http://127.0.0.1:$proxy_port/apis/ccompat/v7" \
  -o dialogue.input_framing=confluent -o registry.backoff_max_ms=1000
wait_ready w1

produce 500 --framing confluent --registry "$REG" >/dev/null # the producer's registry works
sleep 3
res=$(verify -1 -1 --timeout 3)
expect_eq "$(jqv "$res" .results)" 0 "results while the registry is down"
expect_eq "$(jqv "$res" .deadletters.total)" 0 "dead letters while the registry is down"
reason=$(curl -s "http://127.0.0.1:${WORKER_PORT[w1]}/health/ready" | jq -r .reason)
expect_eq "$reason" "schema registry unreachable" "readiness reason"
grep -q '"msg":"schema registry unreachable; pausing"' "$IT_DIR/w1.log" || fail "no pause logged"

socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$GS_IT_REGISTRY_PORT" &
BG_PIDS+=("$!")
res=$(verify 500 0 --timeout 60)
log "after the outage: $res"
expect_eq "$(jqv "$res" .unique)" 500 "results after the outage"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates"
expect_eq "$(jqv "$res" .deadletters.total)" 0 "dead letters"
ready w1 || fail "not ready after the registry came back"
stop_worker w1
expect_eq "$STOP_RC" 0 "exit code"
