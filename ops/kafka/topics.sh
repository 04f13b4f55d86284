#!/usr/bin/env bash
# Usage: topics.sh [--port BASE] TOPIC-COMMAND-ARGS...
# Runs Kafka's TopicCommand (the kafka-topics.sh CLI) against the instance
# start.sh started on BASE (default GS_KAFKA_PORT or 9092), e.g.
#   topics.sh --create --if-not-exists --topic gs.in --partitions 6 --replication-factor 1
#   topics.sh --list
#   topics.sh --describe --topic gs.in
# Pass --bootstrap-server yourself to target any other cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${GS_KAFKA_PORT:-9092}
if [[ ${1:-} == --port ]]; then port=${2:?}; shift 2; fi
case " $* " in
  *" -h "* | *" --help "*) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
check_port "$port"

args=("$@")
if [[ " $* " != *" --bootstrap-server "* ]]; then
  BOOTSTRAP=127.0.0.1:$port
  state=$(state_file "$port")
  # shellcheck source=/dev/null
  [[ -f $state ]] && . "$state" # all nodes, so one dead broker does not matter
  args=(--bootstrap-server "$BOOTSTRAP" "${args[@]}")
fi
ensure_jars
# Class moved from kafka.admin (Scala, <=3.5) to org.apache.kafka.tools (3.6+).
exec "${GS_TOOL[@]}" org.apache.kafka.tools.TopicCommand "${args[@]}"
