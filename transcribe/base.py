"""The transcription seam: a backend only has to detect a language and transcribe one in-memory chunk of
16 kHz mono float32 audio with word timestamps. Chunking of long recordings, timestamp offsets, language
choice among the allowed set (from speech windows of every channel), dropping hallucinations and Chinese
script normalisation live in `transcribe.run`, shared by all. A backend that can also find speech
(`SpeechDetector`) gets language detection on speech only and the no-speech check of each channel."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from core.languages import LanguageRegistry, languages_or_default
from core.models import Segment
from transcribe.hallucination import HallucinationOptions

SAMPLE_RATE = 16_000
ZH_PROMPT = "以下是普通话的句子。"  # the zh profile's asr.prompt (core/languages/zh.yaml), kept for callers


@dataclass(frozen=True)
class TranscribeOptions:
    language: str | None = None  # forced language; None = detect among `allowed_languages`
    allowed_languages: tuple[str, ...] | None = None  # None: every language profile with asr.detect (en, zh)
    chinese_script: Literal["zh-Hans", "zh-Hant"] = "zh-Hans"
    beam_size: int = 5
    chunk_seconds: float = 300.0  # long recordings are decoded and transcribed this much at a time
    detect_seconds: float = 30.0  # audio used for language detection when the backend cannot find speech
    detect_windows: int = 3  # speech windows (of up to 30 s each) per channel used for language detection
    # stop taking windows once the allowed language so far is this probable (None: always all of them)
    detect_confident: float | None = 0.98
    hallucination: HallucinationOptions = HallucinationOptions()  # loops, prompt echoes, channels without speech
    # the language profiles (prompt, script, detection codes); None: core.languages.default_languages()
    languages: LanguageRegistry | None = field(default=None, compare=False, repr=False)

    def registry(self) -> LanguageRegistry:
        return languages_or_default(self.languages)

    def detectable(self) -> tuple[str, ...]:
        """The languages detection picks from."""
        return self.allowed_languages if self.allowed_languages is not None else self.registry().detectable()


@runtime_checkable
class Transcriber(Protocol):
    backend: str  # "faster-whisper", "openai-whisper"
    model_name: str  # e.g. "base"

    def language_probabilities(self, audio: np.ndarray) -> dict[str, float]:
        """Probability of every language the model knows, from (up to 30 s of) `audio`."""

    def transcribe_chunk(
        self, audio: np.ndarray, language: str, *, beam_size: int, initial_prompt: str | None
    ) -> list[Segment]:
        """Segments with word timestamps, in seconds relative to the start of `audio`."""


@runtime_checkable
class ChunkBatcher(Protocol):
    """Optional backend capability: several pieces of audio (the channels of a call, chunk by chunk) decoded
    in shared batches."""
    batch_size: int

    def transcribe_chunks(self, audios: Sequence[np.ndarray], language: str, *, beam_size: int,
                          initial_prompt: str | None) -> list[list[Segment]]:
        """One list of segments per piece, in seconds relative to the start of that piece."""


@runtime_checkable
class SpeechDetector(Protocol):
    """Optional backend capability: voice activity detection."""

    def speech_spans(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """(start, end) in seconds of each stretch of speech in `audio`, in order; [] when there is none."""


def pick_language(probs: dict[str, float], allowed: Sequence[str],
                  languages: LanguageRegistry | None = None) -> tuple[str, float]:
    """Best of the allowed languages, renormalised over them. Whisper on phone audio often ranks a
    neighbouring language (th, ja, yue) above zh; restricting to what the call centre handles fixes it.
    A language's score sums the model's codes its profile lists (`asr.codes`: Cantonese-labelled Chinese
    speech, yue, is still Chinese for our purposes)."""
    if not allowed:
        raise ValueError("allowed_languages is empty")
    registry = languages_or_default(languages)
    sub = {}
    for lang in allowed:
        profile = registry.get(lang)
        sub[lang] = sum(probs.get(c, 0.0) for c in (profile.asr_codes if profile else (lang,)))
    total = sum(sub.values())
    lang = max(sub, key=lambda k: sub[k])
    return lang, (sub[lang] / total if total > 0 else 1.0 / len(sub))
