"""transcribe.vad: Silero run once per piece of audio, cut two ways. Each cut must equal faster-whisper's own
get_speech_timestamps on the same audio (the loop is adapted from it), and a piece cut twice, even when read
twice, runs the model once."""
from __future__ import annotations

import numpy as np
import pytest

from infra.audio import load_audio
from transcribe.faster_backend import FasterWhisperTranscriber, _batched_vad_options, _vad_options, pack_speech
from transcribe.vad import SpeechMemo, speech_probabilities, speech_timestamps

pytestmark = pytest.mark.integration


def test_cuts_from_one_model_run_equal_faster_whispers_own(sample_calls):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    folder, calls = sample_calls
    call = next(c for c in calls if c.channels == 2 and c.language == "zh")
    silent_gap = np.zeros(16000 * 3, np.float32)
    pieces = [np.ascontiguousarray(load_audio(call.audio_path, channel=ch)) for ch in (0, 1)]
    pieces.append(np.concatenate([pieces[0], silent_gap, pieces[1]]))
    for audio in pieces:
        probs = speech_probabilities(audio)
        for options in (_vad_options(), _batched_vad_options(), VadOptions(max_speech_duration_s=4.0),
                        VadOptions(min_speech_duration_ms=800, threshold=0.6)):
            mine = speech_timestamps(probs, len(audio), options)
            assert mine and mine == get_speech_timestamps(audio, options), options


def test_a_piece_cut_twice_runs_the_model_once(sample_calls, faster_transcriber):
    folder, calls = sample_calls
    call = next(c for c in calls if c.channels == 2 and c.language == "en")
    audio = np.ascontiguousarray(load_audio(call.audio_path, channel=0))
    memo = SpeechMemo(size=2)
    tight = memo.timestamps(audio, _vad_options())
    loose = memo.timestamps(audio.copy(), _batched_vad_options())  # the same samples read again
    assert memo.runs == 1 and tight and loose and len(loose) <= len(tight)
    other = np.ascontiguousarray(load_audio(call.audio_path, channel=1))
    memo.timestamps(other, _vad_options())
    assert memo.runs == 2
    packed = pack_speech([audio, other], lambda a: memo.timestamps(a, _batched_vad_options()))
    assert memo.runs == 2 and packed.windows and {sp[2] for sp in packed.spans} == {0, 1}
    assert all(b - a <= 30.0 + 1e-6 for a, b in packed.windows)
    model = FasterWhisperTranscriber(faster_transcriber.model)  # the loaded model, a memo of its own
    before = model._speech.runs
    model.speech_spans(audio)
    model.speech_spans(audio)
    assert model._speech.runs == before + 1
