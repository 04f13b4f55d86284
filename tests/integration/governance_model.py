#!/usr/bin/env python3
"""An independent model of the governance flow (SPEC 3.1-3.4) for one
scope, written from the specification, not from the C code:

  moral filter: threshold 0.50 in [0.30, 0.90]; v >= 0.90 accept, v < 0.30
    reject, else accept iff v >= threshold; ema <- 0.1 a + 0.9 ema;
    ema - 0.5 > 0.05 -> +0.05, < -0.05 -> -0.05, in exact arithmetic
    (fractions), so an error of exactly 0.05 moves nothing
  lexicon: 0.8 - 0.15 per harm word + 0.05 per care word, clamped to [0,1]
  rhythm: wake 8, sleep 3, advancing on every request
  memory (govstream's documented rules): an accepted request retrieves the
    top 5 memories of its phase, then writes one (confidence = its moral
    value, refused below 0.5): in wake to PELM (phase 0.1) and to the
    consolidation buffer, in sleep to the buffer only; entering sleep
    re-commits the buffer with phase 0.9.
  context (SPEC 3.4): each result names what it retrieved: the request_id
    that wrote each memory, its cosine with the request's last turn (the
    embedding: signed FNV-1a 64 feature hashing of lower-cased words and
    bigrams into 384 dims, L2-normalised) and its phase, best first; the
    set must be a top 5 of the phase's memories by that cosine.

usage: governance_model.py script SESSION          > script.jsonl
       governance_model.py check LEXICON_DIR script.jsonl results.jsonl
"""
import json
import math
import re
import sys
from fractions import Fraction

WAKE, SLEEP, K = 8, 3, 5
DIM, FNV_OFFSET, FNV_PRIME, M64 = 384, 14695981039346656037, 1099511628211, 1 << 64


def script(session):
    """48 requests: given values that swing the threshold both ways, and
    values left to the lexicon (care words push up, harm words down)."""
    given = [0.95] * 6 + [0.35] * 9 + [0.55] * 7 + [0.2] * 5 + [0.75] * 6
    texts_none = ["please help me, I need support", "why kill the bomb plan",
                  "thanks for the care and trust", "they attack and destroy it",
                  "we respect and protect peace"]
    lines = []
    for i in range(48):
        turn = "tell me about trip number %d to the sea" % i
        req = {"request_id": "%s-r%02d" % (session, i), "session_id": session,
               "tenant": "acme", "op": "TOP_K", "context_top_k": K,
               "turns": ["hello there", turn]}
        if i < len(given):
            req["moral_value"] = given[i]
        else:
            req["turns"] = ["hello there", texts_none[i % len(texts_none)] + " " + turn]
        lines.append(json.dumps(req))
    print("\n".join(lines))


def lexicon_score(words_dir, turns):
    def load(name):
        with open("%s/%s.txt" % (words_dir, name)) as f:
            return {w.strip().lower() for w in f if w.strip() and not w.startswith("#")}
    harm, care = load("harm"), load("care")
    words = [w.strip("'").lower() for t in turns for w in re.findall(r"[A-Za-z0-9']+", t)]
    h = sum(w in harm for w in words)
    c = sum(w in care for w in words)
    return min(1.0, max(0.0, float(Fraction(4, 5) - Fraction(3, 20) * h + Fraction(1, 20) * c)))


def words(text):
    return [w for w in (x.strip("'") for x in re.findall(r"[A-Za-z0-9']+", text)) if w]


def fnv(h, word):
    for c in word.lower().encode():
        h = ((h ^ c) * FNV_PRIME) % M64
    return h


def embed(text):
    v, prev = [0.0] * DIM, 0
    for w in words(text):
        h = fnv(FNV_OFFSET, w)
        feats = [h] + ([fnv(((prev ^ 0x1F) * FNV_PRIME) % M64, w)] if prev else [])
        for f in feats:
            v[f % DIM] += -1.0 if f >> 63 else 1.0
        prev = h
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else v


def context_errors(got, memories, query, phase):
    """What is wrong with a result's context, given the (id, vector)
    memories of its phase and its query vector."""
    ctx = got.get("context")
    if ctx is None:
        return ["no context field"]
    errors = []
    score = {mid: sum(a * b for a, b in zip(query, vec)) for mid, vec in memories}
    if len(ctx) != got["context_items"]:
        errors.append("%d context entries for context_items %d" % (len(ctx), got["context_items"]))
    for i, c in enumerate(ctx):
        if c["memory_id"] not in score:
            errors.append("entry %d: %s is no %s memory" % (i, c["memory_id"], phase))
        elif abs(c["score"] - score[c["memory_id"]]) > 1e-5:
            errors.append("entry %d: score %.9g, cosine %.9g" % (i, c["score"], score[c["memory_id"]]))
        if c["phase"] != phase:
            errors.append("entry %d: phase %s" % (i, c["phase"]))
        if i and c["score"] > ctx[i - 1]["score"]:
            errors.append("entry %d: scores not descending" % i)
    named = {c["memory_id"] for c in ctx}
    if ctx and any(s > ctx[-1]["score"] + 1e-5 for m, s in score.items() if m not in named):
        errors.append("a better memory was left out")
    return errors


def check(words_dir, script_path, results_path):
    reqs = [json.loads(l) for l in open(script_path)]
    res = {r["request_id"]: r for r in map(json.loads, open(results_path))}
    t20, ema = 10, Fraction(1, 2)
    mems = {"WAKE": [], "SLEEP": []}
    buffered = []
    failures = named = 0
    for step, req in enumerate(reqs, start=1):
        v = req.get("moral_value")
        if v is None:
            v = lexicon_score(words_dir, req["turns"])
        threshold = t20 / 20.0
        accepted = v >= 0.9 or (v >= 0.3 and v >= threshold)
        ema = Fraction(1, 10) * (1 if accepted else 0) + Fraction(9, 10) * ema
        if ema - Fraction(1, 2) > Fraction(1, 20):
            t20 = min(18, t20 + 1)
        elif ema - Fraction(1, 2) < -Fraction(1, 20):
            t20 = max(6, t20 - 1)
        phase = "WAKE" if (step - 1) % (WAKE + SLEEP) < WAKE else "SLEEP"
        context = 0
        query = embed(req["turns"][-1])
        pool = list(mems[phase])  # as the request found them
        if accepted:
            context = min(K, len(pool))
            if v >= 0.5:
                if phase == "WAKE":
                    mems["WAKE"].append((req["request_id"], query))
                buffered.append((req["request_id"], query))
        if step % (WAKE + SLEEP) == WAKE:  # this step enters sleep
            mems["SLEEP"] += buffered
            buffered = []
        want = {"step": step, "phase": phase, "accepted": accepted,
                "moral_threshold": threshold, "moral_value": v, "context_items": context}
        got = res.get(req["request_id"])
        if got is None:
            print("missing result for %s" % req["request_id"])
            failures += 1
            continue
        diff = {k: (got[k], w) for k, w in want.items()
                if (abs(got[k] - w) > 1e-12 if isinstance(w, float) else got[k] != w)}
        if diff:
            failures += 1
            print("step %d: got vs expected %s" % (step, diff))
        errors = (context_errors(got, pool, query, phase) if accepted
                  else [] if got.get("context") == [] else ["a rejected request named memories"])
        if errors:
            failures += 1
            print("step %d: context: %s" % (step, "; ".join(errors)))
        named += len(got.get("context") or [])
    thresholds = sorted({r["moral_threshold"] for r in res.values()})
    contexts = [res[r["request_id"]]["context_items"] for r in reqs if r["request_id"] in res]
    print("checked %d results: thresholds seen %s, context_items %s, %d memories named"
          % (len(reqs), thresholds, contexts, named))
    return 1 if failures or not named else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["script"]:
        script(sys.argv[2])
    elif sys.argv[1:2] == ["check"]:
        sys.exit(check(*sys.argv[2:5]))
    else:
        sys.exit(__doc__)
