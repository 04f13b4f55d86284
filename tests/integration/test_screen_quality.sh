#!/usr/bin/env bash
# Issue 12, item 8: the screen kind's recall, precision and false alerts on
# the held-out (test) split of the seeded evaluation set, side by side with
# the reference's method (rapidfuzz token_set_ratio, ops/data/
# screen_reference.py), by `govstream watchlist eval`:
#   - the UN list (real, from PyPI): our recall per class at least the
#     reference's on every positive class, overall recall >= 0.95, at most
#     1 false HIGH and 10 false MEDIUM-or-higher per 1,000 clean payments;
#   - the generated list (seed 2, 7,000 entries): the same bounds on our own
#     figures (the reference takes minutes there; docs/SCREEN.md has its
#     numbers from ops/data/screen_eval_data.sh).
# The bounds sit a little below what docs/SCREEN.md reports, so that a
# change that costs recall fails here. No broker: the engine is run directly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init screen_quality
DATA=$GS_SOURCE_DIR/ops/data
"$DATA/fetch_un_list.sh" "$IT_DIR"
python3 "$DATA/gen_watchlist.py" --seed 2 --persons 5000 --entities 2000 --out "$IT_DIR/gen.xml"
for l in un gen; do
  xml=$IT_DIR/gen.xml
  [ "$l" = un ] && xml=$IT_DIR/un-consolidated.xml
  per=100
  [ "$l" = un ] && per=40
  mkdir -p "$IT_DIR/$l"
  python3 "$DATA/gen_screen_eval.py" --list "$xml" --seed 7 --per-class "$per" --clean 1000 \
    --out-dir "$IT_DIR/$l"
  label=()
  [ "$l" = gen ] && label=(--list GEN)
  "$GS" watchlist build "${label[@]}" --format un-xml "$xml" --out "$IT_DIR/$l.gsl" 2>/dev/null
done
py=$("$DATA/venv_eval.sh")
"$py" "$DATA/screen_reference.py" --list "$IT_DIR/un-consolidated.xml" \
  --items "$IT_DIR/un/screen-eval-test.jsonl" --out "$IT_DIR/un/reference.jsonl"
"$GS" watchlist eval "$IT_DIR/un.gsl" "$IT_DIR/un/screen-eval-test.jsonl" \
  --reference rapidfuzz="$IT_DIR/un/reference.jsonl" --out "$IT_DIR/un-report" >/dev/null
"$GS" watchlist eval "$IT_DIR/gen.gsl" "$IT_DIR/gen/screen-eval-test.jsonl" \
  --out "$IT_DIR/gen-report" >/dev/null
[ -s "$IT_DIR/un-report.svg" ] || fail "no SVG report"

# check REPORT MIN_RECALL: our totals, and (where there is one) every
# positive class at least the reference's
check() {
  python3 - "$1" "$2" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]["govstream"]
print("%s: recall %.3f, precision %.3f, false HIGH %.1f and MEDIUM+ %.1f per 1,000 clean"
      % (sys.argv[1].rsplit("/", 1)[-1], t["recall_medium"], t["precision"],
         t["false_high_per_1000_clean"], t["false_medium_per_1000_clean"]))
assert t["recall_medium"] >= float(sys.argv[2]), t
assert t["false_high_per_1000_clean"] <= 1 and t["false_medium_per_1000_clean"] <= 10, t
assert t["clean"] >= 1000, t
worse = [c["class"] for c in r["classes"] if c["positive"] and "rapidfuzz" in c["screeners"]
         and c["screeners"]["govstream"]["recall_medium"]
         < c["screeners"]["rapidfuzz"]["recall_medium"]]
assert not worse, "below the reference on %s" % worse
PYEOF
}
check "$IT_DIR/un-report.json" 0.95 || fail "UN list: below the bounds"
check "$IT_DIR/gen-report.json" 0.94 || fail "generated list: below the bounds"
log "ok: recall, false alerts and the reference's recall per class within bounds"
