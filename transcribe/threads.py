"""How the model runtimes' thread pools wait for work."""
from __future__ import annotations

import os


def passive_openmp_waits() -> None:
    """Idle OpenMP threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE, unless already set).

    CTranslate2 (speech recognition) and torch (diarization) each bring their own libgomp, and each pool's
    spinning threads took the cores the other needed: on a 10-minute mono call, recognition beside
    diarization on 2 cores took 68.1 s of wall time spinning and 60.9 s passive, while either alone cost
    the same both ways (recognition 42.4 / 43.5 s, diarization 24.5 / 24.9 s). libgomp reads the variable
    once, when it is loaded: call this before the first model is built. `callqa` does, first thing, so its
    runs, workers and the flow runs they start (which inherit the environment) all wait passively."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
