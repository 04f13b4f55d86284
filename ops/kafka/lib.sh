# shellcheck shell=bash
# Sourced by start.sh, stop.sh, node.sh, topics.sh and wait-ready.sh; not run directly.
# Layout of the cache (git-ignored, override with GS_KAFKA_CACHE):
#   libs/          jars copied from Maven Central (+ .stamp = sha256 of pom.xml)
#   run/PORT.state variables of the instance started on base port PORT
#   run/PORT.lock  serialises start/stop of that instance

GS_KAFKA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GS_KAFKA_CACHE=${GS_KAFKA_CACHE:-$GS_KAFKA_DIR/.cache}
GS_KAFKA_LIBS=$GS_KAFKA_CACHE/libs
GS_KAFKA_RUN=$GS_KAFKA_CACHE/run
GS_JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# Controllers listen on client port + this offset, so two instances started on
# base ports further apart than the node count never collide.
# shellcheck disable=SC2034 # used by start.sh
GS_CONTROLLER_OFFSET=100
# start.sh --sasl-ssl: SASL_SSL client listeners on client port + this offset.
# shellcheck disable=SC2034 # used by start.sh
GS_SASL_SSL_OFFSET=200

die() { echo "${0##*/}: $*" >&2; exit 1; }
log() { echo "${0##*/}: $*" >&2; }

# Leaves room for the controller offset above the port.
check_port() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65400)); then die "bad port '$1'"; fi
}

# Fetch the jars once. The stamp ties the cache to the pom, so bumping
# kafka.version re-fetches; the swap via a temp dir means an interrupted fetch
# never leaves a half-filled libs/ that would later look "cached".
ensure_jars() {
  local want
  want=$(sha256sum "$GS_KAFKA_DIR/pom.xml" | cut -c1-64)
  [[ -f $GS_KAFKA_LIBS/.stamp && $(<"$GS_KAFKA_LIBS/.stamp") == "$want" ]] && return 0
  mkdir -p "$GS_KAFKA_CACHE"
  (
    flock 8 # concurrent test runs share one cache; only one fetches
    [[ -f $GS_KAFKA_LIBS/.stamp && $(<"$GS_KAFKA_LIBS/.stamp") == "$want" ]] && exit 0
    tmp=$(mktemp -d "$GS_KAFKA_CACHE/libs.XXXXXX")
    log "fetching Kafka jars from Maven Central (one-off) ..."
    if ! mvn -q -B -Dstyle.color=never -f "$GS_KAFKA_DIR/pom.xml" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1; then
      cat "$tmp/mvn.log" >&2
      rm -rf "$tmp"
      die "maven could not fetch the Kafka jars"
    fi
    rm -f "$tmp/mvn.log"
    echo "$want" >"$tmp/.stamp"
    chmod 755 "$tmp" # mktemp -d makes it 0700
    rm -rf "$GS_KAFKA_LIBS"
    mv "$tmp" "$GS_KAFKA_LIBS"
  ) 8>"$GS_KAFKA_CACHE/.fetch.lock"
}

# Short-lived CLI JVMs: C1 only + serial GC start ~2x faster than the defaults.
# An array (not only a function) so callers can put `timeout` in front of it.
GS_TOOL=("$GS_JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$GS_KAFKA_DIR/log4j2.properties" -Dgs.kafka.loglevel=WARN
  -cp "$GS_KAFKA_LIBS/*")
kafka_tool() { "${GS_TOOL[@]}" "$@"; }

# True if something accepts TCP connections on host $1 port $2 (no JVM needed).
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# True if $1 is a live java whose command line mentions $2 (our data dir);
# guards against PID reuse and treats zombies (empty cmdline) as gone.
owns_pid() {
  [[ -r /proc/$1/cmdline ]] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

state_file() { echo "$GS_KAFKA_RUN/$1.state"; }

# Starts the broker of node dir $1 (server.properties and data in it) in the
# background: $! is its JVM's pid. Used by start.sh and, to restart one node
# on the data it had, by node.sh. nohup + own cwd: the broker outlives the
# script and its terminal. It must not inherit lock fd 9, or the next
# stop.sh would wait on it forever.
launch_node() {
  local dir=$1
  # shellcheck disable=SC2086 # GS_KAFKA_HEAP is a list of JVM flags
  (exec 9>&- && cd "$dir" && exec nohup "$GS_JAVA" ${GS_KAFKA_HEAP:--Xms256m -Xmx512m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$GS_KAFKA_DIR/log4j2.properties" -Dkafka.logs.dir="$dir" \
    -cp "$GS_KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
    >>"$dir/kafka.log" 2>&1 </dev/null) &
}

# Stops the instance on base port $1 (caller holds its lock). Idempotent.
stop_instance() {
  local port=$1 f DATA_DIR='' PIDS='' p live deadline
  f=$(state_file "$port")
  [[ -f $f ]] || return 0
  # shellcheck source=/dev/null
  . "$f"
  for p in $PIDS; do
    if owns_pid "$p" "$DATA_DIR"; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  # Graceful first so the JVMs exit cleanly; the data is thrown away anyway,
  # so after the grace period we do not care how they die.
  deadline=$((SECONDS + ${GS_KAFKA_STOP_TIMEOUT:-30}))
  while :; do
    live=()
    for p in $PIDS; do owns_pid "$p" "$DATA_DIR" && live+=("$p"); done
    ((${#live[@]})) || break
    if ((SECONDS >= deadline)); then
      log "still running after ${GS_KAFKA_STOP_TIMEOUT:-30}s, SIGKILL ${live[*]}"
      kill -KILL "${live[@]}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # Only ever delete a directory that start.sh created.
  [[ -n $DATA_DIR && -d $DATA_DIR && ${DATA_DIR##*/} == govstream-kafka-* ]] && rm -rf "$DATA_DIR"
  rm -f "$f"
}
