"""faster-whisper (CTranslate2) backend: the default, measured ~3x faster than openai-whisper on CPU."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from core.models import Segment, Word
from transcribe.base import SAMPLE_RATE


def _vad_options():
    from faster_whisper.vad import VadOptions

    return VadOptions(min_silence_duration_ms=500, speech_pad_ms=100)


def _batched_vad_options():
    """The sequential path's VAD (faster-whisper's defaults: 2 s of silence ends speech, 400 ms padding), with
    speech cut at Whisper's 30 s window. The tighter cuts of `_vad_options` clipped word edges: English WER on
    the sample calls rose 0.112 -> 0.130 with them, 0.117 with these (bench/batched_asr.py)."""
    from faster_whisper.vad import VadOptions

    return VadOptions(max_speech_duration_s=30.0)


def _default_device() -> str:
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # noqa: BLE001 - no CUDA runtime at all
        return "cpu"


class FasterWhisperTranscriber:
    backend = "faster-whisper"

    def __init__(self, model, *, model_name: str | None = None, device: str | None = None,
                 compute_type: str | None = None, cpu_threads: int = 0, vad_filter: bool = True,
                 batch_size: int = 1, parallel: int = 1):
        """`model`: a CTranslate2 model directory, or an already built faster_whisper.WhisperModel.
        `batch_size` > 1: the speech segments VAD cuts from a chunk are decoded in batches of that size
        (faster-whisper's BatchedInferencePipeline), word timestamps kept; 1: one after another.
        `parallel`: decodes the model runs at once from different threads (CTranslate2 workers; on CPU they
        share the weights), e.g. the two channels of a stereo call; a built model keeps its own setting."""
        from faster_whisper import WhisperModel

        if isinstance(model, WhisperModel):
            self.model = model
            self.model_name = model_name or "custom"
            parallel = 1
        else:
            path = Path(model)
            device = device or _default_device()
            compute_type = compute_type or ("float16" if device == "cuda" else "int8")
            self.model = WhisperModel(str(path), device=device, compute_type=compute_type,
                                      cpu_threads=cpu_threads, num_workers=parallel, local_files_only=True)
            self.model_name = model_name or path.name
        self.vad_filter = vad_filter
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self.parallel = parallel
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        self._batched = None
        if batch_size > 1:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(model=self.model)

    def language_probabilities(self, audio: np.ndarray) -> dict[str, float]:
        """One 30 s window. `transcribe.run` gives it speech-only windows (see `speech_spans`) and combines
        them over channels itself: WhisperModel.detect_language(language_detection_segments=n) stops at the
        first window above its threshold and returns that window's probabilities alone, which is how a
        quiet channel's noise came back as English with probability 1.0."""
        _, _, all_probs = self.model.detect_language(np.ascontiguousarray(audio, dtype=np.float32))
        return dict(all_probs)

    def speech_spans(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Silero VAD as faster-whisper ships it, with short padding and joins, so that the spans add up to
        about the time someone actually speaks (the no-speech check) and make tight detection windows."""
        from faster_whisper.vad import get_speech_timestamps

        spans = get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32), _vad_options())
        return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]

    def transcribe_chunk(self, audio: np.ndarray, language: str, *, beam_size: int,
                         initial_prompt: str | None) -> list[Segment]:
        if self._batched is not None:
            segments, _info = self._batched.transcribe(
                audio, language=language, beam_size=beam_size, word_timestamps=True, vad_filter=True,
                vad_parameters=_batched_vad_options(), initial_prompt=initial_prompt, condition_on_previous_text=False,
                batch_size=self.batch_size)
        else:
            segments, _info = self.model.transcribe(
                audio, language=language, beam_size=beam_size, word_timestamps=True,
                vad_filter=self.vad_filter, initial_prompt=initial_prompt,
                condition_on_previous_text=False,
            )
        return [_segment(s, s.words or (), s.text, 0.0) for s in segments]

    def transcribe_chunks(self, audios: Sequence[np.ndarray], language: str, *, beam_size: int,
                          initial_prompt: str | None) -> list[list[Segment]]:
        """The pieces laid end to end and decoded in one batched pass (with `batch_size` > 1): VAD cuts the
        speech of all of them into windows of up to 30 s that share batches, so two channels of a call with
        little speech each fill batches together. Each word goes back to the piece its middle falls in, a
        segment that spans two pieces is split there, and times become the piece's own."""
        if self._batched is None or len(audios) < 2:
            return [self.transcribe_chunk(a, language, beam_size=beam_size, initial_prompt=initial_prompt)
                    for a in audios]
        starts = np.cumsum([0] + [len(a) for a in audios[:-1]]) / SAMPLE_RATE
        segments, _info = self._batched.transcribe(
            np.concatenate([np.asarray(a, dtype=np.float32) for a in audios]), language=language,
            beam_size=beam_size, word_timestamps=True, vad_filter=True, vad_parameters=_batched_vad_options(),
            initial_prompt=initial_prompt, condition_on_previous_text=False, batch_size=self.batch_size)
        out: list[list[Segment]] = [[] for _ in audios]

        def piece(t: float) -> int:
            return max(0, int(np.searchsorted(starts, t, side="right")) - 1)

        for s in segments:
            words = list(s.words or ())
            if not words:
                i = piece((s.start + s.end) / 2)
                out[i].append(_segment(s, (), s.text, starts[i]))
                continue
            groups: list[tuple[int, list]] = []
            for w in words:
                i = piece((w.start + w.end) / 2)
                if groups and groups[-1][0] == i:
                    groups[-1][1].append(w)
                else:
                    groups.append((i, [w]))
            if len(groups) == 1:
                out[groups[0][0]].append(_segment(s, words, s.text, starts[groups[0][0]]))
                continue
            for i, ws in groups:  # split where the pieces meet: each part keeps its own words and times
                part = dataclasses.replace(s, start=ws[0].start, end=ws[-1].end)
                out[i].append(_segment(part, ws, "".join(w.word for w in ws), starts[i]))
        return out


def _segment(s, words, text: str, offset: float) -> Segment:
    """Our segment from faster-whisper's, `offset` seconds earlier (the start of its piece)."""
    kept = tuple(Word(text=w.word.strip(), start=round(w.start - offset, 3),
                      end=round(max(w.end, w.start) - offset, 3), probability=round(w.probability, 4))
                 for w in words if w.word.strip())
    return Segment(start=round(max(0.0, s.start - offset), 3), end=round(max(0.0, s.end - offset), 3),
                   text=text.strip(), words=kept, avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob)
