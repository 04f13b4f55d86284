#!/usr/bin/env bash
# The virtual environment of the timbre kind's feature oracle
# (ops/data/timbre_librosa_oracle.py): librosa 0.11.0 and what it needs
# (numpy, scipy, numba, llvmlite, soundfile, soxr, scikit-learn, ...),
# pinned, from PyPI, in <repo>/.cache/venv-librosa (ops/data/venv.sh). The
# product and the tests never need it; only regenerating the committed test
# vectors (tests/data/timbre_librosa_cases.json) and bench/timbre_librosa.py do.
#
# Usage: ops/data/venv_librosa.sh        prints the venv's python path
# Versions as pip resolved librosa==0.11.0 with numpy 2.3.5 and scipy 1.17.1
# on 2026-12-07 (binary wheels for CPython 3.11 on x86_64 Linux).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/venv.sh" librosa "librosa, numpy, scipy" \
  librosa==0.11.0 numpy==2.3.5 scipy==1.17.1 numba==0.68.1 llvmlite==0.50.0 \
  soundfile==0.14.0 soxr==1.1.0 scikit-learn==1.9.1 joblib==1.6.0 audioread==3.1.0 \
  decorator==5.3.2 lazy-loader==0.6 msgpack==1.2.4 pooch==1.9.0 \
  typing_extensions==4.16.0 threadpoolctl==3.8.0 cffi==2.1.1 pycparser==3.12
