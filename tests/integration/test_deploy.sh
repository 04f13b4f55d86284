#!/usr/bin/env bash
# The deployment files (compose/, ops/prometheus, ops/grafana, ops/k8s,
# ops/systemd) without running them: this machine has no Docker engine,
# cluster or systemd as init, so it checks what can be checked statically.
#  a. alert rules and scrape config pass promtool, rules pass their unit tests
#  b. the compose file validates; host ports are published on 127.0.0.1 only
#  c. the Dockerfile runs ops/install-deps.sh and the release build of
#     ops/test.sh, and its runtime stage installs every library the binaries
#     link (ldd -> dpkg -S)
#  d. k8s, Grafana and systemd files parse; probes, grace periods and stop
#     timeouts fit the worker's endpoints and shutdown.timeout_ms
#  e. the compose and k8s worker configs pass govstream check-config
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init deploy
S=$GS_SOURCE_DIR
# Debian's python3-yaml is for Debian's python3; PATH may hold another one.
PY=/usr/bin/python3
need() { command -v "$1" >/dev/null || fail "$1 not found ($2; ops/install-deps.sh installs it)"; }
need promtool "Debian package prometheus"
need jq "Debian package jq"
"$PY" -c 'import yaml' 2>/dev/null || fail "$PY cannot import yaml (Debian package python3-yaml)"

# ---- a. Prometheus --------------------------------------------------------
# check config also checks the rule files it names, relative to itself.
for cmd in "check rules $S/ops/prometheus/rules.yml" \
  "test rules $S/ops/prometheus/rules_test.yml" \
  "check config $S/ops/prometheus/prometheus.yml"; do
  # shellcheck disable=SC2086 # word splitting of $cmd is intended
  out=$(promtool $cmd 2>&1) || fail "promtool $cmd:"$'\n'"$out"
done
log "promtool: rules, rule unit tests and scrape config pass"

# ---- b. compose -------------------------------------------------------------
COMPOSE_FILE=$S/compose/docker-compose.yml
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose) # Debian's 1.29: `config` needs no engine
else
  fail "neither 'docker compose' nor docker-compose found (Debian package docker-compose)"
fi
out=$("${compose[@]}" -f "$COMPOSE_FILE" config -q 2>&1) || fail "${compose[*]} config:"$'\n'"$out"
log "compose file valid (${compose[*]})"

# The rest of the YAML checks in one Python run; each problem is one line.
problems=$(
  "$PY" - "$S" 2>&1 <<'EOF'
import os, re, sys, yaml
src = sys.argv[1]
def load(rel):
    with open(os.path.join(src, rel)) as f:
        return list(yaml.safe_load_all(f))

# compose: ports on loopback only, bind-mounted files exist
compose_dir = os.path.join(src, "compose")
(c,) = load("compose/docker-compose.yml")
for name, svc in c["services"].items():
    for p in svc.get("ports", []):
        if not str(p).startswith("127.0.0.1:"):
            print(f"compose: {name} publishes {p!r} beyond 127.0.0.1")
    for v in svc.get("volumes", []):
        host = str(v).split(":")[0]
        if host.startswith("."):
            if not os.path.exists(os.path.normpath(os.path.join(compose_dir, host))):
                print(f"compose: {name} mounts {host}, which does not exist")
for name, sec in c.get("secrets", {}).items():
    if not os.path.isfile(os.path.join(compose_dir, sec["file"])):
        print(f"compose: secret {name}: {sec['file']} does not exist")

# k8s: every file parses; probes hit the worker's endpoints on 9464
docs = {}
for f in sorted(os.listdir(os.path.join(src, "ops/k8s"))):
    if f.endswith((".yaml", ".yml")):
        for d in load("ops/k8s/" + f):
            docs[d["kind"]] = d
for kind in ("Deployment", "ConfigMap", "HorizontalPodAutoscaler", "Service"):
    if kind not in docs:
        print(f"k8s: no {kind} in ops/k8s/")
dep = docs.get("Deployment")
if dep:
    pod = dep["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    ports = {p.get("name"): p["containerPort"] for p in ctr.get("ports", [])}
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        get = ctr.get(probe, {}).get("httpGet", {})
        port = ports.get(get.get("port"), get.get("port"))
        if get.get("path") != path or port != 9464:
            print(f"k8s: {probe} is {get.get('path')} on port {port}, want {path} on 9464")
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        print("k8s: pod securityContext lacks runAsNonRoot: true")
    if pod.get("terminationGracePeriodSeconds", 30) <= 30:
        print("k8s: terminationGracePeriodSeconds must exceed shutdown.timeout_ms (30 s)")
    if not ctr.get("resources", {}).get("requests"):
        print("k8s: container has no resource requests (the HPA needs a CPU request)")

# Grafana provisioning
for f in ("datasources", "dashboards"):
    d = os.path.join(src, "ops/grafana/provisioning", f)
    files = [x for x in os.listdir(d) if x.endswith((".yml", ".yaml"))]
    if not files:
        print(f"grafana: no provisioning file in {d}")
    for x in files:
        load(os.path.join("ops/grafana/provisioning", f, x))
EOF
) || fail "YAML check crashed:"$'\n'"$problems"
[ -z "$problems" ] || fail $'\n'"$problems"
log "compose ports and mounts, k8s manifests and probes, Grafana provisioning ok"

# ---- c. Dockerfile in step with the build -----------------------------------
DF=$S/compose/Dockerfile
# Dockerfile instructions with continuation lines joined.
joined=$(sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$DF" | tr -s ' \t' ' ')
grep -qx 'RUN ops/install-deps.sh' <<<"$joined" || fail "Dockerfile does not RUN ops/install-deps.sh"
# The release configure of ops/test.sh, minus GS_TESTS and redirections.
norm() { sed -E 's/ -DGS_TESTS=[^ ]*//; s/ *>[^ ]*//g; s/ +$//' | tr -s ' '; }
want=$(grep -E '^cmake -S \. -B build ' "$S/ops/test.sh" | norm)
[ -n "$want" ] || fail "no release configure line (cmake -S . -B build ...) in ops/test.sh"
run=$(grep -E '^RUN cmake -S \. -B build ' <<<"$joined") || fail "Dockerfile has no RUN cmake -S . -B build"
got=$(sed -E 's/^RUN //; s/ *&&.*//' <<<"$run" | norm)
[ "$got" = "$want" ] || fail "Dockerfile configure differs from ops/test.sh:"$'\n'"  Dockerfile: $got"$'\n'"  test.sh:    $want"
grep -q -- '-DGS_TESTS=OFF' <<<"$run" || fail "Dockerfile build should set -DGS_TESTS=OFF"
grep -qE '&& cmake --build build( |$)' <<<"$run" || fail "Dockerfile configure is not followed by cmake --build build"
for b in govstream govstream-load; do
  grep -qE "^COPY --from=build .*/build/$b( |$)" <<<"$joined" || fail "Dockerfile does not copy build/$b"
done

# Runtime stage: the packages after `apt-get install` in the last stage.
runtime=$(awk '/^FROM /{s=""} {s=s $0 "\n"} END{printf "%s", s}' <<<"$joined")
mapfile -t listed < <(grep -E 'apt-get install' <<<"$runtime" | sed -E 's/.*apt-get install//; s/&&.*//' |
  tr ' ' '\n' | grep -v '^-' | grep .)
[ ${#listed[@]} -gt 0 ] || fail "no apt-get install in the Dockerfile's runtime stage"
# Not libraries, and meant to be there: TLS roots, curl for the HEALTHCHECK.
extra=(ca-certificates curl)

# What apt installs with the listed packages: their Depends/Pre-Depends
# closure, from this machine's dpkg database (same Debian release as the
# image). A library whose package is in it is in the image without being
# listed; the Dockerfile lists only the direct ones.
declare -A closure
queue=("${listed[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -z "${closure[$p]:-}" ] || continue
  closure[$p]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null) || continue # not installed / virtual
  for d in $(tr ',|' '\n' <<<"$deps" | sed -E 's/\(.*\)//; s/:any//; s/ //g' | grep .); do
    [ -n "${closure[$d]:-}" ] || queue+=("$d")
  done
done
# libc6 (libc, libm, libresolv, ld.so) is in every Debian image, bookworm-slim
# included (dpkg and apt need it), so the Dockerfile does not list it although
# the binaries name libc and libm directly. Every other library package must
# be installed by the runtime stage.
base=(libc6)

# lib_pkg PATH: the package owning a library. /lib is /usr/lib (merged /usr)
# and dpkg knows each file under one of the two names; symlinks managed by
# update-alternatives (libblas.so.3) belong to no package until resolved.
lib_pkg() {
  local c r
  for c in "$1" "$(readlink -f "$1")" "${1/#\/lib\//\/usr\/lib\/}" "$(readlink -f "$1" | sed 's#^/usr/lib/#/lib/#')"; do
    r=$(dpkg -S "$c" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1) || true
    [ -z "$r" ] || {
      echo "$r"
      return
    }
  done
  return 1
}
declare -A used owner
missing=()
# Libraries the project builds itself (ops/deps/) are in no package: the
# Dockerfile copies each, and what they link counts as the binaries' own.
deps_dir=$(readlink -f "$S/.cache/deps")
built=()
# ctest may run on the sanitizer build (ops/test.sh: build-asan); the image is
# a release build, which does not link the sanitizer runtimes.
sanitizer='/lib(asan|ubsan|tsan|lsan)\.so'
for b in govstream govstream-load; do
  [ -x "$GS_BUILD_DIR/$b" ] || fail "$GS_BUILD_DIR/$b not built"
  libs=$(ldd "$GS_BUILD_DIR/$b") || fail "ldd $b failed"
  grep -q 'not found' <<<"$libs" && fail "ldd $b: a library is not found:"$'\n'"$libs"
  while read -r so; do
    [[ ! $so =~ $sanitizer ]] || continue
    if [[ $(readlink -f "$so") == "$deps_dir"/* ]]; then
      built+=("$so")
      owner[$so]=built
      continue
    fi
    pkg=${owner[$so]:-}
    [ -n "$pkg" ] || pkg=$(lib_pkg "$so") || fail "no Debian package owns $so (ldd $b)"
    owner[$so]=$pkg
    used[$pkg]=1
    [[ " ${base[*]} " == *" $pkg "* ]] && continue
    [ -n "${closure[$pkg]:-}" ] || missing+=("$pkg ($so, $b)")
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$libs")
  # Libraries the binary names itself (DT_NEEDED) are listed explicitly, not
  # left to another package's dependencies.
  for n in $(objdump -p "$GS_BUILD_DIR/$b" | awk '$1 == "NEEDED" {print $2}'); do
    so=$(awk -v n="$n" '$1 == n && $2 == "=>" {print $3}' <<<"$libs")
    [ -n "$so" ] || fail "$b needs $n, which ldd does not resolve"
    [[ ! $so =~ $sanitizer ]] || continue
    pkg=${owner[$so]}
    [ "$pkg" != built ] || continue
    [[ " ${base[*]} ${listed[*]} " == *" $pkg "* ]] || missing+=("$pkg ($n, needed by $b)")
  done
done
for so in $(printf '%s\n' "${built[@]}" | sort -u); do
  grep -qE "^COPY --from=build /src/${so#"$S"/}( |$)" <<<"$joined" ||
    fail "Dockerfile does not copy ${so#"$S"/}, which the binaries link"
done
[ ${#missing[@]} -eq 0 ] || fail "Dockerfile runtime stage lacks packages for: ${missing[*]}"
# and nothing stale: every listed package provides a library of the binaries
for p in "${listed[@]}"; do
  [[ " ${extra[*]} " == *" $p "* ]] && continue
  [ -n "${used[$p]:-}" ] || fail "Dockerfile installs $p, which provides no library the binaries link"
done
log "Dockerfile: install-deps.sh, release build, ${#listed[@]} runtime packages cover ${#used[@]} library packages"

# ---- d. Grafana dashboard, systemd unit ---------------------------------------
jq -e '.panels | length > 0' "$S/ops/grafana/dashboard.json" >/dev/null ||
  fail "ops/grafana/dashboard.json does not parse or has no panels"
# Metric names in dashboards and rules must be ones the worker exports
# (listed in docs/DEPLOYMENT.md).
# shellcheck disable=SC2013 # metric names are words
for n in $(grep -ohE '(govstream|process)_[a-z0-9_]+' "$S/ops/grafana/dashboard.json" "$S/ops/prometheus/rules.yml" |
  sed -E 's/_(bucket|sum|count)$//' | sort -u); do
  grep -q "\`$n\`" "$S/docs/DEPLOYMENT.md" || fail "metric $n is used but not listed in docs/DEPLOYMENT.md"
done

UNIT=$S/ops/systemd/govstream.service
stop_s=$(sed -nE 's/^TimeoutStopSec=([0-9]+)s?$/\1/p' "$UNIT")
shutdown_ms=$(sed -nE '/^shutdown:/,/^\};/s/^ *timeout_ms = ([0-9]+);.*/\1/p' "$S/config/govstream.cfg")
if [ -z "$stop_s" ] || [ -z "$shutdown_ms" ] || [ $((stop_s * 1000)) -le "$shutdown_ms" ]; then
  fail "TimeoutStopSec (${stop_s:-unset} s) must exceed shutdown.timeout_ms (${shutdown_ms:-?} ms)"
fi
# shellcheck disable=SC2016 # $MAINPID is systemd's, not ours
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT" || fail "unit does not reload with SIGHUP"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary to exist: point it at this build. It
  # exits 0 on unknown keys and bad values, so any line naming the unit fails.
  mkdir -p "$IT_DIR/unit"
  sed "s#/usr/local/bin/govstream#$(readlink -f "$GS_BUILD_DIR/govstream")#g" "$UNIT" >"$IT_DIR/unit/govstream.service"
  out=$(systemd-analyze verify "$IT_DIR/unit/govstream.service" 2>&1) || fail "systemd-analyze verify:"$'\n'"$out"
  ! grep -q 'govstream.service' <<<"$out" || fail "systemd-analyze verify:"$'\n'"$out"
  log "dashboard parses; systemd unit verified"
else
  log "dashboard parses; systemd-analyze not installed: unit not verified"
fi

# ---- e. worker configs ----------------------------------------------------------
# Each config is checked in a scratch dir holding the lexicons (relative paths
# resolve against the config's directory, /etc/govstream in the image) and a
# stand-in secret file.
echo test-secret >"$IT_DIR/secret"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["govstream.cfg"], end="")' \
  "$S/ops/k8s/configmap.yaml" >"$IT_DIR/k8s.cfg"
cp "$S/compose/govstream.cfg" "$IT_DIR/compose.cfg"
cp -r "$S/config/lexicon" "$IT_DIR/"
for c in compose k8s; do
  sed -i -E "s#secret_file = \"[^\"]*\"#secret_file = \"$IT_DIR/secret\"#" "$IT_DIR/$c.cfg"
  out=$("$GS" check-config "$IT_DIR/$c.cfg" 2>&1) || fail "$c worker config rejected:"$'\n'"$out"
done
log "compose and k8s worker configs pass check-config"
log "ok"
