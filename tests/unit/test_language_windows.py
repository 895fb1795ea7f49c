"""transcribe.run: language detected on speech windows of both channels, hallucinations dropped per channel
(fake backends; the real model on real audio is tests/integration/test_hallucination_audio.py)."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from core.models import Segment, Word
from transcribe.base import SpeechDetector, TranscribeOptions
from transcribe.roles import label_roles
from transcribe.run import (
    combine_probabilities,
    detect_language,
    detect_recording_language,
    speech_windows,
    spread,
    transcribe_recording,
)
from transcribe.speakers import merge_channel_transcripts

from .fakes import FakeTranscriber

SR = 16_000


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


class VadFake:
    """A backend with VAD: speech = 100 ms frames louder than -26 dBFS. On quiet audio it does what whisper
    base did in issue 14: English with probability 1.0 and "I'm a fool, I'm a fool, ..."."""

    backend = "fake-vad"
    model_name = "fake"

    def __init__(self):
        self.detected: list[float] = []  # rms of each window language detection was given

    def speech_spans(self, audio):
        frame = SR // 10
        loud = [_rms(audio[i:i + frame]) > 0.05 for i in range(0, len(audio), frame)]
        spans, start = [], None
        for i, on in enumerate(loud + [False]):
            if on and start is None:
                start = i
            elif not on and start is not None:
                spans.append((start / 10, i / 10))
                start = None
        return spans

    def language_probabilities(self, audio):
        self.detected.append(_rms(audio))
        return {"zh": 0.8, "ja": 0.15, "en": 0.05} if _rms(audio) > 0.05 else {"en": 1.0}

    def transcribe_chunk(self, audio, language, *, beam_size, initial_prompt):
        end = len(audio) / SR
        if _rms(audio) > 0.05:
            text = "我想查一下话费" if language == "zh" else "I want to check my bill"
            toks = list(text) if language == "zh" else text.split()
            words = tuple(Word(t, 1.0 + 0.3 * i, 1.3 + 0.3 * i, 0.9) for i, t in enumerate(toks))
            return [Segment(1.0, words[-1].end, text, words, avg_logprob=-0.3, no_speech_prob=0.05)]
        loop = [Word(w, 0.2 * i, 0.2 * i + 0.2, 0.5) for i, w in enumerate("I'm a fool, ".split() * 10)]
        return [Segment(0.0, min(end, 6.0), "I'm a fool, " * 10, tuple(loop), avg_logprob=-0.5, no_speech_prob=0.4),
                Segment(7.0, 9.0, "以下是普通话的句子。", (Word("以下是普通话的句子。", 7.0, 9.0, 0.4),),
                        avg_logprob=-0.6, no_speech_prob=0.6)]


def write_stereo(path: Path, seconds: float = 20.0, rate: int = 8000) -> Path:
    """Channel 0: faint noise (about -54 dBFS); channel 1: a tone in 2 s bursts, like turns of speech."""
    rng = np.random.default_rng(14)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    quiet = 0.002 * rng.standard_normal(n)
    loud = 0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 4) < 2)
    return _write_channels(path, quiet, loud, rate)


def _write_channels(path: Path, left: np.ndarray, right: np.ndarray, rate: int) -> Path:
    frames = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


@pytest.fixture
def stereo(tmp_path) -> Path:
    return write_stereo(tmp_path / "call.wav")


def test_quiet_channel_gets_the_call_language_and_no_words(stereo):
    fake = VadFake()
    assert isinstance(fake, SpeechDetector) and not isinstance(FakeTranscriber(), SpeechDetector)
    quiet = transcribe_recording(fake, stereo, "c", duration=20.0, channel=0, speaker="S0")
    assert quiet.language == "zh" and quiet.language_probability > 0.8
    assert quiet.segments == () and quiet.words == ()
    codes = [w.split()[0] for w in quiet.warnings]
    assert codes == ["W006", "W007", "W005"] and quiet.warnings[-1].startswith("W005 channel 0: no real speech (VAD found 0.0 s")
    # detection only ever saw speech: windows of the speaking channel, none of the quiet one
    assert fake.detected and min(fake.detected) > 0.05
    speaking = transcribe_recording(fake, stereo, "c", duration=20.0, channel=1, speaker="S1")
    assert speaking.language == "zh" and speaking.warnings == ()
    assert [s.text for s in speaking.segments] and all(s.text == "我想查一下话费" for s in speaking.segments)
    call = label_roles(merge_channel_transcripts([quiet, speaking], "c"))
    assert [(s.speaker, s.role, s.rule) for s in call.speakers] == [("S1", "customer", "content")]


def test_forced_language_wins_and_the_loop_is_still_flagged(stereo):
    fake = VadFake()
    t = transcribe_recording(fake, stereo, "c", duration=20.0, channel=0, language="en")
    assert fake.detected == []  # a forced language wins: nothing is detected
    assert t.language == "en" and t.language_probability == 1.0 and t.segments == ()
    assert [w.split()[0] for w in t.warnings] == ["W006", "W005"]  # no prompt for English: no echo check


def test_detection_uses_at_most_n_windows_per_channel(tmp_path):
    path = write_stereo(tmp_path / "long.wav", seconds=240.0)
    fake = VadFake()
    transcribe_recording(fake, path, "c", duration=240.0, channel=1, detect_channels=(0, 1),
                         options=TranscribeOptions(detect_windows=2))
    assert len(fake.detected) == 2  # 120 s of speech = 4 windows on channel 1; channel 0 has none


def test_backend_without_vad_detects_on_the_first_seconds_of_each_channel(stereo):
    fake = FakeTranscriber({"en": 0.2, "zh": 0.7, "yue": 0.1})
    t = transcribe_recording(fake, stereo, "c", duration=20.0, channel=0)
    assert t.language == "zh" and t.language_probability == 0.8  # (0.7 + 0.1) / (0.2 + 0.7 + 0.1)
    assert [s.text for s in t.segments] == ["繁体字 chunk"] and t.warnings == ()


def test_speech_windows_and_spread():
    audio = np.arange(100 * SR, dtype=np.float32)
    windows = speech_windows(audio, [(1.0, 21.0), (30.0, 50.0), (99.5, 120.0)], window_seconds=30.0)
    assert [round(s, 3) for _, s in windows] == [30.0, 10.5]
    assert windows[0][0][0] == SR and windows[0][0][20 * SR] == 30 * SR  # spans back to back
    assert speech_windows(audio, []) == []
    assert spread(list(range(10)), 3) == [0, 4, 9] and spread([1, 2], 3) == [1, 2] and spread([5, 6], 1) == [5]


def test_combine_probabilities_weights_by_speech_seconds():
    noise = ({"nn": 0.4, "en": 0.3, "cy": 0.2, "zh": 0.1}, 20.0)
    speech = ({"zh": 0.93, "ja": 0.05, "en": 0.02}, 19.0)
    probs = combine_probabilities([noise, speech])
    assert probs["zh"] > 0.5 > probs["en"]
    assert combine_probabilities([({"en": 1.0}, 0.0)]) == {}


def test_detect_language_with_no_speech_anywhere_falls_back_to_the_first_seconds():
    fake = VadFake()
    quiet = np.zeros(5 * SR, dtype=np.float32)
    guess = detect_language(fake, {0: (quiet, []), 1: (quiet, [])}, TranscribeOptions())
    assert (guess.language, guess.windows, guess.speech_seconds) == ("en", 1, 0.0)
    assert detect_language(fake, {}, TranscribeOptions()).language == "unknown"


def test_the_other_channel_reuses_the_detection(stereo):
    fake = VadFake()
    transcribe_recording(fake, stereo, "c", duration=20.0, channel=0)
    n = len(fake.detected)
    assert n == 1  # 10 s of speech on channel 1 (five 2 s bursts): one window; none on channel 0
    transcribe_recording(fake, stereo, "c", duration=20.0, channel=1)
    assert len(fake.detected) == n


def test_each_channels_first_chunk_gets_one_vad_pass_when_detected_for_the_call(stereo):
    from transcribe.run import detect_recording_language

    class CountingVad(VadFake):
        passes = 0

        def speech_spans(self, audio):
            CountingVad.passes += 1
            return super().speech_spans(audio)

    fake = CountingVad()
    guess = detect_recording_language(fake, stereo, TranscribeOptions(), channel=0, detect_channels=(1,))
    assert CountingVad.passes == 2 and set(guess.first_spans) == {0, 1}
    for ch in (0, 1):
        transcribe_recording(fake, stereo, "c", duration=20.0, channel=ch, guess=guess)
    assert CountingVad.passes == 2, "transcription reused the spans detection found (one 20 s chunk each)"


class ConfidentFake(VadFake):
    def language_probabilities(self, audio):
        self.detected.append(_rms(audio))
        return {"zh": 0.995, "en": 0.005} if _rms(audio) > 0.05 else {"en": 1.0}


def test_a_clear_first_round_of_windows_decides_and_an_unclear_one_takes_them_all(tmp_path):
    """Windows are taken a round at a time: when the first round is already sure of the language (0.995 >=
    detect_confident), the other windows are not decoded; VadFake's 0.94 is not sure enough, and
    detect_confident None always takes every window."""
    path = write_stereo(tmp_path / "long.wav", seconds=240.0)
    sure = ConfidentFake()
    guess = detect_recording_language(sure, path, TranscribeOptions(detect_windows=3), channel=1,
                                      detect_channels=(0, 1))
    assert (guess.language, guess.windows, len(sure.detected)) == ("zh", 1, 1)
    unsure = VadFake()
    assert detect_recording_language(unsure, path, TranscribeOptions(detect_windows=3), channel=1,
                                     detect_channels=(0, 1)).windows == 3 == len(unsure.detected)
    every = ConfidentFake()
    guess = detect_recording_language(every, path, TranscribeOptions(detect_windows=3, detect_confident=None),
                                      channel=1, detect_channels=(0, 1))
    assert guess.windows == 3 == len(every.detected) and guess.language == "zh"


class TwoPassFake(ConfidentFake):
    """A backend whose model runs two passes at once (`parallel`, as a batched faster-whisper on a CPU)."""

    def __init__(self, parallel: int):
        super().__init__()
        self.parallel = parallel
        self.threads: list[str] = []

    def language_probabilities(self, audio):
        import threading

        self.threads.append(threading.current_thread().name)
        return super().language_probabilities(audio)


def test_a_round_of_windows_runs_side_by_side_when_the_model_runs_passes_at_once(tmp_path):
    """Both parties speak: the first round holds a window of each channel. A model that runs two passes at
    once gets them in two threads; the guess is the same as one after the other."""
    rate, seconds = 8000, 60.0
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    path = _write_channels(tmp_path / "both.wav", tone * ((t % 4) < 2), tone * ((t % 4) >= 2), rate)
    guesses = {}
    for parallel in (1, 2):
        fake = TwoPassFake(parallel)
        guesses[parallel] = detect_recording_language(fake, path, TranscribeOptions(detect_windows=3), channel=0)
        assert len(fake.threads) == 2  # one window per channel: the first round is sure
        assert len(set(fake.threads)) == parallel, fake.threads
    assert guesses[1] == guesses[2] and guesses[1].language == "zh" and guesses[1].windows == 2
