#!/usr/bin/env python3
"""The timbre features computed by librosa 0.11, timed on the signal that
bench-timbre wrote (raw float32 at 22,050 Hz), for the ratio to the C code
(docs/TIMBRE.md). librosa at its best: the STFT once, its magnitude passed
to the spectral features and its square to the mel; the same pooling.
float64, as the oracle. Single-threaded BLAS/FFT (env set before import).

    ./build/bench-timbre 200 /tmp/timbre_signal.f32
    "$(ops/data/venv_librosa.sh)" bench/timbre_librosa.py /tmp/timbre_signal.f32
"""
import json
import os
import sys
import time

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import librosa  # noqa: E402
import numpy as np  # noqa: E402

SR = 22050


def features(y):
    s = np.abs(librosa.stft(y))
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=s ** 2, sr=SR))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20)
    rows = [mfcc, librosa.feature.delta(mfcc),
            librosa.feature.spectral_centroid(S=s, sr=SR),
            librosa.feature.spectral_bandwidth(S=s, sr=SR),
            librosa.feature.spectral_rolloff(S=s, sr=SR),
            librosa.feature.zero_crossing_rate(y), librosa.feature.rms(y=y)]
    return np.concatenate([np.concatenate([r.mean(axis=-1), r.std(axis=-1)]) for r in rows])


def timed(y, runs):
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        features(y)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return {"samples": int(y.size), "runs": runs, "p50_ms": round(ms[len(ms) // 2], 3),
            "max_ms": round(ms[-1], 3)}


def main():
    y = np.fromfile(sys.argv[1], dtype=np.float32).astype(np.float64)
    features(y[:10 * SR])  # numba's first call compiles
    out = {"bench": "librosa %s timbre features" % librosa.__version__,
           "rows": {"clip_10s": timed(y[:10 * SR], 20), "recording_3min": timed(y, 3)}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
