#!/usr/bin/env python3
"""govstream's Python reference pipeline (SPEC 8).

The dialogue governance path (no model) built the way a Python team would
build it with confluent-kafka, fastavro and numpy, so that bench/ can measure
it next to the C worker on the same broker and the same input. It computes the
same thing as `govstream run` without a model (bench/python/check_equivalence.sh
proves it); it is our own code, written from SPEC.md.

Per message: size limit -> strict wire check + fastavro decode -> SPEC 1.1
validation -> governance (moral value, adaptive filter, wake/sleep rhythm) ->
memory (embedding, PELM retrieval and writes, consolidation, synaptic memory)
-> DialogueResult, or one DeadLetter for bad input. Offsets are stored only
after the broker acknowledged every record of a batch and the batches before
it (at-least-once); librdkafka's auto-commit sends what is stored.

    reference.py --bootstrap 127.0.0.1:9092 --input T --results R --deadletter D \\
                 --group G [--memory-capacity 20000] [--no-memory] [--expect N]
"""
import os

# One BLAS thread, as govstream sets for itself: a fair comparison, and the
# broker needs the other core. Must happen before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from functools import lru_cache  # noqa: E402

import fastavro  # noqa: E402
import numpy as np  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402

log = logging.getLogger("reference")

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# SPEC 1.1 limits.
MAX_ID_BYTES = 128
MAX_TURNS = 64
MAX_TEXT_BYTES = 10_000
INT_FIELD_RANGES = (("top_k", 1, 20), ("max_tokens", 1, 256), ("context_top_k", 1, 20))

# ---------------------------------------------------------------------------
# Words (as include/govstream/text.h): runs of ASCII letters, digits and
# apostrophes and of non-ASCII characters other than punctuation and symbols;
# apostrophes around a run are not part of the word. Case folding is ASCII
# only ("É" stays "É"), as in the C lexicon and embedding.

_WORD_CHARS = (
    "0-9A-Za-z'"
    "\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1fff"  # Latin-1 letters and beyond
    "\u2070-\u218f"  # after General Punctuation, before Arrows
    "\u2c00-\u2fff"  # after the symbol blocks, before CJK punctuation
    "\u3040-\ufe2f"  # CJK and the rest of the BMP up to CJK compatibility forms
    "\ufe50-\uff00\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\U0010ffff"  # full-width letters and digits
)
_WORD_RUN = re.compile(f"[{_WORD_CHARS}]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def words(text):
    """The words of text, ASCII-lower-cased."""
    runs = _WORD_RUN.findall(text.translate(_ASCII_LOWER))
    if "'" in text:
        runs = [w for w in (run.strip("'") for run in runs) if w]
    return runs


# ---------------------------------------------------------------------------
# Lexicon moral scorer (SPEC 3.2), exact in twentieths:
# 0.8 - 0.15 per harm word + 0.05 per care word = (16 - 3h + c) / 20.


def _read_word_list(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if any(c.isspace() for c in line) or len(line.encode()) >= 48:
                raise ValueError(f"{path}:{lineno}: {line!r}: one word of 1..47 bytes per line")
            out.append(line.translate(_ASCII_LOWER))
    return out


class Lexicon:
    def __init__(self, harm_path, care_path):
        self.weight = {}
        for path, weight in ((harm_path, -1), (care_path, +1)):
            for w in _read_word_list(path):
                if self.weight.get(w, weight) != weight:
                    raise ValueError(f"lexicon word {w!r} is in both the harm and care lists")
                self.weight[w] = weight

    def score(self, texts):
        harm = care = 0
        get = self.weight.get
        for text in texts:
            for w in words(text):
                k = get(w)
                if k is not None:
                    if k < 0:
                        harm += 1
                    else:
                        care += 1
        return min(max(16 - 3 * harm + care, 0), 20) / 20.0


# ---------------------------------------------------------------------------
# Moral filter (SPEC 3.1) and rhythm (SPEC 3.3).

T20_MIN, T20_MAX, T20_INIT = 6, 18, 10  # threshold in twentieths: 0.30, 0.90, 0.50
ACCEPT_ALWAYS, REJECT_BELOW = 0.90, 0.30
# The +-0.05 dead band applies to the exact error; 1e-9 absorbs float noise
# (the first acceptance gives ema 0.55, an error of 0.05000000000000004 in
# doubles, which must not move the threshold). See docs/ARCHITECTURE.md.
BAND = 0.05 + 1e-9


class MoralFilter:
    __slots__ = ("t20", "ema")

    def __init__(self):
        self.t20 = T20_INIT
        self.ema = 0.5

    @property
    def threshold(self):
        return self.t20 / 20.0

    def evaluate(self, v):
        if v >= ACCEPT_ALWAYS:
            return True
        if v < REJECT_BELOW:
            return False
        return v >= self.t20 / 20.0

    def adapt(self, accepted):
        self.ema = 0.1 * (1.0 if accepted else 0.0) + 0.9 * self.ema
        err = self.ema - 0.5
        if err > BAND and self.t20 < T20_MAX:
            self.t20 += 1
        elif err < -BAND and self.t20 > T20_MIN:
            self.t20 -= 1


WAKE, SLEEP = "WAKE", "SLEEP"


class Rhythm:
    """Advances on every governed request, so a scope always leaves sleep."""

    __slots__ = ("wake", "period", "pos", "steps")

    def __init__(self, wake_steps, sleep_steps):
        self.wake = max(wake_steps, 1)
        self.period = self.wake + max(sleep_steps, 1)
        self.pos = 0
        self.steps = 0

    @property
    def phase(self):
        return WAKE if self.pos < self.wake else SLEEP

    def step(self):
        """Advances one request; True when this step entered sleep."""
        self.steps += 1
        self.pos = (self.pos + 1) % self.period
        return self.pos == self.wake


# ---------------------------------------------------------------------------
# Embedding (SPEC 3.4, as src/govern/embed.c): signed feature hashing of word
# unigrams and bigrams into 384 dims with FNV-1a 64; the top bit of the hash
# is the sign. A bigram hashes the previous word's hash, a separator byte and
# the word.

DIM = 384
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF


def _fnv1a(data, h):
    for c in data:
        h = ((h ^ c) * FNV_PRIME) & MASK64
    return h


# Hashing in pure Python is the slow part of embedding; words repeat, so
# their features are cached.
@lru_cache(maxsize=1 << 16)
def _unigram(word):
    """(hash, dim, sign) of a word."""
    h = _fnv1a(word.encode("utf-8"), FNV_OFFSET)
    return h, h % DIM, -1 if h >> 63 else 1


@lru_cache(maxsize=1 << 16)
def _bigram(prev_hash, word):
    h = _fnv1a(word.encode("utf-8"), ((prev_hash ^ 0x1F) * FNV_PRIME) & MASK64)
    return h % DIM, -1 if h >> 63 else 1


def embed_batch(texts):
    """Embeddings of texts, (n, 384) float32, L2-normalised; a text without
    words gives a zero row. Also returns the norms before normalisation."""
    flat_idx, signs = [], []
    for row, text in enumerate(texts):
        base = row * DIM
        prev = 0  # 0: no previous word (as the C code; a zero hash is 2^-64 rare)
        for w in words(text):
            h, d, s = _unigram(w)
            flat_idx.append(base + d)
            signs.append(s)
            if prev:
                d, s = _bigram(prev, w)
                flat_idx.append(base + d)
                signs.append(s)
            prev = h
    n = len(texts)
    counts = np.bincount(np.asarray(flat_idx, dtype=np.intp), weights=np.asarray(signs, dtype=np.float64),
                         minlength=n * DIM).reshape(n, DIM)
    # Counts are small integers, so this matches the C float arithmetic bit
    # for bit: a double sum of squares, a float norm, a float reciprocal.
    norms = np.sqrt(np.einsum("ij,ij->i", counts, counts)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(norms > 0, np.float32(1) / norms, np.float32(0)).astype(np.float32)
    return counts.astype(np.float32) * inv[:, None], norms


# ---------------------------------------------------------------------------
# Memory (SPEC 3.4).

PHASE_VALUE = {WAKE: np.float32(0.1), SLEEP: np.float32(0.9)}
FLOAT32_MAX = float(np.finfo(np.float32).max)
PHASE_TOL = np.float32(0.15) + np.float32(1e-6)  # as pelm.c: float noise is not a miss
MIN_CONFIDENCE = 0.5
CONSOLIDATED_CONFIDENCE = float(np.float32(0.8))


class PELM:
    """Phase-entangled lattice memory: a preallocated float32 ring of unit
    rows with per-slot phase, confidence and original norm; FIFO eviction
    once full."""

    def __init__(self, capacity, dim=DIM):
        self.capacity = capacity
        self.bank = np.zeros((capacity, dim), dtype=np.float32)  # pages are touched lazily
        self.phase = np.zeros(capacity, dtype=np.float32)
        self.conf = np.zeros(capacity, dtype=np.float32)
        self.norm = np.zeros(capacity, dtype=np.float32)
        self.ids = [""] * capacity  # the request_id that wrote each slot
        self.size = 0
        self.head = 0  # the oldest slot once full: the next to replace

    def insert(self, vec, phase, confidence, memory_id):
        """Stores vec (any non-zero norm); returns the slot, or None when
        refused (low confidence, bad phase, zero or non-finite vector)."""
        if not (MIN_CONFIDENCE <= confidence <= 1.0 and 0.0 <= phase <= 1.0):
            return None
        v64 = vec.astype(np.float64)
        norm = math.sqrt(v64.dot(v64))  # normalised in double, as pelm.c
        if not 0 < norm <= FLOAT32_MAX:
            return None
        if self.size < self.capacity:
            slot = self.size
            self.size += 1
        else:
            slot = self.head
            self.head = (self.head + 1) % self.capacity
        self.bank[slot] = v64 * (1.0 / norm)
        self.phase[slot] = phase
        self.conf[slot] = confidence
        self.norm[slot] = norm
        self.ids[slot] = memory_id
        return slot


class Synaptic:
    """Three-level synaptic memory: decay, then element-wise transfer of
    L1 above 1.2 to L2 and of L2 above 2.5 to L3."""

    DECAY = tuple(np.float32(1) - np.float32(x) for x in (0.50, 0.10, 0.01))
    THETA1, THETA2 = np.float32(1.2), np.float32(2.5)
    GATE12, GATE23 = np.float32(0.45), np.float32(0.30)

    def __init__(self, dim=DIM):
        self.l1 = np.zeros(dim, dtype=np.float32)
        self.l2 = np.zeros(dim, dtype=np.float32)
        self.l3 = np.zeros(dim, dtype=np.float32)

    def update(self, e):
        d1, d2, d3 = self.DECAY
        l1, l2, l3 = self.l1, self.l2, self.l3
        l1 *= d1
        l1 += e
        l2 *= d2
        l3 *= d3
        # "where L1 > theta1 move gate * L1": the amount is zeroed elsewhere,
        # which leaves those elements bit for bit as they were
        moved = l1 * self.GATE12
        moved *= l1 > self.THETA1
        l1 -= moved
        l2 += moved
        np.multiply(l2, self.GATE23, out=moved)
        moved *= l2 > self.THETA2
        l2 -= moved
        l3 += moved


class Scope:
    """All governance state of one tenant."""

    def __init__(self, capacity, wake_steps, sleep_steps):
        self.moral = MoralFilter()
        self.rhythm = Rhythm(wake_steps, sleep_steps)
        self.pelm = PELM(capacity)
        self.synaptic = Synaptic()
        self.buffer = []  # (vector, confidence, memory id) written since the last consolidation
        self.buffer_cap = self.rhythm.period
        # Retrieval within one batch (see Governor.memory): scores of this
        # scope's queries against the bank as it was, and the slots written since.
        self.block = None  # (scores matrix, {request index: row}, bank size then)
        self.dirty = []  # slots written since (repeats are harmless)


class Request:
    """One valid request on its way through governance."""

    __slots__ = ("msg", "rec", "decode_us", "scope", "accepted", "note", "phase", "step",
                 "threshold", "moral_value", "commit", "entered_sleep", "context", "query")

    def __init__(self, msg, rec, decode_us):
        self.msg = msg
        self.rec = rec
        self.decode_us = decode_us
        self.context = []  # (memory id, score, phase) of what was retrieved
        self.query = None


class Governor:
    """The governance core over scopes (tenants, or sessions). Unlike the C
    worker it never evicts a scope (LRU, idle or memory budget): benchmarks
    stay far below those limits."""

    def __init__(self, lexicon, capacity, wake_steps=8, sleep_steps=3, sleep_policy="degrade",
                 memory=True, scope_by="tenant"):
        self.lexicon = lexicon
        self.scope_by = scope_by
        self.capacity = capacity
        self.wake_steps, self.sleep_steps = wake_steps, sleep_steps
        self.sleep_policy = sleep_policy
        self.memory_enabled = memory
        self.scopes = {}

    def scope(self, key):
        s = self.scopes.get(key)
        if s is None:
            s = self.scopes[key] = Scope(self.capacity, self.wake_steps, self.sleep_steps)
        return s

    def decide(self, reqs):
        """Moral value -> evaluate -> adapt -> rhythm, per request in order.
        Nothing here depends on memory."""
        for r in reqs:
            rec = r.rec
            s = r.scope = self.scope(rec[self.scope_by])
            v = rec["moral_value"]
            if v is None:
                v = self.lexicon.score(rec["turns"])
            r.moral_value = v
            r.threshold = s.moral.threshold
            accepted = s.moral.evaluate(v)
            s.moral.adapt(accepted)  # on every evaluated request
            r.phase = s.rhythm.phase
            r.note = "processed" if accepted else "morally rejected"
            if r.phase == SLEEP and self.sleep_policy == "reject" and accepted:
                accepted = False
                r.note = "sleep phase"
            r.accepted = r.commit = accepted
            r.entered_sleep = s.rhythm.step()
            r.step = s.rhythm.steps

    def memory(self, reqs):
        """Retrieval, writes and consolidation, request by request in order.

        Retrieval is batched: the first query of a scope in the batch scores
        all of that scope's queries of the batch against its bank in one
        matmul. Slots written after that are marked dirty and rescored
        against their current content by each later query, so every request
        sees memory exactly as one-by-one processing would."""
        if not self.memory_enabled:
            return
        queries = [r for r in reqs if r.accepted]
        if queries:
            emb, norms = embed_batch([r.rec["turns"][-1] for r in queries])
            for r, e, n in zip(queries, emb, norms):
                if n > 0:
                    r.query = e
        for i, r in enumerate(reqs):
            s = r.scope
            if r.query is not None:
                if s.block is None:
                    self._score_block(s, reqs, i)
                r.context = self._retrieve(s, i, r)
            if r.commit:
                self._commit(s, r)
            if r.entered_sleep:
                for vec, _, mid in s.buffer:  # re-committed as sleep memories
                    self._insert(s, vec, PHASE_VALUE[SLEEP], CONSOLIDATED_CONFIDENCE, mid)
                s.buffer.clear()
        for r in reqs:
            r.scope.block = None
            r.scope.dirty.clear()

    @staticmethod
    def _score_block(s, reqs, first):
        mine = [j for j in range(first, len(reqs)) if reqs[j].scope is s and reqs[j].query is not None]
        size = s.pelm.size
        q = np.stack([reqs[j].query for j in mine])
        scores = q @ s.pelm.bank[:size].T  # one BLAS call for the scope's whole batch
        s.block = (scores, {j: row for row, j in enumerate(mine)}, size)
        s.dirty.clear()

    @staticmethod
    def _retrieve(s, i, r):
        """The top-context_top_k cosine search among the slots of the
        query's phase (descending, ties by lower slot): (id, score, phase)."""
        scores_block, rows, size0 = s.block
        pelm = s.pelm
        n = pelm.size
        if not n:
            return []
        scores = scores_block[rows[i]]  # this request's own row: free to update
        if s.dirty:
            if n > size0:
                scores = np.concatenate((scores, np.empty(n - size0, dtype=np.float32)))
            scores[s.dirty] = pelm.bank[s.dirty] @ r.query
        candidates = np.abs(pelm.phase[:n] - PHASE_VALUE[r.phase]) <= PHASE_TOL
        k = min(r.rec["context_top_k"], int(np.count_nonzero(candidates)))
        if not k:
            return []
        masked = np.where(candidates, scores, -np.inf)
        if n <= 4096:  # a stable sort puts ties in slot order
            hits = np.argsort(-masked, kind="stable")[:k]
        else:  # partition, then settle ties at the k-th score by slot
            kth = masked[np.argpartition(-masked, k - 1)[:k]].min()
            above = np.flatnonzero(masked > kth)
            hits = np.concatenate((above, np.flatnonzero(masked == kth)[:k - len(above)]))
            hits = hits[np.lexsort((hits, -masked[hits]))]
        return [(pelm.ids[h], float(masked[h]), SLEEP if pelm.phase[h] > 0.5 else WAKE) for h in hits]

    def _commit(self, s, r):
        """A write is as trusted as its request: confidence = moral value
        (stored as a float32, like the C code), refused below 0.5 before that
        rounding. Wake writes go to PELM and the consolidation buffer, sleep
        writes to the buffer only."""
        if not r.moral_value >= MIN_CONFIDENCE or r.query is None:  # no words: nothing to remember
            return
        conf = float(np.float32(r.moral_value))
        if r.phase == WAKE:
            self._insert(s, r.query, PHASE_VALUE[WAKE], conf, r.rec["request_id"])
        if len(s.buffer) < s.buffer_cap:
            s.buffer.append((r.query, conf, r.rec["request_id"]))

    @staticmethod
    def _insert(s, vec, phase, conf, memory_id):
        slot = s.pelm.insert(vec, phase, conf, memory_id)
        if slot is not None:
            if s.block is not None:
                s.dirty.append(slot)
            s.synaptic.update(vec)


# ---------------------------------------------------------------------------
# Avro. fastavro trusts more than the C worker does: it accepts trailing
# bytes, negative enum and union indices (Python list indexing) and ints
# beyond 32 bits. So, as the C worker does (gs_avro_check), each value is
# first walked against the schema without decoding; then fastavro decodes it.


class WireError(ValueError):
    pass


def _varint(buf, pos):
    """Zig-zag varint at pos -> (value, next pos); at most 10 bytes."""
    v = shift = 0
    end = len(buf)
    while shift < 70:
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            v &= MASK64
            return (v >> 1) ^ -(v & 1), pos
        shift += 7
    raise WireError("varint longer than 10 bytes")


def _compile(schema, named, namespace):
    """(checker, fewest bytes a value takes) for schema. The checker is a
    function (buf, pos) -> end pos that raises WireError wherever the C walker
    (src/codec/avro.c) refuses the bytes. named maps the full names of
    records, enums and fixed types to the same pairs."""

    # The checkers read one-byte varints inline (most are); buf[pos] past
    # the end raises IndexError, which decode() reports as truncation.
    def length(buf, pos):
        b = buf[pos]
        n, pos = ((b >> 1) ^ -(b & 1), pos + 1) if b < 0x80 else _varint(buf, pos)
        if n < 0:
            raise WireError("negative length")
        if n > len(buf) - pos:
            raise WireError("length runs past the end of the message")
        return pos + n

    def fixed_size(size):
        def check(buf, pos):
            if len(buf) - pos < size:
                raise WireError("truncated value")
            return pos + size
        return check

    def int32(buf, pos):
        if buf[pos] < 0x80:
            return pos + 1
        v, pos = _varint(buf, pos)
        if not -(1 << 31) <= v < (1 << 31):
            raise WireError("int out of range")
        return pos

    def long(buf, pos):
        return pos + 1 if buf[pos] < 0x80 else _varint(buf, pos)[1]

    def boolean(buf, pos):
        if pos >= len(buf):
            raise WireError("truncated boolean")
        if buf[pos] > 1:
            raise WireError("boolean byte is not 0 or 1")
        return pos + 1

    primitives = {"null": (lambda buf, pos: pos, 0), "boolean": (boolean, 1), "int": (int32, 1),
                  "long": (long, 1), "float": (fixed_size(4), 4), "double": (fixed_size(8), 8),
                  "string": (length, 1), "bytes": (length, 1)}

    if isinstance(schema, list):  # a union
        branches = [_compile(b, named, namespace)[0] for b in schema]

        def union(buf, pos):
            b = buf[pos]
            i, pos = ((b >> 1) ^ -(b & 1), pos + 1) if b < 0x80 else _varint(buf, pos)
            if not 0 <= i < len(branches):
                raise WireError("union branch out of range")
            return branches[i](buf, pos)
        return union, 1
    if isinstance(schema, str):
        if schema in primitives:
            return primitives[schema]
        ref = named.get(schema) or named.get(f"{namespace}.{schema}")
        if ref is None:
            raise ValueError(f"unknown Avro type {schema}")
        return ref
    t = schema["type"]
    if t in primitives:
        return primitives[t]
    if t in ("record", "enum", "fixed"):
        namespace = schema.get("namespace", namespace)
        name = schema["name"]
        full = name if "." in name or not namespace else f"{namespace}.{name}"
    if t == "record":
        fields = [_compile(f["type"], named, namespace) for f in schema["fields"]]
        checkers = tuple(f for f, _ in fields)

        def record(buf, pos):
            for check in checkers:
                pos = check(buf, pos)
            return pos
        named[full] = (record, sum(size for _, size in fields))
        return named[full]
    if t == "enum":
        n_symbols = len(schema["symbols"])

        def enum(buf, pos):
            b = buf[pos]
            i, pos = ((b >> 1) ^ -(b & 1), pos + 1) if b < 0x80 else _varint(buf, pos)
            if not 0 <= i < n_symbols:
                raise WireError("enum index out of range")
            return pos
        named[full] = (enum, 1)
        return named[full]
    if t == "fixed":
        named[full] = (fixed_size(schema["size"]), schema["size"])
        return named[full]
    if t in ("array", "map"):
        is_map = t == "map"
        item, item_size = _compile(schema["values" if is_map else "items"], named, namespace)
        per_item = item_size + is_map  # a map entry also has a key of at least 1 byte

        def blocks(buf, pos):
            total = 0
            while True:
                b = buf[pos]
                count, pos = ((b >> 1) ^ -(b & 1), pos + 1) if b < 0x80 else _varint(buf, pos)
                if count == 0:
                    return pos
                if count < 0:  # a block with its byte size
                    count = -count
                    size, pos = _varint(buf, pos)
                    if size < 0 or size > len(buf) - pos:
                        raise WireError("invalid block byte size")
                total += count
                # bounded by what the bytes can hold, so a huge count cannot spin
                if (per_item and count > (len(buf) - pos) // per_item) or total > 10_000_000:
                    raise WireError("block count larger than the message can hold")
                for _ in range(count):
                    if is_map:
                        pos = length(buf, pos)
                    pos = item(buf, pos)
        return blocks, 1
    raise ValueError(f"unsupported Avro type {t}")


def _without_logical_types(schema):
    """schema with timestamp-millis and the like read and written as their
    plain type: the pipeline keeps epoch milliseconds as ints (fastavro would
    make datetimes, and refuse ones beyond year 9999 that the C worker takes)."""
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


class Codec:
    """The schemas of schemas/ (with the shared named types of
    schemas/common/, when there are any) for fastavro and the wire check."""

    def __init__(self, schema_dir):
        def load(path):
            with open(path, encoding="utf-8") as f:
                return _without_logical_types(json.load(f))
        named = {}
        common_dir = os.path.join(schema_dir, "common")
        pending = [load(os.path.join(common_dir, n)) for n in sorted(os.listdir(common_dir))
                   if n.endswith(".avsc")] if os.path.isdir(common_dir) else []
        checker_named = {}
        while pending:  # shared types may use each other: parse in dependency order
            left = []
            for schema in pending:
                try:
                    fastavro.parse_schema(schema, named_schemas=named)
                    _compile(schema, checker_named, "")
                except fastavro.schema.UnknownType:
                    left.append(schema)
            if len(left) == len(pending):
                raise ValueError(f"{common_dir}: unresolvable types in {[s.get('name') for s in left]}")
            pending = left

        def parse(name):
            return fastavro.parse_schema(load(os.path.join(schema_dir, f"{name}.avsc")), named_schemas=named)
        request = load(os.path.join(schema_dir, "DialogueRequest.avsc"))
        self.check = _compile(request, checker_named, "")[0]
        self.request = fastavro.parse_schema(request, named_schemas=named)
        self.result = parse("DialogueResult")
        self.deadletter = parse("DeadLetter")

    def decode(self, value):
        """The request record; WireError for bytes the C worker refuses."""
        try:
            end = self.check(value, 0)
        except IndexError:
            raise WireError("truncated value") from None
        if end != len(value):
            raise WireError("trailing bytes after the record")
        # Invalid UTF-8 is a validation error (as in the C worker), not a
        # decode error: keep the bytes as surrogates for validate() to find.
        return fastavro.schemaless_reader(io.BytesIO(value), self.request, None,
                                          handle_unicode_errors="surrogateescape")

    def encode(self, schema, record):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, record)
        return out.getvalue()


def _utf8_len(s):
    """Byte length of s, or None when it is not valid UTF-8 text without NUL."""
    if "\0" in s:
        return None
    if s.isascii():
        return len(s)
    try:
        return len(s.encode("utf-8"))  # surrogates (invalid input bytes) fail here
    except UnicodeEncodeError:
        return None


def validate(rec):
    """SPEC 1.1 limits, in the C worker's order; returns an error message or None."""
    for field in ("request_id", "session_id", "tenant"):
        n = _utf8_len(rec[field])
        if n is None:
            return f"{field}: not valid UTF-8 text"
        if not 1 <= n <= MAX_ID_BYTES:
            return f"{field}: length {n}, must be 1..{MAX_ID_BYTES} bytes"
    for field, lo, hi in INT_FIELD_RANGES:
        if not lo <= rec[field] <= hi:
            return f"{field}: {rec[field]}, must be {lo}..{hi}"
    turns = rec["turns"]
    if not 1 <= len(turns) <= MAX_TURNS:
        return f"turns: {len(turns)} turns, must be 1..{MAX_TURNS}"
    total = 0
    for i, t in enumerate(turns):
        n = _utf8_len(t)
        if n is None:
            return f"turns[{i}]: not valid UTF-8 text"
        total += n
    if total > MAX_TEXT_BYTES:
        return f"turns: {total} bytes in total, limit {MAX_TEXT_BYTES}"
    v = rec["moral_value"]
    if v is not None and not 0.0 <= v <= 1.0:
        return "moral_value: NaN, must be in [0,1]" if v != v else "moral_value: out of range, must be in [0,1]"
    if rec["created_at_ms"] < 0:
        return "created_at_ms: negative"
    return None


# ---------------------------------------------------------------------------
# The stream.


class Batch:
    """Outputs of one consumed batch; its offsets may be stored once the
    broker acknowledged all of them (and every earlier batch's)."""

    __slots__ = ("pending", "offsets", "failed", "retry_at", "backoff", "worker")

    def __init__(self, worker, offsets, n):
        self.worker = worker
        self.offsets = offsets  # {(topic, partition): next offset}
        self.pending = n
        self.failed = []  # refused records, produced again after a backoff
        self.retry_at = 0.0
        self.backoff = 0.1

    def on_delivery(self, err, msg):
        if err is None:
            self.pending -= 1
            self.worker.delivered += 1
        else:
            # message.timeout.ms=0 makes this rare (a permanent broker error):
            # produce it again, and the offset waits.
            log.warning("delivery failed, retrying in %.1f s: %s", self.backoff, err)
            self.failed.append((msg.topic(), msg.key(), msg.value()))
            self.retry_at = time.monotonic() + self.backoff
            self.backoff = min(self.backoff * 2, 10.0)


class Worker:
    def __init__(self, args):
        self.args = args
        self.codec = Codec(args.schemas)
        lexicon = Lexicon(os.path.join(args.lexicon_dir, "harm.txt"), os.path.join(args.lexicon_dir, "care.txt"))
        self.governor = Governor(lexicon, args.memory_capacity, args.wake_steps, args.sleep_steps,
                                 args.sleep_policy, memory=not args.no_memory,
                                 scope_by="session_id" if args.scope == "session" else "tenant")
        self.batches = deque()
        self.delivered = 0
        self.produced = 0
        self.deadletters = {}
        self.running = True
        kafka_log = logging.getLogger("librdkafka")
        common = {"bootstrap.servers": args.bootstrap, "client.id": "govstream-python-ref",
                  "logger": kafka_log, "error_cb": lambda e: log.info("kafka: %s", e)}
        # The C worker's client settings (src/kafka/client.c).
        self.consumer = Consumer({
            **common,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.auto.commit": True,  # commits what store_offsets stored, every second
            "auto.commit.interval.ms": 1000,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
        })
        self.producer = Producer({
            **common,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 0,  # never give up on a result
        })

    # ---- per batch --------------------------------------------------------

    def process(self, msgs):
        """One output (topic, key, value) per message, in order."""
        t0 = time.perf_counter()
        wall_ms = int(time.time() * 1000)
        outputs = [None] * len(msgs)
        valid = []
        prev = t0
        for i, m in enumerate(msgs):
            value = m.value()
            error = None
            if value is None:
                error = ("DECODE", "message has no value")
            elif len(value) > self.args.max_request_bytes:
                error = ("TOO_LARGE", f"value of {len(value)} bytes exceeds {self.args.max_request_bytes}")
            else:
                try:
                    rec = self.codec.decode(value)
                except Exception as e:  # fastavro raises EOFError, IndexError, ValueError...
                    error = ("DECODE", f"invalid Avro: {e}")
                else:
                    problem = validate(rec)
                    if problem:
                        error = ("VALIDATION", problem)
            now = time.perf_counter()
            if error:
                outputs[i] = self.deadletter(m, *error, wall_ms)
            else:
                valid.append((i, Request(m, rec, int((now - prev) * 1e6))))
            prev = now

        reqs = [r for _, r in valid]
        self.governor.decide(reqs)
        self.governor.memory(reqs)
        t_done = time.perf_counter()
        govern_us = int((t_done - prev) * 1e6 / len(reqs)) if reqs else 0
        total_us = int((t_done - t0) * 1e6)
        results_topic = self.args.results
        for i, r in valid:
            rec, m = r.rec, r.msg
            result = {
                "request_id": rec["request_id"], "session_id": rec["session_id"], "tenant": rec["tenant"],
                # governance only, as `govstream run` without a model: an accepted
                # request is answered accepted=false, note "no model"
                "accepted": False, "note": "no model" if r.accepted else r.note,
                "phase": r.phase, "step": r.step,
                "moral_threshold": r.threshold, "moral_value": r.moral_value,
                "context_items": len(r.context), "predictions": [], "text": None,
                "model": {"name": "", "version": "", "sha256": ""},
                "timings": {"decode_us": r.decode_us, "govern_us": govern_us, "infer_us": 0, "total_us": total_us},
                "source": {"topic": m.topic(), "partition": m.partition(), "offset": m.offset()},
                "worker_id": self.args.worker_id, "processed_at_ms": wall_ms,
                "context": [{"memory_id": mid, "score": score, "phase": phase}
                            for mid, score, phase in r.context],
            }
            outputs[i] = (results_topic, rec["session_id"].encode("utf-8"),
                          self.codec.encode(self.codec.result, result))
        return outputs

    def deadletter(self, m, error_class, message, wall_ms):
        self.deadletters[error_class] = self.deadletters.get(error_class, 0) + 1
        log.debug("dead letter %s[%d]@%d %s: %s", m.topic(), m.partition(), m.offset(), error_class, message)
        value = m.value()
        keep = self.args.max_value_bytes
        record = {
            "source": {"topic": m.topic(), "partition": m.partition(), "offset": m.offset()},
            "kind": "dialogue", "key": m.key(),
            "value": value[:keep] if value is not None else None,
            "value_size": len(value) if value is not None else 0,
            "value_truncated": value is not None and len(value) > keep,
            "schema_id": None, "error_class": error_class, "error_message": message,
            "worker_id": self.args.worker_id, "failed_at_ms": wall_ms,
        }
        return (self.args.deadletter, m.key(), self.codec.encode(self.codec.deadletter, record))

    # ---- Kafka ------------------------------------------------------------

    def produce(self, topic, key, value, callback):
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=callback)
                self.produced += 1
                return
            except BufferError:  # the producer queue is full: wait for acknowledgements
                self.producer.poll(0.05)

    def store_acknowledged(self):
        """Stores the offsets of the leading batches that are fully acknowledged."""
        offsets = {}
        while self.batches and self.batches[0].pending == 0:
            offsets.update(self.batches.popleft().offsets)
        now = time.monotonic()
        for b in self.batches:  # re-produce what the broker refused
            if b.failed and now >= b.retry_at:
                failed, b.failed = b.failed, []
                for topic, key, value in failed:
                    self.produce(topic, key, value, b.on_delivery)
        if offsets:
            try:
                self.consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()])
            except KafkaException as e:  # a partition revoked meanwhile: its new owner goes on
                log.info("store_offsets: %s", e)

    def drain(self, timeout_s):
        """Waits for every record in flight and stores its offsets."""
        deadline = time.monotonic() + timeout_s
        while self.batches and time.monotonic() < deadline:
            self.producer.flush(max(0.0, min(1.0, deadline - time.monotonic())))
            self.store_acknowledged()
            if self.batches and not len(self.producer):
                time.sleep(0.05)  # refused records wait for their retry

    def commit(self):
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit failed: %s", e)

    def on_revoke(self, consumer, partitions):
        # Finish what is in flight, then commit exactly what was acknowledged.
        self.drain(10.0)
        self.commit()
        log.info("revoked %s", [(p.topic, p.partition) for p in partitions])

    def on_lost(self, consumer, partitions):
        self.batches.clear()  # their offsets belong to the new owner now; nothing to commit
        log.info("lost %s", [(p.topic, p.partition) for p in partitions])

    def run(self):
        args = self.args
        self.consumer.subscribe([args.input], on_revoke=self.on_revoke, on_lost=self.on_lost,
                                on_assign=lambda c, ps: log.info("assigned %s", [(p.topic, p.partition) for p in ps]))
        linger = args.linger_ms / 1000.0
        while self.running and (args.expect is None or self.delivered < args.expect):
            # wait for the first message, then linger briefly to fill the batch
            msgs = self.consumer.consume(num_messages=1, timeout=0.1)
            if msgs:
                msgs += self.consumer.consume(num_messages=args.batch - 1, timeout=linger)
            msgs = [m for m in msgs if self._usable(m)]
            if msgs:
                offsets = {}
                for m in msgs:
                    offsets[(m.topic(), m.partition())] = m.offset() + 1
                batch = Batch(self, offsets, len(msgs))
                self.batches.append(batch)
                for topic, key, value in self.process(msgs):
                    self.produce(topic, key, value, batch.on_delivery)
            self.producer.poll(0)
            self.store_acknowledged()
        # SIGTERM, or --expect reached: flush, store, commit, leave the group.
        self.drain(27.0)
        self.commit()
        self.consumer.close()
        log.info("stopped: %d outputs delivered, dead letters %s", self.delivered, self.deadletters)

    @staticmethod
    def _usable(m):
        if m.error() is None:
            return True
        if m.error().code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", m.error())
        return False


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    p.add_argument("--input", required=True, help="DialogueRequest topic (raw Avro)")
    p.add_argument("--results", required=True, help="DialogueResult topic")
    p.add_argument("--deadletter", required=True, help="DeadLetter topic")
    p.add_argument("--group", required=True, help="consumer group id")
    p.add_argument("--memory-capacity", type=int, default=20000, help="PELM vectors per scope (default 20000)")
    p.add_argument("--no-memory", action="store_true", help="skip retrieval and memory writes (context_items 0)")
    p.add_argument("--batch", type=int, default=256, help="messages per batch (default 256)")
    p.add_argument("--linger-ms", type=float, default=1.0, help="wait this long to fill a batch (default 1)")
    p.add_argument("--wake-steps", type=int, default=8)
    p.add_argument("--sleep-steps", type=int, default=3)
    p.add_argument("--sleep-policy", choices=("degrade", "reject"), default="degrade")
    p.add_argument("--scope", choices=("tenant", "session"), default="tenant", help="state per tenant or per session")
    p.add_argument("--max-request-bytes", type=int, default=65536, help="larger values are TOO_LARGE")
    p.add_argument("--max-value-bytes", type=int, default=900000, help="original bytes kept in a dead letter")
    p.add_argument("--lexicon-dir", default=os.path.join(REPO, "config", "lexicon"), help="holds harm.txt and care.txt")
    p.add_argument("--schemas", default=os.path.join(REPO, "schemas"), help="folder of the .avsc files")
    p.add_argument("--worker-id", default="python-ref")
    p.add_argument("--expect", type=int, help="exit after this many outputs (results + dead letters) were delivered")
    p.add_argument("--verbose", "-v", action="count", default=0, help="log to stderr (-vv: debug)")
    args = p.parse_args(argv)
    if args.memory_capacity < 1 or args.batch < 1:
        p.error("--memory-capacity and --batch must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("librdkafka").setLevel(logging.ERROR)
    worker = Worker(args)

    def stop(signum, frame):
        worker.running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
