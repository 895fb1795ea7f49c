"""OpenMP wait policy: callqa asks for passive waits before any model runtime loads, and leaves a choice alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from transcribe.threads import passive_openmp_waits

ROOT = Path(__file__).resolve().parents[2]


def test_passive_unless_already_chosen(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    passive_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    passive_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_cli_sets_it_before_any_model_runtime_is_imported():
    code = ("import sys, os\n"
            "from pipeline import cli\n"
            "loaded = [m for m in ('ctranslate2', 'torch', 'onnxruntime') if m in sys.modules]\n"
            "try:\n    cli.main(['models', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), loaded)\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "PASSIVE []", out
