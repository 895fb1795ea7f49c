"""faster-whisper (CTranslate2) backend: the default, measured ~3x faster than openai-whisper on CPU."""
from __future__ import annotations

from pathlib import Path

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
        out = []
        for s in segments:
            words = tuple(Word(text=w.word.strip(), start=round(w.start, 3), end=round(max(w.end, w.start), 3),
                               probability=round(w.probability, 4)) for w in (s.words or ()) if w.word.strip())
            out.append(Segment(start=round(s.start, 3), end=round(s.end, 3), text=s.text.strip(), words=words,
                               avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob))
        return out
