import shutil

import numpy as np
import pytest

from infra.audio import SAMPLE_RATE, AudioLimits, inspect_recording, iter_chunks
from demo.badfiles import write_bad_recordings
from core.errors import BadAudioError, RecordingTooLargeError, RecordingTooLongError

from .fakes import write_tone_wav


def test_each_bad_recording_gets_its_own_code(tmp_path):
    expected = write_bad_recordings(tmp_path)
    for name, code in expected.items():
        with pytest.raises(BadAudioError) as e:
            inspect_recording(tmp_path / name)
        assert e.value.code == code, name
        assert str(tmp_path) not in str(e.value), "paths can carry personal data; keep them out of errors"


def test_limits_on_length_and_size(tmp_path):
    wav = write_tone_wav(tmp_path / "a.wav", 3.0)
    with pytest.raises(RecordingTooLongError):
        inspect_recording(wav, AudioLimits(max_seconds=2.0))
    with pytest.raises(RecordingTooLargeError):
        inspect_recording(wav, AudioLimits(max_bytes=100))


def test_mislabeled_extension_is_decoded_by_content_with_a_warning(tmp_path):
    wav = write_tone_wav(tmp_path / "a.wav", 2.0, channels=2)
    mp3 = tmp_path / "a.mp3"
    shutil.copyfile(wav, mp3)
    info = inspect_recording(mp3)
    assert info.channels == 2 and abs(info.duration - 2.0) < 0.01
    assert info.warnings and info.warnings[0].startswith("W001")
    assert inspect_recording(wav).warnings == ()


def test_chunks_cover_the_recording_exactly_and_cut_in_pauses(tmp_path):
    wav = write_tone_wav(tmp_path / "long.wav", 95.0, quiet_every=7.0)
    chunks = list(iter_chunks(wav, chunk_seconds=30.0))
    total = sum(len(c) for _, c in chunks)
    assert abs(total - 95.0 * SAMPLE_RATE) < SAMPLE_RATE * 0.01
    offsets = [o for o, _ in chunks]
    for (o1, c1), o2 in zip(chunks, offsets[1:]):
        assert abs(o1 + len(c1) / SAMPLE_RATE - o2) < 1e-6, "no gap, no overlap"
        assert np.abs(c1[-800:]).max() < 0.05, "cut lands in a pause, not mid-tone"
    assert all(len(c) <= 30 * SAMPLE_RATE for _, c in chunks)


def test_a_few_seconds_left_at_the_end_join_the_last_chunk(tmp_path):
    wav = write_tone_wav(tmp_path / "call.wav", 58.0, quiet_every=7.0)  # pauses near 28 and 56 s
    chunks = list(iter_chunks(wav, chunk_seconds=30.0))
    assert len(chunks) == 2, [len(c) / SAMPLE_RATE for _, c in chunks]
    assert sum(len(c) for _, c in chunks) == 58 * SAMPLE_RATE
    assert len(chunks[0][1]) <= 30 * SAMPLE_RATE < len(chunks[1][1]) <= 33 * SAMPLE_RATE


def test_channel_selection(tmp_path):
    import wave

    path = tmp_path / "stereo.wav"
    left = (0.5 * np.sin(np.arange(SAMPLE_RATE) / 5)).astype(np.float32)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.stack([left, np.zeros_like(left)], 1).__mul__(32767).astype("<i2").tobytes())
    (_, c0), = iter_chunks(path, 60.0, channel=0)
    (_, c1), = iter_chunks(path, 60.0, channel=1)
    assert np.abs(c0).max() > 0.4 and np.abs(c1).max() < 1e-3
