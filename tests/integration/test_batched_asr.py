"""Batched decoding (faster-whisper's BatchedInferencePipeline, `asr_batch_size` > 1) against the sequential
path on the same real model and synthesised stereo calls: the same words within a small word error, word
timestamps kept inside the channel's audio, and the batch size reaches the model through the settings."""
from __future__ import annotations

import threading
import time

import pytest

from bench.transcription import _norm
from core.models import Call
from infra.audio import inspect_recording
from transcribe.call_batches import CallBatcher
from transcribe.faster_backend import FasterWhisperTranscriber
from transcribe.run import LanguageGuess, transcribe_channels, transcribe_recording

pytestmark = pytest.mark.integration


def test_batched_decoding_matches_sequential(sample_calls, faster_transcriber):
    import jiwer

    folder, calls = sample_calls
    call = next(c for c in calls if c.channels == 2 and c.language == "en")
    info = inspect_recording(call.audio_path)
    batched = FasterWhisperTranscriber(faster_transcriber.model, batch_size=4)
    for channel in (0, 1):
        seq = transcribe_recording(faster_transcriber, call.audio_path, call.call_id, duration=info.duration,
                                   channel=channel, language="en")
        bat = transcribe_recording(batched, call.audio_path, call.call_id, duration=info.duration,
                                   channel=channel, language="en")
        a, b = _norm(seq.text, "en"), _norm(bat.text, "en")
        assert a and b
        assert jiwer.wer(a, b) <= 0.15, (a, b)
        words = [w for s in bat.segments for w in s.words]
        assert words and all(0 <= w.start <= w.end <= info.duration + 0.5 for w in words)


def test_both_channels_in_shared_batches_keep_their_own_words_and_times(sample_calls, faster_transcriber):
    """transcribe_channels lays a chunk of each channel end to end for one batched pass: every word must go
    back to the channel it was spoken on, at that channel's time; the result matches each channel decoded
    alone. The conversation stage takes this path when batching is on."""
    import jiwer

    from pipeline.conversation import transcribe_conversation

    folder, calls = sample_calls
    call = next(c for c in calls if c.channels == 2 and c.language == "en")
    info = inspect_recording(call.audio_path)
    batched = FasterWhisperTranscriber(faster_transcriber.model, batch_size=4)
    together = transcribe_channels(batched, call.audio_path, call.call_id, [(0, "S0"), (1, "S1")],
                                   duration=info.duration, guess=LanguageGuess("en", 1.0))
    for channel, speaker in ((0, "S0"), (1, "S1")):
        alone = transcribe_recording(batched, call.audio_path, call.call_id, duration=info.duration,
                                     channel=channel, language="en")
        mine = together[channel]
        assert {(s.channel, s.speaker) for s in mine.segments} == {(channel, speaker)}
        a, b = _norm(alone.text, "en"), _norm(mine.text, "en")
        assert a and b and jiwer.wer(a, b) <= 0.15, (channel, a, b)
        spoken = [(t.start, t.end) for t in call.turns if t.role == ("agent" if channel == 0 else "customer")]
        words = [w for s in mine.segments for w in s.words]
        assert words and all(0 <= w.start <= w.end <= info.duration + 0.5 for w in words)
        # each word lies in (or within a second of) one of this channel's own turns, not the other party's
        assert all(any(st - 1.0 <= w.start <= en + 1.0 for st, en in spoken) for w in words), channel
    merged = transcribe_conversation(batched, call.audio_path, Call(call.call_id, "k", "e", language="en"), info)
    assert {s.channel for s in merged.segments} == {0, 1}


class _Signalling(FasterWhisperTranscriber):
    """The real batched model, telling when a decode has begun (so the test can queue calls behind it)."""

    def __init__(self, model):
        super().__init__(model, batch_size=4)
        self.decoding, self.passes, self.hold_first_for = threading.Event(), [], None

    def transcribe_chunks(self, audios, language, **kw):
        self.passes.append(len(audios))
        self.decoding.set()
        if self.hold_first_for is not None:  # the first pass waits (60 s at most) until the others queue up
            batcher, self.hold_first_for = self.hold_first_for, None
            deadline = time.monotonic() + 60
            while batcher.queued() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        return super().transcribe_chunks(audios, language, **kw)


def test_calls_in_flight_share_batches_and_keep_their_own_words(sample_calls, faster_transcriber):
    """Three calls transcribed at once through one CallBatcher (as a worker's task threads do): the two that
    arrive while the first is decoded share one batched pass, and each call gets its own words, as when
    decoded alone by the same model."""
    import jiwer

    folder, calls = sample_calls
    picked = [next(c for c in calls if c.call_id == name) for name in
              ("en_billing_refund_stereo", "en_password_reset_stereo", "en_billing_refund_mono")]
    infos = {c.call_id: inspect_recording(c.audio_path) for c in picked}
    inner = _Signalling(faster_transcriber.model)

    def transcribe(model, c):
        duration = infos[c.call_id].duration
        if c.channels == 2:
            pair = transcribe_channels(model, c.audio_path, c.call_id, [(0, "S0"), (1, "S1")], duration=duration,
                                       guess=LanguageGuess("en", 1.0))
            return [_norm(t.text, "en") for t in pair], duration, pair
        t = transcribe_recording(model, c.audio_path, c.call_id, duration=duration, language="en")
        return [_norm(t.text, "en")], duration, [t]

    alone = {c.call_id: transcribe(inner, c)[0] for c in picked}
    inner.passes.clear()
    inner.decoding.clear()
    shared = CallBatcher(inner)
    inner.hold_first_for = shared
    results: dict[str, tuple] = {}
    threads = [threading.Thread(target=lambda c=c: results.__setitem__(c.call_id, transcribe(shared, c)))
               for c in picked]
    threads[0].start()
    assert inner.decoding.wait(60)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(300)
    stats = shared.stats()
    assert stats.shared >= 1 and stats.decodes < stats.requests, (stats, inner.passes)
    assert max(inner.passes) >= 3, "a pass held the pieces of more than one call"
    for c in picked:
        texts, duration, transcripts = results[c.call_id]
        for a, b in zip(alone[c.call_id], texts):
            assert a and b and jiwer.wer(a, b) <= 0.15, (c.call_id, a, b)
        words = [w for t in transcripts for s in t.segments for w in s.words]
        assert words and all(0 <= w.start <= w.end <= duration + 0.5 for w in words), c.call_id


def test_the_setting_reaches_the_model(monkeypatch, tmp_path):
    import flows
    from pipeline.config import PipelineConfig

    cfg = PipelineConfig(local_root=tmp_path, asr_batch_size=4)
    monkeypatch.setattr(flows, "_models", {})
    model = flows._transcriber(cfg)
    assert isinstance(model, CallBatcher), "the calls in flight share batches"
    assert model.batch_size == 4 and model.inner._batched is True
    assert flows._transcriber(cfg) is model, "loaded once per process"


def test_a_batched_pass_split_among_workers_keeps_every_word(sample_calls, ct2_model_dir, monkeypatch):
    """With `parallel` 2 on CPU each CTranslate2 worker gets its share of the cores and a batched pass hands
    each worker a run of the windows (in two threads): the words are those of one worker decoding them all,
    each at (about) the same time, and both workers were used."""
    import faster_whisper
    import jiwer

    folder, calls = sample_calls
    call = next(c for c in calls if c.channels == 2 and c.language == "en")
    info = inspect_recording(call.audio_path)
    one = FasterWhisperTranscriber(ct2_model_dir, device="cpu", batch_size=4, parallel=1, cpu_threads=1)
    two = FasterWhisperTranscriber(ct2_model_dir, device="cpu", batch_size=4, parallel=2)
    threads: list[str] = []
    original = faster_whisper.BatchedInferencePipeline.transcribe

    def spy(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(faster_whisper.BatchedInferencePipeline, "transcribe", spy)
    parties = [(0, "S0"), (1, "S1")]
    guess = LanguageGuess("en", 1.0)
    alone = transcribe_channels(one, call.audio_path, call.call_id, parties, duration=info.duration, guess=guess)
    assert len(threads) == 1  # one worker: the pass is not split
    threads.clear()
    split = transcribe_channels(two, call.audio_path, call.call_id, parties, duration=info.duration, guess=guess)
    assert len(threads) == 2 and all(name.startswith("callqa-asr") for name in threads), threads
    for a, b in zip(alone, split):
        wa = [w for s in a.segments for w in s.words]
        wb = [w for s in b.segments for w in s.words]
        assert wa and abs(len(wa) - len(wb)) <= 2, (len(wa), len(wb))
        assert jiwer.wer(" ".join(w.text for w in wa), " ".join(w.text for w in wb)) <= 0.02
        same = [(x, y) for x, y in zip(wa, wb) if x.text == y.text]
        assert sum(abs(x.start - y.start) <= 0.5 for x, y in same) >= 0.95 * len(same)
