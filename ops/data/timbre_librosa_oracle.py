#!/usr/bin/env python3
"""Test vectors for the timbre kind's features (src/kinds/timbre/features.c),
computed by librosa 0.11 itself with its defaults (docs/TIMBRE.md). The unit
test (tests/unit/test_timbre_features.c) recomputes every feature in C and
compares.

Signals, all mono at 22,050 Hz, float32 as the kind sees them:
- synthetic, generated here and again in the C test by the same formulas
  (sines through sin() in double, rounded to float32; the noise from the
  project's xorshift64* generator, gs_rng_* in include/govstream/common.h):
  a 440 Hz sine, three tones, a linear chirp 100 -> 8,000 Hz, white noise,
  silence with one click, a 0.25 s decaying tone (the shortest clip);
- real: notes rendered offline by fluidsynth from the FluidR3 GM sound font
  (Debian fluidsynth + fluid-soundfont-gm, MIT; docs/DATA.md), reverb and
  chorus off, mixed to mono int16 and stored in tests/data/timbre_notes.s16
  (the C test reads them, so it needs neither fluidsynth nor the font);
- resampled: 0.5 s of tones at 8, 16, 44.1 and 48 kHz through
  librosa.resample (soxr_hq), some of its samples and its features.

librosa runs in float64 on the float32 samples, the exact reference; the
C code's FFT is single precision and the test states its tolerance.

    ops/data/timbre_librosa_oracle.py --render     # writes timbre_notes.s16 first
    "$(ops/data/venv_librosa.sh)" ops/data/timbre_librosa_oracle.py \\
        --out tests/data/timbre_librosa_cases.json
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

SR = 22050
NOTES = [  # (name, GM program 0-based, MIDI note, velocity)
    ("piano_c4", 0, 60, 100),
    ("violin_a4", 40, 69, 90),
    ("flute_e5", 73, 76, 90),
    ("trumpet_g3", 56, 55, 100),
]
NOTE_SAMPLES = 26460  # 1.2 s each
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
HERE = os.path.dirname(os.path.abspath(__file__))
NOTES_FILE = os.path.join(HERE, "..", "..", "tests", "data", "timbre_notes.s16")
MASK = (1 << 64) - 1


# ---- the project's generator (include/govstream/common.h) ----------------

class Rng:
    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & MASK

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK
        s ^= s >> 27
        self.s = s
        return (s * 2685821657736338717) & MASK

    def unit(self):
        return (self.next() >> 11) / 9007199254740992.0


def synthetic():
    """The signals of the C test's make_signal(), by name."""
    import numpy as np

    def t(n):
        return np.arange(n, dtype=np.float64) / SR

    out = {}
    tt = t(SR)
    out["sine_440"] = 0.5 * np.sin(2 * np.pi * 440.0 * tt)
    out["tones"] = (0.3 * np.sin(2 * np.pi * 220.0 * tt) + 0.2 * np.sin(2 * np.pi * 1760.0 * tt)
                    + 0.1 * np.sin(2 * np.pi * 5000.0 * tt))
    tc = t(2 * SR)
    out["chirp"] = 0.5 * np.sin(2 * np.pi * (100.0 * tc + (8000.0 - 100.0) * tc * tc / (2 * 2.0)))
    rng = Rng(14)
    out["noise"] = np.array([0.5 * (rng.unit() - 0.5) for _ in range(SR)])
    click = np.zeros(SR)
    click[SR // 2] = 0.9
    click[SR // 2 + 1] = -0.45
    out["click"] = click
    ts = t(5512)
    out["short"] = 0.6 * np.exp(-8.0 * ts) * np.sin(2 * np.pi * 1000.0 * ts)
    out = {k: v.astype(np.float32) for k, v in out.items()}
    # as the kind receives them: int16 PCM (rounded half to even, / 32768)
    for k in ("sine_440", "chirp"):
        out[k + "_pcm16"] = (np.round(out[k].astype(np.float64) * 32768.0)
                             / 32768.0).astype(np.float32)
    return out


# Float32 pure tones: the true spectrum far from the tone lies below the
# single-precision FFT's rounding floor (about 1e-7 of the peak), and the
# bandwidth weighs those bins by (f - centroid)^2: its own tolerance.
PURE_TONES = ("sine_440", "chirp", "short")


# ---- the rendered notes ----------------------------------------------------

def vlq(n):
    b = [n & 0x7F]
    n >>= 7
    while n:
        b.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(b))


def midi_file(program, note, velocity):
    """One note of 1 s (960 ticks at 480 per quarter, 120 bpm), type 0."""
    ev = vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big")
    ev += vlq(0) + bytes([0xC0, program]) + vlq(0) + bytes([0x90, note, velocity])
    ev += vlq(960) + bytes([0x80, note, 0]) + vlq(240) + b"\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk"
            + struct.pack(">I", len(ev)) + ev)


def render_notes():
    """fluidsynth -> stereo int16 WAV -> mono int16 ((L + R) / 2, rounded
    half away from zero by integer arithmetic), NOTE_SAMPLES each."""
    import wave
    pcm = bytearray()
    with tempfile.TemporaryDirectory() as tmp:
        for name, program, note, vel in NOTES:
            mid, wav = os.path.join(tmp, name + ".mid"), os.path.join(tmp, name + ".wav")
            with open(mid, "wb") as f:
                f.write(midi_file(program, note, vel))
            subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "1.0", "-F", wav,
                            "-r", str(SR), SOUNDFONT, mid], check=True, capture_output=True)
            with wave.open(wav) as w:
                assert w.getnchannels() == 2 and w.getsampwidth() == 2
                assert w.getframerate() == SR
                raw = w.readframes(w.getnframes())
            st = struct.unpack("<%dh" % (len(raw) // 2), raw)
            mono = [int((st[2 * i] + st[2 * i + 1]) / 2) for i in range(len(st) // 2)]
            mono = (mono + [0] * NOTE_SAMPLES)[:NOTE_SAMPLES]
            pcm += struct.pack("<%dh" % NOTE_SAMPLES, *mono)
    with open(NOTES_FILE, "wb") as f:
        f.write(pcm)
    print("wrote %s (%d bytes)" % (NOTES_FILE, len(pcm)))


def rendered():
    import numpy as np
    raw = np.fromfile(NOTES_FILE, dtype="<i2")
    assert raw.size == NOTE_SAMPLES * len(NOTES), "run --render first"
    return {name: (raw[i * NOTE_SAMPLES:(i + 1) * NOTE_SAMPLES].astype(np.float32)
                   / np.float32(32768.0)) for i, (name, _, _, _) in enumerate(NOTES)}


# ---- librosa -------------------------------------------------------------

POOL_ORDER = ["centroid", "bandwidth", "rolloff", "zcr", "rms"]


def features(y32):
    """Every feature with librosa's defaults, on float64 samples."""
    import librosa
    import numpy as np
    y = y32.astype(np.float64)
    mel = librosa.feature.melspectrogram(y=y, sr=SR)
    mel_db = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20)
    delta = librosa.feature.delta(mfcc)
    f = {
        "mel_db": mel_db, "mfcc": mfcc, "delta": delta,
        "centroid": librosa.feature.spectral_centroid(y=y, sr=SR)[0],
        "bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=SR)[0],
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=SR)[0],
        "zcr": librosa.feature.zero_crossing_rate(y)[0],
        "rms": librosa.feature.rms(y=y)[0],
    }
    # the MFCC must be the DCT of this very dB mel (checks our reading)
    assert np.allclose(mfcc, librosa.feature.mfcc(S=mel_db, n_mfcc=20))
    return f


def pooled(f):
    import numpy as np
    v = []
    for key in ("mfcc", "delta"):
        v += list(np.mean(f[key], axis=-1)) + list(np.std(f[key], axis=-1))
    for key in POOL_ORDER:
        v += [np.mean(f[key]), np.std(f[key])]
    return [float(x) for x in v]


def case(name, kind, y32):
    import numpy as np
    f = features(y32)
    n = f["mfcc"].shape[1]
    frames = sorted({0, 1, n // 2, n - 1})

    def r(x):
        return [float("%.12g" % v) for v in x]
    return {
        "name": name, "kind": kind, "samples": int(y32.size), "frames": n,
        "pure_tone": name in PURE_TONES,
        "input_sum": float(np.sum(y32.astype(np.float64))),
        "input_sumsq": float(np.sum(y32.astype(np.float64) ** 2)),
        "pooled": pooled(f),
        "frame_index": frames,
        "mfcc": [r(f["mfcc"][:, t]) for t in frames],
        "delta": [r(f["delta"][:, t]) for t in frames],
        "mel_db": [r(f["mel_db"][:, t]) for t in frames[::2]],
        "mel_db_frames": frames[::2],
        "series": {k: r(f[k]) for k in POOL_ORDER},
    }


RESAMPLE_RATES = (8000, 16000, 44100, 48000)


def resample_input(rate):
    """0.5 s of tones at `rate` (the C test builds the same); at 44.1 and
    48 kHz also 15 kHz, above the new Nyquist frequency, for the filter."""
    import numpy as np
    t = np.arange(rate // 2, dtype=np.float64) / rate
    y = (0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 1500.0 * t)
         + 0.05 * np.sin(2 * np.pi * 3700.0 * t))
    if rate > 2 * 15000:
        y = y + 0.1 * np.sin(2 * np.pi * 15000.0 * t)
    return y.astype(np.float32)


def resample_case(rate):
    """librosa.resample (soxr_hq, float32 as the C code) and the features of
    its output."""
    import librosa
    import numpy as np
    y = resample_input(rate)
    r = librosa.resample(y, orig_sr=rate, target_sr=SR)
    mid = r.size // 2
    c = case("resample_%d" % rate, "resample", r)
    c.update({"rate": rate, "input_samples": int(y.size),
              "head": [float(v) for v in r[:64]], "mid_at": mid,
              "mid": [float(v) for v in r[mid:mid + 256]]})
    return c


def filterbank():
    """A few bands of librosa.filters.mel: first nonzero bin and weights."""
    import librosa
    import numpy as np
    m = librosa.filters.mel(sr=SR, n_fft=2048)
    bands = []
    for b in (0, 1, 2, 10, 39, 40, 64, 100, 126, 127):
        nz = np.nonzero(m[b])[0]
        bands.append({"band": b, "lo": int(nz[0]), "len": int(nz[-1] - nz[0] + 1),
                      "weights": [float(w) for w in m[b, nz[0]:nz[-1] + 1]]})
    return {"bands": bands, "nonzero": int(np.count_nonzero(m)),
            "row_sums": [float(s) for s in m.sum(axis=1, dtype=np.float64)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--render", action="store_true", help="render tests/data/timbre_notes.s16")
    ap.add_argument("--out", help="write the JSON here")
    a = ap.parse_args()
    if a.render:
        render_notes()
    if not a.out:
        return
    import librosa
    import numpy as np
    cases = [case(k, "synthetic", y) for k, y in synthetic().items()]
    cases += [case(k, "fluidsynth", y) for k, y in rendered().items()]
    cases += [resample_case(rate) for rate in RESAMPLE_RATES]
    doc = {
        "generator": "ops/data/timbre_librosa_oracle.py",
        "librosa": librosa.__version__, "numpy": np.__version__,
        "soxr": __import__("soxr").__libsoxr_version__,
        "sr": SR, "notes_file": "tests/data/timbre_notes.s16", "note_samples": NOTE_SAMPLES,
        "notes": [{"name": n, "program": p, "note": k, "velocity": v} for n, p, k, v in NOTES],
        "filterbank": filterbank(), "cases": cases,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s: %d cases" % (a.out, len(cases)), file=sys.stderr)


if __name__ == "__main__":
    main()
