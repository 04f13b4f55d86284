#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the local Kafka
# broker need, then builds librdkafka (ops/deps/librdkafka.sh). Idempotent:
# packages already present are skipped and the library is built once, so a
# second run costs one dpkg query and one file test.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  # product libraries (SPEC: librdkafka, avro-c, OpenBLAS+LAPACKE, libconfig,
  # libcurl, jansson, libmicrohttpd); librdkafka is built below, not Debian's
  libavro-dev libopenblas-dev liblapacke-dev libconfig-dev
  libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libssl-dev zlib1g-dev
  # what ops/deps/librdkafka.sh builds librdkafka 2.12 with
  libzstd-dev liblz4-dev libsasl2-dev
  # Debian's copyright record of librdkafka, which it.licences checks
  # docs/LICENSES.md against (the product links the build in .cache/deps)
  librdkafka1
  # watch-list files (the screen kind's builder reads XML lists)
  libxml2-dev
  # text normalisation of the screen kind (NFKC, case folding, spoof skeletons)
  libicu-dev
  # KissFFT (BSD-3-Clause): only bench-timbre's comparison row, the FFT the
  # timbre features used before src/kinds/timbre/fft.c
  libkissfft-dev
  # its resampler to 22,050 Hz (libsoxr, LGPL-2.1+, linked dynamically)
  libsoxr-dev
  # its training notes: govstream-render (a tool apart from the worker) plays
  # the GM sound fonts through libfluidsynth (LGPL-2.1+); docs/DATA.md
  libfluidsynth-dev fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont
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
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# librdkafka >= 2.6.1 is not in bookworm: build it once into .cache/deps
# (CMakeLists.txt looks there first)
echo "install-deps: librdkafka in $("$(dirname "$0")/deps/librdkafka.sh")"
