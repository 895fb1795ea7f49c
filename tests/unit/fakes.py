"""Small fakes for unit tests of pure logic (the real models are exercised in tests/integration)."""
from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from core.models import Segment, Word


class FakeTranscriber:
    """Reports one segment per chunk; records the chunk lengths it was given."""

    backend = "fake"
    model_name = "fake"

    def __init__(self, language_probs=None):
        self.chunks: list[int] = []
        self.language_probs = language_probs or {"en": 0.9, "zh": 0.1}

    def language_probabilities(self, audio):
        return dict(self.language_probs)

    def transcribe_chunk(self, audio, language, *, beam_size, initial_prompt):
        self.chunks.append(len(audio))
        end = len(audio) / 16000
        return [Segment(0.0, end, "繁體字 chunk", (Word("繁體字", 0.0, min(end, 0.5), 0.9),))]


def write_tone_wav(path: Path, seconds: float, rate: int = 8000, channels: int = 1,
                   quiet_every: float | None = None) -> Path:
    """A 440 Hz tone; with quiet_every, 0.5 s pauses every `quiet_every` seconds (for chunk-cut tests)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        block = rate  # write one second at a time: no memory spike for long files
        for i in range(math.ceil(seconds)):
            n = min(block, int((seconds - i) * rate))
            t = (np.arange(n) + i * rate) / rate
            x = 0.3 * np.sin(2 * np.pi * 440 * t)
            if quiet_every:
                x[(t % quiet_every) > quiet_every - 0.5] = 0.0
            frames = np.repeat((x * 32767).astype("<i2")[:, None], channels, axis=1)
            w.writeframes(frames.tobytes())
    return path
