#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the local Kafka
# broker need. Idempotent: packages already present are skipped, so a second
# run costs one dpkg query.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  # product libraries (SPEC: librdkafka, avro-c, OpenBLAS+LAPACKE, libconfig,
  # libcurl, jansson, libmicrohttpd)
  librdkafka-dev libavro-dev libopenblas-dev liblapacke-dev libconfig-dev
  libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libssl-dev zlib1g-dev
  # tests and checks
  libcmocka-dev valgrind cppcheck clang-tidy clang-format shellcheck jq socat python3
  # fuzzing (tests/fuzz/): clang with libFuzzer
  clang libclang-rt-14-dev
  # benchmarks: bench/profile.sh
  linux-perf
  python3-venv
  # deployment checks (tests/integration/test_deploy.sh): promtool, compose config, YAML
  prometheus docker-compose python3-yaml
  # local Kafka broker (KRaft) runs on a JDK; jars come from Maven Central
  default-jdk-headless maven
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
