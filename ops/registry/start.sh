#!/usr/bin/env bash
# Start a local Confluent-compatible schema registry (Apicurio Registry 2.4.2.Final,
# in-memory H2 storage) on 127.0.0.1, in the background.
#
#   ops/registry/start.sh [--port 8081] [--kafka BOOTSTRAP] [--compat LEVEL]
#   ops/registry/start.sh --build-only     (build into the cache, start nothing)
#
# On success prints exactly one line on stdout, the base URL of the
# Confluent-compatible API, e.g.  http://127.0.0.1:8081/apis/ccompat/v7
# (everything else goes to stderr), so:  BASE=$(ops/registry/start.sh --port 18081)
# Idempotent: if a registry started by this script already answers on the port, it
# just prints the URL again.
#
# First run builds the server with Maven from Maven Central artifacts into the cache
# (default ops/registry/.cache, override GS_REGISTRY_CACHE); later runs start from it
# offline.
#
# Options / environment:
#   --port N            listen port (default $GS_REGISTRY_PORT or 8081); 127.0.0.1 only
#   --compat LEVEL      global compatibility set after start-up (default BACKWARD, as
#                       Confluent's default; Apicurio's own default is NONE).
#                       LEVEL=keep (or none) leaves Apicurio's default, NONE.
#   --kafka BOOTSTRAP   accepted for interface compatibility, but this build has only
#                       in-memory storage (Apicurio 2.x's Kafka-backed "kafkasql"
#                       storage is a separate artifact that is not on Maven Central);
#                       a warning is printed and schemas live for the process lifetime.
#   GS_REGISTRY_CACHE   cache dir (maven repo, build output, per-port run state)
#   GS_REGISTRY_JAVA_HOME  JDK (11..21) to build and run with; default: JAVA_HOME,
#                       then `java` on PATH, then /usr/lib/jvm/*
#   GS_REGISTRY_HEAP    max heap (default 384m)
#   GS_REGISTRY_START_TIMEOUT  seconds to wait for the REST API (default 180)
#   GS_REGISTRY_CANONICAL  0 (default): ids by schema text, schemas returned verbatim;
#                       1: Apicurio's canonical ids - which also returns record
#                       fields sorted by name, a different binary layout: broken
#                       for decoding, kept only for experiments
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GS_REGISTRY_CACHE:-$HERE/.cache}
PORT=${GS_REGISTRY_PORT:-8081}
KAFKA=""
COMPAT=BACKWARD
HEAP=${GS_REGISTRY_HEAP:-384m}
TIMEOUT=${GS_REGISTRY_START_TIMEOUT:-180}
CANONICAL=${GS_REGISTRY_CANONICAL:-0}
BUILD_ONLY=0

log() { echo "registry: $*" >&2; }
die() { echo "registry: ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    --kafka) KAFKA=${2:?--kafka needs a value}; shift 2 ;;
    --kafka=*) KAFKA=${1#*=}; shift ;;
    --compat) COMPAT=${2:?--compat needs a value}; shift 2 ;;
    --compat=*) COMPAT=${1#*=}; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    *) log "unknown argument: $1"; usage 2 ;;
  esac
done
case "$PORT" in ''|*[!0-9]*) die "bad --port '$PORT'" ;; esac
COMPAT=$(echo "$COMPAT" | tr '[:lower:]' '[:upper:]')
case "$COMPAT" in
  KEEP|NONE|BACKWARD|BACKWARD_TRANSITIVE|FORWARD|FORWARD_TRANSITIVE|FULL|FULL_TRANSITIVE) ;;
  *) die "bad --compat '$COMPAT'" ;;
esac
[ -n "$KAFKA" ] && log "WARNING: --kafka $KAFKA ignored: this Apicurio build stores schemas in memory only"

BASE="http://127.0.0.1:$PORT/apis/ccompat/v7"
BUILD="$CACHE/build"
M2=${GS_REGISTRY_M2:-$CACHE/m2}
RUN="$CACHE/run/$PORT"
JAR="$BUILD/quarkus-app/quarkus-run.jar"
mkdir -p "$CACHE/run"

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

# ---- already running? -------------------------------------------------------
if [ "$BUILD_ONLY" = 0 ] && [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  if [ "$(http_code "$BASE/subjects")" = 200 ]; then
    log "already running (pid $(cat "$RUN/pid")) on port $PORT"
    echo "$BASE"; exit 0
  fi
  die "pid $(cat "$RUN/pid") from an earlier start on port $PORT is alive but not answering; run $HERE/stop.sh --port $PORT"
fi
if [ "$BUILD_ONLY" = 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "port $PORT on 127.0.0.1 is already in use by another process"
fi

# ---- pick a JDK (11..21) ----------------------------------------------------
java_major() {  # $1 = java binary
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | sed 's/^1\.//'
}
pick_java_home() {
  local cands=() c m
  [ -n "${GS_REGISTRY_JAVA_HOME:-}" ] && cands+=("$GS_REGISTRY_JAVA_HOME")
  [ -n "${JAVA_HOME:-}" ] && cands+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in /usr/lib/jvm/*17* /usr/lib/jvm/*21* /usr/lib/jvm/*11* /usr/lib/jvm/*; do
    [ -d "$c" ] && cands+=("$c")
  done
  for c in "${cands[@]}"; do
    [ -x "$c/bin/java" ] || continue
    m=$(java_major "$c/bin/java")
    case "$m" in 11|17|21|1[2-9]|20) echo "$c"; return 0 ;; esac
  done
  return 1
}
JH=$(pick_java_home) || die "need a JDK 11..21 (e.g. apt-get install openjdk-17-jdk-headless), or set GS_REGISTRY_JAVA_HOME"
JAVA="$JH/bin/java"

# ---- build (once; rebuilt when pom.xml changes) -----------------------------
STAMP=$(sha256sum <"$HERE/pom.xml" | cut -c1-16)
build() {
  command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install maven)"
  log "building Apicurio Registry from Maven Central into $BUILD (first run: a few minutes; log: $CACHE/build.log)"
  local t0=$SECONDS
  rm -rf "$BUILD"
  if ! JAVA_HOME="$JH" mvn -B -f "$HERE/pom.xml" \
        -Dmaven.repo.local="$M2" -Dgs.registry.out="$BUILD" \
        -DskipDefault -Dquarkus.package.type=fast-jar \
        package >"$CACHE/build.log" 2>&1; then
    tail -40 "$CACHE/build.log" >&2
    die "maven build failed (full log: $CACHE/build.log)"
  fi
  [ -f "$JAR" ] || die "build produced no $JAR (see $CACHE/build.log)"
  # keep only the runnable quarkus-app/ (the unpacked app and thin jar are inputs)
  rm -rf "$BUILD/classes" "$BUILD"/*.jar
  echo "$STAMP" > "$BUILD/.gs-stamp"
  log "built in $((SECONDS - t0))s"
}
(
  flock 9
  if [ ! -f "$JAR" ] || [ "$(cat "$BUILD/.gs-stamp" 2>/dev/null)" != "$STAMP" ]; then
    build
  fi
) 9>"$CACHE/build.lock"
[ "$BUILD_ONLY" = 1 ] && exit 0

# ---- start ------------------------------------------------------------------
rm -rf "$RUN"
mkdir -p "$RUN/tmp"
CANON_HASH=false; [ "$CANONICAL" = 1 ] && CANON_HASH=true
JOPTS=(
  -Xms64m "-Xmx$HEAP" -XX:+UseSerialGC -XX:MaxMetaspaceSize=192m -Xss512k
  -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData
  "-Djava.io.tmpdir=$RUN/tmp" "-Dvertx.cacheDirBase=$RUN/tmp/vertx-cache"
  -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$PORT"
  -Dquarkus.http.cors=false
  -Dquarkus.datasource.jdbc.initial-size=2 -Dquarkus.datasource.jdbc.min-size=2
  -Dquarkus.datasource.jdbc.max-size=16
  "-Dregistry.ccompat.use-canonical-hash=$CANON_HASH"
  -Dregistry.ui.features.readOnly=false
  -Dquarkus.log.console.color=false
)
t0=$(date +%s%N)
# setsid: own session/process group, so stop.sh can signal it and nothing of ours
# (e.g. the caller's Ctrl-C) takes it down by accident.
setsid "$JAVA" "${JOPTS[@]}" -jar "$JAR" >"$RUN/registry.log" 2>&1 </dev/null &
PID=$!
echo "$PID" > "$RUN/pid"
echo "$JAR" > "$RUN/jar"

deadline=$((SECONDS + TIMEOUT))
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    tail -30 "$RUN/registry.log" >&2
    rm -f "$RUN/pid"
    die "registry exited during start-up (log: $RUN/registry.log)"
  fi
  [ "$(http_code "$BASE/subjects")" = 200 ] && break
  if [ $SECONDS -ge $deadline ]; then
    tail -30 "$RUN/registry.log" >&2
    "$HERE/stop.sh" --port "$PORT" >/dev/null 2>&1 || true
    die "no 200 from $BASE/subjects within ${TIMEOUT}s"
  fi
  sleep 0.2
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))

# NONE is Apicurio's built-in global default (no rule); PUT NONE there answers 404
if [ "$COMPAT" != KEEP ] && [ "$COMPAT" != NONE ]; then
  code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data "{\"compatibility\":\"$COMPAT\"}" "$BASE/config" || true)
  [ "$code" = 200 ] || log "WARNING: setting global compatibility $COMPAT returned HTTP $code"
fi
log "Apicurio Registry 2.4.2.Final up in ${ms}ms: pid $PID, java $(java_major "$JAVA") ($JH), -Xmx$HEAP, log $RUN/registry.log"
echo "$BASE"
