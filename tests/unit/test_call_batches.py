"""transcribe.call_batches.CallBatcher's queueing logic, on a fake batched backend (pure logic: which
requests share a decode, whose results go where, what a failure hits). The real model is in
tests/integration/test_batched_asr.py."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.models import Segment
from transcribe.call_batches import CallBatcher, share_batches_across_calls


class FakeBatched:
    backend, model_name, batch_size = "fake", "fake", 8

    def __init__(self, delay: float = 0.5):
        self.delay, self.calls, self.started = delay, [], threading.Event()

    def transcribe_chunks(self, audios, language, *, beam_size, initial_prompt):
        self.calls.append([float(a[0]) for a in audios])
        self.started.set()
        time.sleep(self.delay)
        if any(a[0] < 0 for a in audios):
            raise RuntimeError("bad audio")
        return [[Segment(0.0, 1.0, f"{language}:{a[0]:g}")] for a in audios]

    def language_probabilities(self, audio):
        return {"en": 1.0}

    def speech_spans(self, audio):
        return [(0.0, 1.0)]


def _piece(x: float) -> np.ndarray:
    return np.full(16, x, np.float32)


def _run(batcher, inner, jobs, stagger: float = 0.0) -> dict:
    """Each job (name, piece values, language) in a thread of its own: the first alone, the others once its
    decode has begun (`stagger` seconds apart, to queue in order). name -> texts, or the error raised."""
    out = {}

    def one(name, values, lang):
        try:
            out[name] = [s[0].text for s in batcher.transcribe_chunks([_piece(v) for v in values], lang,
                                                                      beam_size=5, initial_prompt=None)]
        except RuntimeError as e:
            out[name] = e

    threads = [threading.Thread(target=one, args=job) for job in jobs]
    threads[0].start()
    inner.started.wait(5)
    for t in threads[1:]:
        t.start()
        time.sleep(stagger)
    for t in threads:
        t.join(10)
    return out


def test_requests_queued_during_a_decode_share_the_next_one_and_get_their_own_results():
    inner = FakeBatched()
    batcher = CallBatcher(inner)
    out = _run(batcher, inner, [("first", [1], "en"), ("a", [2, 3], "en"), ("b", [4], "en"), ("c", [5], "en")])
    assert inner.calls[0] == [1.0]  # alone, nothing waited for
    assert sorted(inner.calls[1]) == [2.0, 3.0, 4.0, 5.0] and len(inner.calls) == 2
    assert out == {"first": ["en:1"], "a": ["en:2", "en:3"], "b": ["en:4"], "c": ["en:5"]}
    stats = batcher.stats()
    assert (stats.decodes, stats.requests, stats.shared) == (2, 4, 1)


def test_other_languages_and_full_batches_wait_for_their_own_decode():
    inner = FakeBatched()
    batcher = CallBatcher(inner, max_pieces=2)
    out = _run(batcher, inner, [("first", [1], "en"), ("zh", [2], "zh"), ("x", [3], "en"), ("y", [4], "en"),
                                ("z", [5], "en")], stagger=0.02)
    assert out["zh"] == ["zh:2"] and out["z"] == ["en:5"]
    assert [2.0] in inner.calls, "a language never shares a decode with another"
    assert all(len(c) <= 2 for c in inner.calls)


def test_a_failing_shared_decode_fails_only_the_request_that_caused_it():
    inner = FakeBatched(delay=0.4)
    batcher = CallBatcher(inner)
    out = _run(batcher, inner, [("first", [1], "en"), ("bad", [-1], "en"), ("good", [7], "en")])
    assert isinstance(out["bad"], RuntimeError)
    assert out["good"] == ["en:7"] and out["first"] == ["en:1"]


def test_only_a_batched_backend_is_wrapped():
    inner = FakeBatched()
    assert isinstance(share_batches_across_calls(inner), CallBatcher)
    inner.batch_size = 1
    assert share_batches_across_calls(inner) is inner
    with pytest.raises(TypeError):
        CallBatcher(object())
