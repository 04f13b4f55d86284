#!/usr/bin/env bash
# ctest fixtures: one local Kafka broker and one schema registry for the
# integration tests, on non-default loopback ports so a developer's own
# instances are not touched.
set -euo pipefail
: "${GS_SOURCE_DIR:?}" "${GS_IT_KAFKA_PORT:=39092}" "${GS_IT_REGISTRY_PORT:=38081}"
case ${1:-} in
  start-kafka) "$GS_SOURCE_DIR/ops/kafka/start.sh" --port "$GS_IT_KAFKA_PORT" ;;
  stop-kafka) "$GS_SOURCE_DIR/ops/kafka/stop.sh" --port "$GS_IT_KAFKA_PORT" ;;
  start-registry) "$GS_SOURCE_DIR/ops/registry/start.sh" --port "$GS_IT_REGISTRY_PORT" ;;
  stop-registry) "$GS_SOURCE_DIR/ops/registry/stop.sh" --port "$GS_IT_REGISTRY_PORT" ;;
  *) echo "usage: $0 start-kafka|stop-kafka|start-registry|stop-registry" >&2; exit 2 ;;
esac
