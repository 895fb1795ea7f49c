"""Backend-independent transcription of a whole recording: language choice, chunking, offsets, scripts."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from infra.audio import SAMPLE_RATE, iter_chunks
from core.models import Segment, Transcript
from transcribe.base import ZH_PROMPT, TranscribeOptions, Transcriber, pick_language
from core.chinese import to_script

Progress = Callable[[float, float], None]  # (seconds done, total seconds)


def choose_language(transcriber: Transcriber, audio: np.ndarray, options: TranscribeOptions,
                    forced: str | None = None) -> tuple[str, float]:
    forced = forced or options.language
    if forced:
        return forced, 1.0
    sample = audio[: int(options.detect_seconds * SAMPLE_RATE)]
    return pick_language(transcriber.language_probabilities(sample), options.allowed_languages)


def _shift(seg: Segment, offset: float, script: str | None) -> Segment:
    conv = (lambda t: to_script(t, script)) if script else (lambda t: t)
    words = tuple(replace(w, text=conv(w.text), start=round(w.start + offset, 3), end=round(w.end + offset, 3))
                  for w in seg.words)
    return replace(seg, text=conv(seg.text), start=round(seg.start + offset, 3),
                   end=round(seg.end + offset, 3), words=words)


def transcribe_recording(transcriber: Transcriber, path: Path, call_id: str, *, duration: float,
                         options: TranscribeOptions = TranscribeOptions(), language: str | None = None,
                         channel: int | None = None, speaker: str | None = None,
                         progress: Progress | None = None) -> Transcript:
    """Transcribe `path` chunk by chunk. `language` (from call metadata) overrides options.language."""
    segments: list[Segment] = []
    lang, lang_prob = "", 0.0
    script: str | None = None
    for offset, audio in iter_chunks(path, options.chunk_seconds, channel=channel):
        if not lang:
            lang, lang_prob = choose_language(transcriber, audio, options, language)
            script = options.chinese_script if lang == "zh" else None
        prompt = ZH_PROMPT if lang == "zh" else None
        for seg in transcriber.transcribe_chunk(audio, lang, beam_size=options.beam_size, initial_prompt=prompt):
            seg = _shift(seg, offset, script)
            if speaker or channel is not None:
                seg = replace(seg, speaker=speaker, channel=channel,
                              words=tuple(replace(w, speaker=speaker) for w in seg.words))
            segments.append(seg)
        if progress:
            progress(min(duration, offset + len(audio) / SAMPLE_RATE), duration)
    return Transcript(call_id=call_id, language=lang or (language or options.language or "unknown"),
                      language_probability=round(lang_prob, 4), duration=round(duration, 3),
                      segments=tuple(segments), backend=transcriber.backend, model=transcriber.model_name,
                      script=script)

