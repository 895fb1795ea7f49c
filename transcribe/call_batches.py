"""Batching across the calls in flight: the chunks that several calls' threads ask a batched backend to decode
at about the same time are decoded in one batched pass (`ChunkBatcher.transcribe_chunks`: the pieces laid end
to end, VAD cuts their speech into shared batches, every word mapped back to its own piece and time).

No timer and no extra thread: a caller that finds the decoder free decodes at once; callers that arrive
while a decode runs queue up, and the next free caller takes every queued request of the same language,
beam and prompt with it (up to `max_pieces` pieces). One call alone thus waits for nothing, and under load
the batches fill from every call in flight (continuous batching). When a shared decode fails, each of its
requests is decoded again alone, so one bad piece of audio fails its own call only.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from core.models import Segment
from transcribe.base import ChunkBatcher
from transcribe.run import batches_across_pieces


@dataclass(eq=False)
class _Request:
    key: tuple  # (language, beam size, prompt): what a shared decode must have in common
    audios: list[np.ndarray]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[list[Segment]] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchingStats:
    decodes: int  # batched passes run
    requests: int  # requests served
    shared: int  # passes that served more than one request


class CallBatcher:
    """A batched backend (`ChunkBatcher`) shared by the task threads of a worker, decoding their chunks in
    shared batches; every other capability (language detection, VAD) is the wrapped backend's."""

    def __init__(self, inner: ChunkBatcher, *, max_pieces: int = 8):
        if not isinstance(inner, ChunkBatcher):
            raise TypeError(f"{type(inner).__name__} does not decode pieces in shared batches")
        if max_pieces < 1:
            raise ValueError(f"max_pieces must be at least 1, not {max_pieces}")
        self.inner = inner
        self.backend = inner.backend
        self.model_name = inner.model_name
        self.batch_size = inner.batch_size
        self.parallel = getattr(inner, "parallel", 1)  # passes the model runs at once (language detection)
        self.max_pieces = max_pieces
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._decoder = threading.Lock()
        self._decodes = self._requests = self._shared = 0

    def stats(self) -> BatchingStats:
        with self._queue_lock:
            return BatchingStats(self._decodes, self._requests, self._shared)

    def queued(self) -> int:
        """Requests waiting for a decode now."""
        with self._queue_lock:
            return len(self._queue)

    def language_probabilities(self, audio: np.ndarray) -> dict[str, float]:
        return self.inner.language_probabilities(audio)

    def speech_spans(self, audio: np.ndarray) -> list[tuple[float, float]]:
        return self.inner.speech_spans(audio)

    def transcribe_chunk(self, audio: np.ndarray, language: str, *, beam_size: int,
                         initial_prompt: str | None) -> list[Segment]:
        return self.transcribe_chunks([audio], language, beam_size=beam_size, initial_prompt=initial_prompt)[0]

    def transcribe_chunks(self, audios: Sequence[np.ndarray], language: str, *, beam_size: int,
                          initial_prompt: str | None) -> list[list[Segment]]:
        if not audios:
            return []
        request = _Request((language, beam_size, initial_prompt), list(audios))
        with self._queue_lock:
            self._queue.append(request)
        while not request.done.is_set():
            # whoever holds the decoder serves the queue; the others wait to be served or for their turn
            if self._decoder.acquire(timeout=0.01):
                try:
                    if not request.done.is_set():
                        self._serve(self._take())
                finally:
                    self._decoder.release()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        """The oldest queued request and the queued ones it can share a decode with."""
        with self._queue_lock:
            if not self._queue:
                return []
            key, taken, pieces = self._queue[0].key, [], 0
            for r in list(self._queue):
                if r.key == key and (not taken or pieces + len(r.audios) <= self.max_pieces):
                    taken.append(r)
                    pieces += len(r.audios)
                    self._queue.remove(r)
            return taken

    def _serve(self, group: list[_Request]) -> None:
        if not group:
            return
        language, beam_size, prompt = group[0].key
        try:
            decoded = self.inner.transcribe_chunks([a for r in group for a in r.audios], language,
                                                   beam_size=beam_size, initial_prompt=prompt)
        except Exception as e:  # noqa: BLE001 - raised in its caller's thread; a shared one is retried alone
            if len(group) == 1:
                group[0].error = e
                group[0].done.set()
                return
            for r in group:
                self._serve([r])
            return
        at = 0
        for r in group:
            r.result, at = decoded[at:at + len(r.audios)], at + len(r.audios)
        with self._queue_lock:
            self._decodes += 1
            self._requests += len(group)
            self._shared += len(group) > 1
        for r in group:
            r.done.set()


def share_batches_across_calls(transcriber, *, max_pieces: int = 8):
    """`transcriber` wrapped in a `CallBatcher` when it decodes in batches (batch size > 1), else itself."""
    if batches_across_pieces(transcriber):
        return CallBatcher(transcriber, max_pieces=max_pieces)
    return transcriber
