#!/usr/bin/env bash
# Issue 4, tests 2 and 3 (files): fetches the real corpus (ops/data/), trains
# a small model on it and requires that it beats the bigram baseline on the
# held-out split in perplexity and in top-5 accuracy, and that the served mix
# with the Kneser-Ney trigrams beats both of its parts in perplexity. Then the model CLI:
# `model info`, `model validate`, and corrupted copies (truncated, a flipped
# byte, a wrong format version) refused with exit 1 and a precise reason.
# The model stays in $GS_BUILD_DIR/it-models/ for test_model_serving.sh
# (ctest fixture "model").
#
# Training runs with $GS_TRAINER (ops/test.sh: the release build) because
# the sanitizer build is several times slower at it; the sanitizer build's
# own training is exercised by unit.model on a synthetic corpus.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init model_quality
TRAIN=${GS_TRAINER:-$GS}
models=$GS_BUILD_DIR/it-models
mkdir -p "$models"

"$GS_SOURCE_DIR/ops/data/fetch_corpus.sh" || fail "corpus fetch"
corpus=$GS_SOURCE_DIR/.cache/data/chitchat.txt

# The same small configuration as docs/BENCHMARKS.md's quality table.
log "training (V=2048, N=512, code 256) with $TRAIN"
"$TRAIN" train dialogue --corpus "$corpus" --out "$models/small.gsm" --vocab 2048 --units 512 \
  --code-dims 256 --eval-tokens 20000 --name it-small --version 1 \
  >"$IT_DIR/report.json" 2>"$IT_DIR/train.log" || fail "training: $(tail -n 3 "$IT_DIR/train.log")"

python3 - "$IT_DIR/report.json" <<'EOF' || fail "the model does not beat the bigram baseline"
import json, sys
r = json.load(open(sys.argv[1]))
m, b, u = r["model"], r["bigram"], r["unigram"]
k, x = r["trigram_kn"], r["model_kn_mix"]
for name, x in (("model", m), ("mix", x), ("trigram", k), ("bigram", b), ("unigram", u)):
    print("%-8s perplexity %8.2f  top1 %.4f  top5 %.4f  (%d samples)"
          % (name, x["perplexity"], x["top1"], x["top5"], x["samples"]), file=sys.stderr)
assert m["samples"] == b["samples"] == u["samples"] == 20000, "same test samples"
assert r["corpus"]["conversations"]["test"] > 300 and r["corpus"]["tokens"]["train"] > 2_000_000, "the real corpus"
assert m["perplexity"] < b["perplexity"] < u["perplexity"], "perplexity"
assert m["top5"] > b["top5"], "top-5 accuracy"
x = r["model_kn_mix"]  # what is served: the readout mixed with the trigrams
assert x["samples"] == k["samples"] == 20000 and 0 < x["weight"] < 1, "the mix"
assert x["perplexity"] < k["perplexity"] and x["perplexity"] < m["perplexity"], "mix perplexity"
EOF

# ---- the model CLI ------------------------------------------------------------
info=$("$GS" model info "$models/small.gsm") || fail "model info"
# the readout factorised to the default rank 64: W_out ~ U (V x 64) P (64 x D)
grep -q '^  w_out_u    f32   \[2048 x 64\]' <<<"$info" || fail "model info lacks w_out_u: $info"
grep -q '^  w_out_p    f32   \[64 x 769\]' <<<"$info" || fail "model info lacks w_out_p: $info"
grep -q '"name": "it-small"' <<<"$info" || fail "model info lacks the metadata"
grep -q '^n-gram:  Kneser-Ney trigrams (' <<<"$info" || fail "model info lacks the n-gram part: $info"
"$GS" model validate "$models/small.gsm" >/dev/null || fail "a valid model refused"

# expect_refused FILE REASON: validate exits 1 and names the reason
expect_refused() {
  local out rc=0
  out=$("$GS" model validate "$1" 2>&1) || rc=$?
  expect_eq "$rc" 1 "validate $(basename "$1") exit code"
  grep -qF "$2" <<<"$out" || fail "validate $(basename "$1"): expected '$2' in: $out"
}
size=$(stat -c %s "$models/small.gsm")
head -c $((size - 1)) "$models/small.gsm" >"$IT_DIR/truncated.gsm"
expect_refused "$IT_DIR/truncated.gsm" "truncated"
head -c 100 "$models/small.gsm" >"$IT_DIR/short.gsm"
expect_refused "$IT_DIR/short.gsm" "truncated"
flip() { # flip SRC DST OFFSET: one byte xor 0x01
  cp "$1" "$2"
  python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^1]))' "$2" "$3"
}
flip "$models/small.gsm" "$IT_DIR/flipped.gsm" $((size / 2))
expect_refused "$IT_DIR/flipped.gsm" "CRC32C mismatch"
flip "$models/small.gsm" "$IT_DIR/meta.gsm" 40
expect_refused "$IT_DIR/meta.gsm" "SHA-256 mismatch"
flip "$models/small.gsm" "$IT_DIR/version.gsm" 9 # format version 1 -> 257
expect_refused "$IT_DIR/version.gsm" "format version 257, this build reads 1"
expect_refused "$IT_DIR/missing.gsm" "No such file"
log "model quality and model files: ok"
