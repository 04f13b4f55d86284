#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<harness>/) and the
regression inputs of the defects the issue names (tests/fuzz/regressions/).

    build/tests/test_avrogen --dump /tmp/avd    # random records of every schema
    tests/fuzz/make_seeds.py /tmp/avd

Seeds: dialogue requests from unit.avrogen's seeded generator (raw and
Confluent framing), our schemas with records, a scope snapshot in the
documented format (src/govern/snapshot.c), model metadata, the shipped
configuration. Regressions: inputs that crashed, hung or allocated wildly
before their fixes. Everything is deterministic; the files are committed.
"""
import json
import math
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "tests", "fuzz")


def write(kind, harness, name, data):
    d = os.path.join(FUZZ, kind, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def records(dump, writer, limit):
    out = []
    with open(os.path.join(dump, "records.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if d["writer"] == writer and d["case"] == "record":
                out.append(bytes.fromhex(d["hex"]))
                if len(out) == limit:
                    break
    return out


def snapshot(capacity=8, size=2, key=b"tenant-0", wake=8, sleep=4, buf_cap=0, claim=None):
    """claim: the vector count the header says, when it is not size."""
    dim = 384
    b = bytearray(b"GSSN") + struct.pack("<HHII", 1, 0, dim, len(key)) + key
    b += struct.pack("<id", 12, 0.5)                     # threshold x20, ema
    b += struct.pack("<IIIQ", wake, sleep, 3, 3)          # rhythm
    b += struct.pack("<QQ", 2, 1) + b"\x00"              # counts, no synapse
    b += struct.pack("<II", buf_cap, 0)                   # write buffer
    b += struct.pack("<III", capacity, size if claim is None else claim, size % capacity)
    for s in range(size):
        b += struct.pack("<fff", 0.0, 0.9, 1.0)
        b += struct.pack("<%df" % dim, *[math.sin(s + i) / 20 for i in range(dim)])
    return bytes(b) + b"\0\0\0\0"                         # CRC: the harness writes it


def cl_record(key, payload, flags=1, seq=1, store=b"dialogue.scopes"):
    """One record of the changelog harness: framed as the state layer
    frames it (the harness writes the CRC when flags bit 0 is set)."""
    k = store + b"\0" + key
    v = b"" if payload is None else b"GSST" + struct.pack("<HHQ", 1, 0, seq) + payload + b"\0" * 4
    return struct.pack("<BHH", flags | (2 if payload is None else 0), len(k), len(v)) + k + v


def cl_header(size=2, head=0, wake=8, sleep=4, capacity=8):
    b = struct.pack("<BBHI", 1, 0, 0, 384)
    b += struct.pack("<id", 12, 0.5)                          # threshold x20, ema
    b += struct.pack("<III", wake, sleep, 3)                  # rhythm
    b += struct.pack("<QQQQ", 3, 2, 1, 0)                     # steps, accepted, rejected, at_bound
    b += struct.pack("<I", 0)                                 # no write buffer (no synapse)
    return b + struct.pack("<III", capacity, size, head)


def cl_slot(s):
    dim = 384
    v = [math.sin(s + i) for i in range(dim)]
    norm = math.sqrt(sum(x * x for x in v))
    b = struct.pack("<BBHI", 1, 0, 0, dim) + struct.pack("<fff", 0.0, 0.9, 2.0)
    return b + struct.pack("<%df" % dim, *[x / norm for x in v])


def nested_schema(depth):
    t = '"string"'
    for i in range(depth):
        t = '{"type":"record","name":"R%d","fields":[{"name":"f","type":%s}]}' % (i, t)
    return t


def dag_schema(levels, leaf='"string"'):
    """Record L<i> has two fields of type L<i-1>: 2^levels paths, each named
    type defined once."""
    t = '{"type":"record","name":"L0","fields":[{"name":"x","type":%s}]}' % leaf
    for i in range(1, levels + 1):
        t = ('{"type":"record","name":"L%d","fields":[{"name":"a","type":%s},'
             '{"name":"b","type":"L%d"}]}' % (i, t, i - 1))
    return ('{"type":"record","name":"DialogueRequest","fields":['
            '{"name":"request_id","type":"string"},{"name":"deep","type":%s}]}' % t)


META = {"name": "dialogue", "version": "1",
        "reservoir": {"units": 512, "input_nnz": 8, "density": 0.05, "radius": 0.9},
        "readout": {"code_dims": 256, "eps": 1e-6, "temperature": 1.3},
        "context_tokens": 128}


def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_str(s):
    b = s.encode()
    return zigzag(len(b)) + b


def avro_vec(v):
    return struct.pack("<ddd", *v)


def avro_array(items):
    return (zigzag(len(items)) + b"".join(items) + b"\x00") if items else b"\x00"


def intent_request(tag, hand, robot, velocity, targets=(), obstacles=(), horizon=500):
    """An IntentRequest in Avro binary (schemas/IntentRequest.avsc, field order)."""
    samples = [zigzag(t) + struct.pack("<ddd", x, y, z) for t, x, y, z in hand]
    tg = [avro_str(i) + avro_vec(p) for i, p in targets]
    ob = [avro_vec(p) + struct.pack("<d", r) for p, r in obstacles]
    return (avro_str("fuzz-" + tag) + avro_str("arm-" + tag) + avro_str("default") +
            avro_array(samples) + avro_vec(robot) + avro_vec(velocity) + avro_array(tg) +
            avro_array(ob) + zigzag(horizon) + zigzag(1700000000000))


def intent_seeds():
    """Valid intent requests that reach the deep path: a minimum-jerk reach
    to a target, a stop close to the robot, a wave, a mocap-rate hold."""
    def mj(s):
        s = min(max(s, 0.0), 1.0)
        return s ** 3 * (10 - 15 * s + 6 * s * s)
    reach = [(1000 + 33 * i, 1.05 - 0.4 * mj((i / 30 - 0.3) / 0.8), 0.1 * mj((i / 30 - 0.3) / 0.8), 0.1)
             for i in range(30)]
    wave = [(1000 + 33 * i, 0.9, 0.1 * math.sin(2 * math.pi * 2.2 * i / 30), 0.45) for i in range(60)]
    hold = [(1000 + 8 * i, 0.6 + 0.002 * math.sin(i), 0.0, 0.3) for i in range(256)]
    targets = [("cup", (0.65, 0.1, 0.02)), ("box", (0.7, -0.3, 0.0))]
    return [intent_request("reach", reach, (0.1, 0.0, 0.3), (0.2, 0.0, 0.0), targets),
            intent_request("stop", hold[:40], (0.3, 0.0, 0.3), (0.3, 0.1, 0.0), targets,
                           [((0.5, 0.2, 0.3), 0.1)]),
            intent_request("wave", wave, (0.0, 0.0, 0.3), (0.0, 0.0, 0.0), horizon=2000),
            intent_request("hold", hold, (-0.2, 0.3, 0.4), (0.0, 0.5, 0.0), targets * 16)]


def timbre_request(tag, rate, samples, clip, last, top_k=3):
    """A TimbreRequest in Avro binary (schemas/TimbreRequest.avsc, field order)."""
    pcm = b"".join(struct.pack("<h", max(-32768, min(32767, int(round(v * 32767))))) for v in samples)
    return (avro_str("fuzz-" + tag) + avro_str("rec-" + tag) + avro_str("default") + zigzag(rate) +
            zigzag(len(pcm)) + pcm + zigzag(clip) + (b"\x01" if last else b"\x00") + zigzag(top_k) +
            zigzag(1700000000000))


def timbre_seeds():
    """Valid timbre clips that reach the classifier: a decaying tone at 8 kHz
    (a first clip), a chirp at 22,050 Hz (the last clip of a recording) and
    0.26 s of a two-tone chord at 48 kHz."""
    tone = [0.5 * math.exp(-3 * i / 8000) * math.sin(2 * math.pi * 440 * i / 8000) for i in range(2400)]
    chirp = [0.3 * math.sin(2 * math.pi * (100 + 2000 * i / 11025) * i / 22050) for i in range(11025)]
    chord = [0.2 * (math.sin(2 * math.pi * 262 * i / 48000) + math.sin(2 * math.pi * 392 * i / 48000))
             for i in range(12480)]
    return [timbre_request("tone", 8000, tone, 0, False),
            timbre_request("tone", 22050, chirp, 1, True, 11),
            timbre_request("chord", 48000, chord, 0, True, 1)]


def main(dump):
    schema = open(os.path.join(ROOT, "schemas", "DialogueRequest.avsc"), "rb").read()
    v2 = open(os.path.join(ROOT, "tests", "data", "DialogueRequest_v2.avsc"), "rb").read()
    for i, r in enumerate(intent_seeds()):
        write("corpus", "request", "intent-%02d" % i, b"\x00" + r)
    for i, r in enumerate(timbre_seeds()):
        write("corpus", "request", "timbre-%02d" % i, b"\x00" + r)
    reqs = records(dump, "DialogueRequest", 16)
    for i, r in enumerate(reqs):
        write("corpus", "request", "raw-%02d" % i, b"\x00" + r)
        if i < 4:
            write("corpus", "request", "confluent-%02d" % i, b"\x01\x00\x00\x00\x00\x07" + r)
        if i < 6:
            write("corpus", "resolve", "ours-%02d" % i, schema + b"\x00" + r)
    with open(os.path.join(dump, "resolution.jsonl")) as f:
        for i, line in enumerate(f):
            if i == 6:
                break
            d = json.loads(line)
            w = open(os.path.join(ROOT, d["writer"]), "rb").read() if d["writer"].endswith(".avsc") else v2
            write("corpus", "resolve", "evolved-%02d" % i, w + b"\x00" + bytes.fromhex(d["hex"]))
    write("corpus", "snapshot", "two-vectors", b"\x01" + snapshot())
    write("corpus", "snapshot", "empty", b"\x01" + snapshot(size=0))
    slot = lambda s, scope=b"tenant-0": cl_record(struct.pack("<I", s) + scope, cl_slot(s),
                                                  seq=1 + s)
    write("corpus", "changelog", "scope-two-slots",
          slot(0) + slot(1) + cl_record(b"Htenant-0", cl_header(), seq=3))
    write("corpus", "changelog", "evicted",
          slot(0) + cl_record(b"Htenant-0", cl_header(size=1), seq=2) +
          cl_record(b"Htenant-0", None) + cl_record(b"\0\0\0\0tenant-0", None))
    write("corpus", "changelog", "slots-without-header", slot(0, b"s-1") + slot(3, b"s-1"))
    write("corpus", "modelfile", "meta", b"\x01" + json.dumps(META).encode())
    write("corpus", "config", "govstream.cfg",
          open(os.path.join(ROOT, "config", "govstream.cfg"), "rb").read())
    write("corpus", "config", "override", b"governance.memory_capacity=200")

    # the defects of the issue, each kept as a regression input
    write("regressions", "resolve", "nested-2000",
          nested_schema(2000).encode() + b"\x00" + b"\x02a")
    write("regressions", "resolve", "dag-40", dag_schema(40).encode() + b"\x00" + b"\x02a")
    # null leaves take no bytes: skipping 2^30 of them needs no payload at all
    write("regressions", "resolve", "dag-30-null-leaves",
          dag_schema(30, '"null"').encode() + b"\x00" + b"\x02a")
    write("regressions", "snapshot", "buffer-claims-terabytes",
          b"\x01" + snapshot(wake=0xFFFFFFF0, sleep=8, buf_cap=0xFFFFFFF0))
    write("regressions", "snapshot", "memory-claims-gigabytes",
          b"\x01" + snapshot(capacity=0x7FFFFFFF, size=1, claim=0x7FFFFFFF))
    for field, value in (("units", -5), ("units", 1e10), ("context_tokens", -1),
                         ("context_tokens", 1e10), ("code_dims", -1)):
        meta = json.loads(json.dumps(META))
        if field == "units":
            meta["reservoir"]["units"] = value
        elif field == "code_dims":
            meta["readout"]["code_dims"] = value
        else:
            meta[field] = value
        write("regressions", "modelfile", "%s-%s" % (field, value),
              b"\x01" + json.dumps(meta).encode())
    # found by ops/fuzz.sh: a request scored against an empty memory bank
    write("regressions", "request", "empty-memory-bank",
          b"\x02\x02\x02\x02#\x02\x02\x00\x05\x02\n)N\x02\x02\x02\x02\x02\x02q\x00\x14\x02\x00\x02\x02")
    write("regressions", "config", "syntax-error", b"governance = { memory_capacity = ; }\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/avd")
