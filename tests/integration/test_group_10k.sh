#!/usr/bin/env bash
# Issue 2, test 2: 10,000 valid requests through 3 worker processes of one
# consumer group on a 6-partition topic -> exactly 10,000 results, every
# request_id once, no dead letters; all three workers took part.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init group10k
create_topics 6
for w in w1 w2 w3; do start_worker "$w"; done
for w in w1 w2 w3; do wait_ready "$w"; done
sleep 2 # let the cooperative rebalance spread the six partitions

out=$(produce 10000)
log "produced: $out"
res=$(verify 10000 0 --timeout 120)
log "verified: $res"
expect_eq "$(jqv "$res" .results)" 10000 "results"
expect_eq "$(jqv "$res" .unique)" 10000 "unique request ids"
expect_eq "$(jqv "$res" .duplicates)" 0 "duplicates"
expect_eq "$(jqv "$res" .deadletters.total)" 0 "dead letters"
expect_eq "$(jqv "$res" '.workers | length')" 3 "workers with results"
for w in w1 w2 w3; do
  stop_worker "$w"
  expect_eq "$STOP_RC" 0 "exit code of $w"
done
log "throughput: $(jqv "$res" .throughput_rps) results/s over $(jqv "$res" .processing_span_s) s (3 workers, broker on this machine)"
