"""faster-whisper (CTranslate2) backend: the default, measured ~3x faster than openai-whisper on CPU."""
from __future__ import annotations

import bisect
import dataclasses
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core.models import Segment, Word
from transcribe.base import SAMPLE_RATE
from transcribe.vad import SpeechMemo, quietest


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
        share the weights), e.g. the two channels of a stereo call; a built model keeps its own setting.
        Batched on CPU with `parallel` > 1, each worker gets its share of the cores (`cpu_threads` 0 = the
        CPUs / `parallel`) and a batched pass splits its windows among the workers (on a GPU one pass keeps
        its batches full): on 2 cores that decoded a 10-minute stereo call 1.12-1.16x faster, the same words
        (BENCHMARKS.md)."""
        from faster_whisper import WhisperModel

        runs = 1  # workers a batched pass is split among
        if isinstance(model, WhisperModel):
            self.model = model
            self.model_name = model_name or "custom"
            parallel = 1
        else:
            path = Path(model)
            device = device or _default_device()
            compute_type = compute_type or ("float16" if device == "cuda" else "int8")
            if device == "cpu" and batch_size > 1 and parallel > 1:
                runs = parallel
                cpu_threads = cpu_threads or max(1, (os.cpu_count() or 1) // parallel)
            self.model = WhisperModel(str(path), device=device, compute_type=compute_type,
                                      cpu_threads=cpu_threads, num_workers=parallel, local_files_only=True)
            self.model_name = model_name or path.name
        self.vad_filter = vad_filter
        self._speech = SpeechMemo()  # Silero run once per piece, cut both ways (speech_spans, pack_speech)
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self.parallel = parallel
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        self._batched = batch_size > 1
        self._runs = runs

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
        spans = self._speech.timestamps(audio, _vad_options())
        return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]

    def transcribe_chunk(self, audio: np.ndarray, language: str, *, beam_size: int,
                         initial_prompt: str | None) -> list[Segment]:
        if self._batched:
            return self.transcribe_chunks([audio], language, beam_size=beam_size, initial_prompt=initial_prompt)[0]
        segments, _info = self.model.transcribe(
            audio, language=language, beam_size=beam_size, word_timestamps=True,
            vad_filter=self.vad_filter, initial_prompt=initial_prompt,
            condition_on_previous_text=False,
        )
        return [_segment(s, s.words or (), s.text) for s in segments]

    def transcribe_chunks(self, audios: Sequence[np.ndarray], language: str, *, beam_size: int,
                          initial_prompt: str | None) -> list[list[Segment]]:
        """The pieces' speech decoded in one batched pass (with `batch_size` > 1): VAD cuts each piece's speech,
        which is packed, silences left out, into windows of up to 30 s that never mix two pieces (the channels
        of a call, or different calls: a window that began in one piece would colour the words of the next),
        and the windows of all pieces share batches. Every word goes back to its piece at the piece's own time;
        a segment spanning two stretches of speech keeps its words' own times. On a CPU with several workers
        the windows are split into that many runs, decoded side by side."""
        if not self._batched:
            return [self.transcribe_chunk(a, language, beam_size=beam_size, initial_prompt=initial_prompt)
                    for a in audios]
        options = _batched_vad_options()
        pieces = [np.ascontiguousarray(a, dtype=np.float32) for a in audios]
        probs = [self._speech.probabilities(a) for a in pieces]
        packed = pack_speech(pieces, lambda audio: self._speech.timestamps(audio, options),
                             split=lambda piece, lo, hi: quietest(probs[piece], lo, hi))
        out: list[list[Segment]] = [[] for _ in audios]
        if not packed.windows:
            return out
        from faster_whisper import BatchedInferencePipeline

        def decode(windows: Sequence[tuple[float, float]]) -> list:
            # a pipeline per pass: it keeps state between its batches (the last word's end)
            segments, _info = BatchedInferencePipeline(model=self.model).transcribe(
                packed.audio, language=language, beam_size=beam_size, word_timestamps=True,
                clip_timestamps=[{"start": a, "end": b} for a, b in windows], initial_prompt=initial_prompt,
                condition_on_previous_text=False, batch_size=self.batch_size)
            return list(segments)

        shares = split_windows(packed.windows, self._runs)
        if len(shares) == 1:
            decoded = decode(shares[0])
        else:
            with ThreadPoolExecutor(len(shares), thread_name_prefix="callqa-asr") as pool:
                decoded = [s for share in pool.map(decode, shares) for s in share]
        for s in decoded:
            words = list(s.words or ())
            if not words:
                i, t = packed.locate((s.start + s.end) / 2)
                out[i].append(_segment(dataclasses.replace(s, start=t, end=t), (), s.text))
                continue
            groups: list[tuple[int, list]] = []
            for w in words:
                i, moved = packed.moved(w)
                if groups and groups[-1][0] == i:
                    groups[-1][1].append(moved)
                else:
                    groups.append((i, [moved]))
            for i, ws in groups:  # a segment is split where its words change piece
                part = dataclasses.replace(s, start=ws[0].start, end=ws[-1].end)
                text = s.text if len(groups) == 1 else "".join(w.word for w in ws)
                out[i].append(_segment(part, ws, text))
        return out


def split_windows(windows: Sequence[tuple[float, float]], n: int) -> list[list[tuple[float, float]]]:
    """`windows` in `n` runs (fewer when there are fewer windows) of about equal seconds, in order: each window
    goes to the run its middle falls in."""
    n = max(1, min(n, len(windows)))
    total = sum(b - a for a, b in windows)
    runs: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    done = 0.0
    for w in windows:
        k = min(n - 1, int((done + (w[1] - w[0]) / 2) / total * n)) if total > 0 else 0
        runs[k].append(w)
        done += w[1] - w[0]
    return [r for r in runs if r]


@dataclass(frozen=True)
class PackedSpeech:
    """Several pieces' speech laid end to end: `windows` (start, end seconds in `audio`, at most 30 s each,
    never two pieces in one) and `spans` (start in `audio`, end, piece, start in that piece) for every
    stretch of speech."""
    audio: np.ndarray
    windows: tuple[tuple[float, float], ...]
    spans: tuple[tuple[float, float, int, float], ...]

    @functools.cached_property
    def _starts(self) -> list[float]:
        return [sp[0] for sp in self.spans]

    def _span(self, t: float) -> tuple[float, float, int, float]:
        return self.spans[max(0, bisect.bisect_right(self._starts, t) - 1)]

    def locate(self, t: float) -> tuple[int, float]:
        """(piece, time in the piece) of time `t` of the packed audio."""
        start, end, piece, origin = self._span(t)
        return piece, round(origin + min(max(t, start), end) - start, 3)

    def moved(self, w):
        """(piece, word `w` with its times in that piece): both ends in the stretch of speech its middle lies in."""
        start, end, piece, origin = self._span((w.start + w.end) / 2)
        a, b = (origin + min(max(x, start), end) - start for x in (w.start, w.end))
        return piece, dataclasses.replace(w, start=a, end=max(a, b))


def _plan(stretches: list[tuple[int, int]], limit: int, split: Callable[[int, int], int] | None,
          min_room: int, search: int) -> list[list[tuple[int, int]]]:
    """The (start, end) samples that go into each window, in order (see `pack_speech`)."""
    windows: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    filled = 0
    for a, b in stretches:
        while a < b:
            room = limit - filled
            if b - a <= room:
                current.append((a, b))
                filled += b - a
                break
            if split is not None and room >= min_room:
                cut = min(max(split(a + max(0, room - search), a + room), a + 1), a + room)
                current.append((a, cut))
                a = cut
            elif not filled:
                current.append((a, a + limit))
                a += limit
            windows.append(current)
            current, filled = [], 0
    if current:
        windows.append(current)
    return windows


def pack_speech(audios: Sequence[np.ndarray], cut: Callable[[np.ndarray], list[dict]],
                window_seconds: float = 30.0, *,
                split: Callable[[int, int, int], int] | None = None,
                search_seconds: float = 4.0, min_room_seconds: float = 1.0) -> PackedSpeech:
    """`cut(audio)`: the {"start", "end"} samples of each stretch of speech in a piece (VAD).

    Each Whisper pass costs the same whether its 30 s hold 21 s of speech or 29, and whole stretches left
    windows 18% empty on a 10-minute call. With `split(piece, lo, hi)` (a sample of that piece in [lo, hi],
    the quietest point there), a stretch that does not fit in what is left of a window (at least
    `min_room_seconds`) is cut within the last `search_seconds` before the window would be full, its first
    part filling the window and the rest opening the next one; a piece is packed that way only when it then
    needs fewer windows (a cut costs Whisper the start of a sentence: English WER 0.112 -> 0.126 when every
    stretch that did not fit was cut). Otherwise such a stretch opens the next window; one longer than a
    window is cut at the window's length either way (nothing is dropped)."""
    limit = int(window_seconds * SAMPLE_RATE)
    min_room, search = int(min_room_seconds * SAMPLE_RATE), int(search_seconds * SAMPLE_RATE)
    parts, windows, spans = [], [], []
    at = 0
    for piece, audio in enumerate(audios):
        stretches = [(sp["start"], sp["end"]) for sp in (cut(audio) if len(audio) else ())]
        plan = _plan(stretches, limit, None, min_room, search)
        if split is not None and len(plan) > 1:
            tighter = _plan(stretches, limit, lambda lo, hi, piece=piece: split(piece, lo, hi), min_room, search)
            plan = tighter if len(tighter) < len(plan) else plan
        for window in plan:
            opened = at
            for a, b in window:
                parts.append(audio[a:b])
                spans.append((at / SAMPLE_RATE, (at + b - a) / SAMPLE_RATE, piece, a / SAMPLE_RATE))
                at += b - a
            windows.append((opened / SAMPLE_RATE, at / SAMPLE_RATE))
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return PackedSpeech(audio, tuple(windows), tuple(spans))


def _segment(s, words, text: str) -> Segment:
    """Our segment from faster-whisper's (times already in its piece)."""
    kept = tuple(Word(text=w.word.strip(), start=round(w.start, 3),
                      end=round(max(w.end, w.start), 3), probability=round(w.probability, 4))
                 for w in words if w.word.strip())
    return Segment(start=round(max(0.0, s.start), 3), end=round(max(0.0, s.end), 3),
                   text=text.strip(), words=kept, avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob)
