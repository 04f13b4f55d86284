#!/usr/bin/env bash
# The screen kind's evaluation data (docs/SCREEN.md, "Evaluation set"): the
# UN list (fetch_un_list.sh), a generated list (gen_watchlist.py --seed 2),
# a labelled dev/test set from each (gen_screen_eval.py --seed 7), and the
# rapidfuzz reference's decisions on both test splits (screen_reference.py,
# in the venv of venv_eval.sh).
#
# Usage: ops/data/screen_eval_data.sh OUT_DIR
# Writes OUT_DIR/un-consolidated.xml, OUT_DIR/gen-eval.xml,
# OUT_DIR/{un,gen}/screen-eval-{dev,test}.jsonl, .../screen-eval-summary.json,
# OUT_DIR/{un,gen}/reference-test.jsonl and, per list, the reference's
# report (items/s, recall per class, false alerts) in reference-test.txt.
# Quiet in a pipe; progress only on a terminal.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
out="$1"
mkdir -p "$out/un" "$out/gen"

"$here/fetch_un_list.sh" "$out"
python3 "$here/gen_watchlist.py" --seed 2 --persons 5000 --entities 2000 --out "$out/gen-eval.xml"
python3 "$here/gen_screen_eval.py" --list "$out/un-consolidated.xml" --seed 7 \
  --per-class 40 --clean 1000 --out-dir "$out/un"
python3 "$here/gen_screen_eval.py" --list "$out/gen-eval.xml" --seed 7 \
  --per-class 100 --clean 1000 --out-dir "$out/gen"

py="$("$here/venv_eval.sh")"
"$py" "$here/screen_reference.py" --list "$out/un-consolidated.xml" \
  --items "$out/un/screen-eval-test.jsonl" --out "$out/un/reference-test.jsonl" \
  --report >"$out/un/reference-test.txt"
"$py" "$here/screen_reference.py" --list "$out/gen-eval.xml" \
  --items "$out/gen/screen-eval-test.jsonl" --out "$out/gen/reference-test.jsonl" \
  --report >"$out/gen/reference-test.txt"
if [[ -t 1 ]]; then
  cat "$out/un/reference-test.txt" "$out/gen/reference-test.txt"
fi
