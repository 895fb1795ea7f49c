#!/usr/bin/env bash
# Main job end to end on the embedded default: installs what is missing, then `callqa demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT" && exec "${CALLQA_VENV:-$ROOT/.venv}/bin/callqa" demo "$@"
