#!/usr/bin/env bash
# The test suite: unit tests (fakes, pure logic) and integration tests (real Ceph S3 server on loopback,
# real Prefect runs in ephemeral mode, real packaged Whisper weights). Installs what is missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT" && exec "${CALLQA_VENV:-$ROOT/.venv}/bin/python" -m pytest "$@"
