#!/usr/bin/env bash
# Builds the librdkafka that govstream links: 2.12.0, from the source that
# the npm package node-rdkafka@3.6.1 ships in deps/librdkafka (BSD-2-Clause;
# docs/DATA.md). Debian bookworm's 2.0.2 cannot authenticate with SCRAM to
# Kafka 4.x (librdkafka#4895, fixed in 2.6.1) and predates the transactional
# producer fixes that exactly-once mode needs.
# Idempotent: the prefix carries a stamp of the tarball's sha256, so a second
# run costs one file test. Prints nothing on success but the prefix.
#   ops/deps/librdkafka.sh [PREFIX]   (default .cache/deps/librdkafka)
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=2.12.0
URL=https://registry.npmjs.org/node-rdkafka/-/node-rdkafka-3.6.1.tgz
SHA256=148f7e7b65c510314c70762d8f1be052c8fe1fdf03a128e6c78083a729a57a30
prefix=${1:-$PWD/.cache/deps/librdkafka}
stamp="$prefix/.stamp-$VERSION-$SHA256"
[ -f "$stamp" ] && { echo "$prefix"; exit 0; }

mkdir -p "$(dirname "$prefix")"
exec 8>"$(dirname "$prefix")/.librdkafka.lock"
flock 8 # concurrent builds share one prefix; only one builds
[ -f "$stamp" ] && { echo "$prefix"; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/src.tgz" "$URL"
echo "$SHA256  $work/src.tgz" | sha256sum -c --quiet -
tar -xzf "$work/src.tgz" -C "$work" package/deps/librdkafka
src="$work/package/deps/librdkafka"
grep -q "RD_KAFKA_VERSION  *0x020c00ff" "$src/src/rdkafka.h" ||
  { echo "librdkafka.sh: the tarball is not librdkafka $VERSION" >&2; exit 1; }
rm -rf "$prefix"
# SSL, SASL (SCRAM, OAUTHBEARER, and GSSAPI through Cyrus SASL),
# zlib/zstd/lz4 compression; the library's own tests and examples are not ours
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  -DRDKAFKA_BUILD_STATIC=OFF -DRDKAFKA_BUILD_EXAMPLES=OFF -DRDKAFKA_BUILD_TESTS=OFF \
  -DWITH_SSL=ON -DWITH_SASL=ON -DWITH_SASL_SCRAM=ON -DWITH_SASL_OAUTHBEARER=ON \
  -DWITH_SASL_CYRUS=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DENABLE_LZ4_EXT=ON \
  -DWITH_CURL=OFF >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j "${GS_TEST_JOBS:-2}" >"$work/build.log" 2>&1 ||
  { tail -50 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" >/dev/null
touch "$stamp"
echo "$prefix"
