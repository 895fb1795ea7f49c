"""Deliberately broken recordings, for the demo and the tests: each must be quarantined with its code."""
from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np


def _wav(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def write_bad_recordings(folder: Path) -> dict[str, str]:
    """Writes broken files into `folder`; returns {file name: expected error code}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    # A RIFF/WAVE header that promises PCM data, followed by bytes that are not a valid chunk layout.
    header = b"RIFF" + struct.pack("<I", 36 + 80000) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000,
                                                                              16000, 2, 16)
    (folder / "corrupt.wav").write_bytes(header[:30] + bytes(range(256)) * 4)
    (folder / "meeting-notes.wav").write_text("Agenda: renew contract. This is a text file, not a call.\n" * 20)
    _wav(folder / "silent.wav", np.zeros(8000 * 10))
    _wav(folder / "header-only.wav", np.zeros(0))
    return {"empty.wav": "E101", "corrupt.wav": "E103", "meeting-notes.wav": "E102", "silent.wav": "E104",
            "header-only.wav": "E101"}
