#!/usr/bin/env bash
# Usage: start.sh [--nodes 1|3] [--port BASE] [--sasl-ssl DIR]
# Starts a throw-away local KRaft Kafka (each node broker+controller) bound to
# 127.0.0.1 and prints its bootstrap servers on stdout (the only stdout line,
# so `BS=$(ops/kafka/start.sh)` works). Node i (1-based) listens on BASE+i-1
# for clients (PLAINTEXT) and on BASE+100+i-1 for the controller quorum.
# --sasl-ssl DIR: node i also listens on BASE+200+i-1 for SASL_SSL clients
#   (SCRAM-SHA-512). DIR holds broker.p12 (PKCS12 key and certificate for
#   127.0.0.1), broker.p12.password (its password) and scram-users (lines
#   "NAME PASSWORD": the users, created at format time). Secrets stay in files.
# Env: GS_KAFKA_PORT (base port, default 9092), GS_KAFKA_CACHE (jar/state cache),
#      GS_KAFKA_START_TIMEOUT (default 60 s), GS_KAFKA_HEAP (default -Xms256m -Xmx512m).
# Starting an instance that is already up with the same options is a no-op.
# One node of it is stopped, killed or restarted on its data by node.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nodes=1
port=${GS_KAFKA_PORT:-9092}
sasl_dir=''
while (($#)); do
  case $1 in
    --nodes) nodes=${2:?}; shift 2 ;;
    --port) port=${2:?}; shift 2 ;;
    --sasl-ssl) sasl_dir=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
[[ $nodes == 1 || $nodes == 3 ]] || die "--nodes must be 1 or 3"
check_port "$port"
if [[ -n $sasl_dir ]]; then
  d=$(cd "$sasl_dir" 2>/dev/null && pwd) || die "--sasl-ssl: no directory '$sasl_dir'"
  sasl_dir=$d
  for f in broker.p12 broker.p12.password scram-users; do
    [[ -r $sasl_dir/$f ]] || die "--sasl-ssl: $sasl_dir/$f is missing"
  done
  check_port $((port + GS_SASL_SSL_OFFSET))
fi

ensure_jars
mkdir -p "$GS_KAFKA_RUN"
exec 9>"$GS_KAFKA_RUN/$port.lock"
flock 9 # a concurrent stop.sh/start.sh on the same port waits for us

state=$(state_file "$port")
if [[ -f $state ]]; then
  DATA_DIR='' PIDS='' NODES='' BOOTSTRAP='' SASL_DIR=''
  # shellcheck source=/dev/null
  . "$state"
  alive=0
  for p in $PIDS; do owns_pid "$p" "$DATA_DIR" && alive=$((alive + 1)); done
  if ((alive == NODES && NODES == nodes)) && [[ $SASL_DIR == "$sasl_dir" ]]; then
    log "already running"
    echo "$BOOTSTRAP"
    exit 0
  fi
  ((alive == 0)) || die "an instance with $NODES node(s)${SASL_DIR:+ and SASL_SSL} is running on $port; run stop.sh --port $port first"
  log "cleaning up a dead instance on port $port"
  stop_instance "$port"
fi

# Fail early and clearly rather than letting a JVM die on "Address already in use".
for ((i = 0; i < nodes; i++)); do
  for p in $((port + i)) $((port + GS_CONTROLLER_OFFSET + i)) ${sasl_dir:+$((port + GS_SASL_SSL_OFFSET + i))}; do
    check_port "$p"
    ! port_open 127.0.0.1 "$p" || die "port $p is already in use"
  done
done

if ((nodes == 1)); then rf=1 isr=1; else rf=3 isr=2; fi
voters='' bootstrap='' sasl_bootstrap=''
for ((i = 1; i <= nodes; i++)); do
  voters+="${voters:+,}$i@127.0.0.1:$((port + GS_CONTROLLER_OFFSET + i - 1))"
  bootstrap+="${bootstrap:+,}127.0.0.1:$((port + i - 1))"
  sasl_bootstrap+="${sasl_bootstrap:+,}127.0.0.1:$((port + GS_SASL_SSL_OFFSET + i - 1))"
done
[[ -n $sasl_dir ]] || sasl_bootstrap=''

# Any failure from here on tears down whatever was started.
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/govstream-kafka-$port.XXXXXX")
pids=()
write_state() {
  printf 'DATA_DIR=%q\nNODES=%q\nBOOTSTRAP=%q\nPIDS=%q\nSASL_DIR=%q\nSASL_BOOTSTRAP=%q\n' \
    "$data_dir" "$nodes" "$bootstrap" "${pids[*]}" "$sasl_dir" "$sasl_bootstrap" >"$state"
}
ok=0
on_exit() {
  ((ok)) && return
  for ((i = 1; i <= nodes; i++)); do
    [[ -f $data_dir/node-$i/kafka.log ]] || continue
    echo "---- tail of node-$i/kafka.log ----" >&2
    tail -n 40 "$data_dir/node-$i/kafka.log" >&2
  done
  log "start failed, cleaning up"
  stop_instance "$port"
}
write_state
trap on_exit EXIT

# A KRaft cluster id is 16 random bytes in URL-safe base64 without padding;
# making it here saves a JVM start (StorageTool random-uuid). A leading '-'
# would be parsed as an option, so re-roll that case.
cluster_id=-
while [[ $cluster_id == -* ]]; do
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
done

# --sasl-ssl: SCRAM users go to the metadata log at format time, as salted
# credentials made here (PBKDF2, as the broker would make them): the
# passwords never appear on a command line. (The salted form, still a
# credential, is on the format tool's for its ~1 s run.)
scram=() sasl_props=''
if [[ -n $sasl_dir ]]; then
  creds=$(python3 - "$sasl_dir/scram-users" <<'PY'
import base64, hashlib, os, re, sys
b64 = lambda b: base64.b64encode(b).decode()
with open(sys.argv[1], encoding="utf-8") as f:
    lines = f.read().splitlines()
for n, line in enumerate(lines, 1):
    if not line.strip() or line.startswith("#"):
        continue
    name, _, password = line.partition(" ")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or not password:
        sys.exit(f"scram-users:{n}: want NAME PASSWORD (NAME of [A-Za-z0-9._-])")
    salt, it = os.urandom(32), 8192
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, it)
    print(f'SCRAM-SHA-512=[name={name},iterations={it},'
          f'salt="{b64(salt)}",saltedpassword="{b64(key)}"]')
PY
  ) || die "--sasl-ssl: cannot read $sasl_dir/scram-users"
  [[ -n $creds ]] || die "--sasl-ssl: no user in $sasl_dir/scram-users"
  while read -r c; do scram+=(--add-scram "$c"); done <<<"$creds"
  ks_pass=$(<"$sasl_dir/broker.p12.password")
  # One listener speaks SSL, so the unprefixed ssl.* keys are its own. In a
  # properties value '\' is the escape character.
  sasl_props="sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$sasl_dir/broker.p12
ssl.keystore.password=${ks_pass//\\/\\\\}"
  unset ks_pass
fi

fmt_pids=()
for ((i = 1; i <= nodes; i++)); do
  dir=$data_dir/node-$i
  mkdir -p "$dir"
  listeners=PLAINTEXT://127.0.0.1:$((port + i - 1))
  map=PLAINTEXT:PLAINTEXT
  if [[ -n $sasl_dir ]]; then
    listeners+=,SASL_SSL://127.0.0.1:$((port + GS_SASL_SSL_OFFSET + i - 1))
    map+=,SASL_SSL:SASL_SSL
  fi
  # Under mktemp's 0700 data dir: the keystore password may be in here.
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
# static quorum: same list on every node, no --standalone/--initial-controllers
controller.quorum.voters=$voters
listeners=$listeners,CONTROLLER://127.0.0.1:$((port + GS_CONTROLLER_OFFSET + i - 1))
advertised.listeners=$listeners
listener.security.protocol.map=$map,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
# tests create their topics explicitly; a typo must fail, not auto-create
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# fewer internal partitions than the default 50: faster first consumer group
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# consumers in tests join at once; no 3 s wait for more members
group.initial.rebalance.delay.ms=0
# 2-core box, up to 3 JVMs: keep thread pools small
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
$sasl_props
EOF
  # Formats run in parallel: each is a ~1 s JVM start.
  kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
    ${scram[@]+"${scram[@]}"} >"$dir/kafka.log" 2>&1 &
  fmt_pids+=("$!")
done
for ((i = 1; i <= nodes; i++)); do
  wait "${fmt_pids[i - 1]}" || die "formatting node-$i failed: $(cat "$data_dir/node-$i/kafka.log")"
done

for ((i = 1; i <= nodes; i++)); do
  launch_node "$data_dir/node-$i"
  pids+=("$!")
  write_state
done

GS_KAFKA_PIDS="${pids[*]}" "$GS_KAFKA_DIR/wait-ready.sh" "$bootstrap" "${GS_KAFKA_START_TIMEOUT:-60}"
ok=1
log "$nodes node(s) up, data in $data_dir, stop with: ops/kafka/stop.sh --port $port"
[[ -z $sasl_bootstrap ]] || log "SASL_SSL (SCRAM-SHA-512) clients: $sasl_bootstrap"
echo "$bootstrap"
