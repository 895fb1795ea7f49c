"""pipeline.conversation: the channels of a stereo call decoded side by side when the transcriber runs parallel
decodes, and a mono call diarized while it is transcribed (fake backends that meet at a barrier: run one after
the other, they time out and the test fails)."""
from __future__ import annotations

import threading

import pytest

from core.models import Call, Segment, Turn, Word
from infra.audio import inspect_recording
from pipeline.conversation import ConversationOptions, transcribe_conversation

from .fakes import write_tone_wav


class MeetingTranscriber:
    """Each chunk waits at `barrier` (when given) for the other party of the call before it is transcribed."""

    backend = "fake"
    model_name = "fake"

    def __init__(self, parallel: int, barrier: threading.Barrier | None = None, words: bool = True,
                 timeout: float = 10.0):
        self.parallel, self.barrier, self.words, self.timeout = parallel, barrier, words, timeout
        self.threads: set[str] = set()
        self.detections = 0

    def language_probabilities(self, audio):
        self.detections += 1
        return {"en": 0.9, "zh": 0.1}

    def transcribe_chunk(self, audio, language, *, beam_size, initial_prompt):
        self.threads.add(threading.current_thread().name)
        if self.barrier is not None:
            self.barrier.wait(timeout=self.timeout)
        if not self.words:
            return []
        end = len(audio) / 16000
        return [Segment(0.5, end - 0.5, "hello there", (Word("hello", 0.5, 1.0, 0.9), Word("there", 1.0, 1.5, 0.9)))]


class MeetingDiarizer:
    def __init__(self, barrier: threading.Barrier | None = None, fail: bool = False):
        self.barrier, self.fail, self.calls = barrier, fail, 0

    def diarize(self, audio, **kwargs):
        self.calls += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        if self.fail:
            raise RuntimeError("diarizer broke")
        return [Turn("A", 0.0, 1.2), Turn("B", 1.2, len(audio) / 16000)]


def _decoded(tmp_path, channels: int, mixdown: bool = False):
    path = write_tone_wav(tmp_path / "call.wav", 4.0, channels=channels)
    return inspect_recording(path, pcm_dir=tmp_path / "pcm", mixdown=mixdown)


def test_stereo_channels_are_decoded_side_by_side_and_merged_as_before(tmp_path):
    info = _decoded(tmp_path, channels=2)
    call = Call(id="c", object_key="recordings/c.wav", etag="e")
    side_by_side = MeetingTranscriber(parallel=2, barrier=threading.Barrier(2))
    together = transcribe_conversation(side_by_side, info.decoded, call, info)
    assert len(side_by_side.threads) == 2, "each channel in a thread of its own, both at once"
    one_by_one = MeetingTranscriber(parallel=1)
    apart = transcribe_conversation(one_by_one, info.decoded, call, info)
    assert together == apart, "the same conversation either way"
    assert {s.channel for s in together.segments} == {0, 1} and together.language == "en"
    assert side_by_side.detections == one_by_one.detections, "the language is detected once for the call"


def test_sequential_transcriber_is_never_called_from_two_threads(tmp_path):
    info = _decoded(tmp_path, channels=2)
    fake = MeetingTranscriber(parallel=1, barrier=threading.Barrier(2), timeout=1.0)  # needs two at once
    with pytest.raises(threading.BrokenBarrierError):
        transcribe_conversation(fake, info.decoded, Call(id="c", object_key="recordings/c.wav", etag="e"), info)


def test_mono_call_is_diarized_while_it_is_transcribed(tmp_path):
    info = _decoded(tmp_path, channels=1)
    barrier = threading.Barrier(2)
    call = Call(id="m", object_key="recordings/m.wav", etag="e")
    fake, diarizer = MeetingTranscriber(parallel=1, barrier=barrier), MeetingDiarizer(barrier)
    t = transcribe_conversation(fake, info.decoded, call, info, diarizer=diarizer)
    assert diarizer.calls == 1 and {w.speaker for w in t.words} == {"A", "B"}

    after = transcribe_conversation(MeetingTranscriber(parallel=1), info.decoded, call, info,
                                    diarizer=MeetingDiarizer(),
                                    conversation=ConversationOptions(concurrent_diarization=False))
    assert after == t, "the same words and speakers as diarizing afterwards"


def test_mono_call_with_nothing_heard_needs_no_turns(tmp_path):
    info = _decoded(tmp_path, channels=1)
    call = Call(id="m", object_key="recordings/m.wav", etag="e")
    broken = MeetingDiarizer(fail=True)
    t = transcribe_conversation(MeetingTranscriber(parallel=1, words=False), info.decoded, call, info,
                                diarizer=broken)
    assert t.segments == () and broken.calls == 1
    with pytest.raises(RuntimeError, match="diarizer broke"):  # needed, its error is not swallowed
        transcribe_conversation(MeetingTranscriber(parallel=1), info.decoded, call, info, diarizer=broken)
