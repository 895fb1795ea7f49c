"""Valid audio is never lost: a header that claims more than the file holds (streaming recorders) is decoded
for what it has, with a warning; recordings with more than two channels are mapped by the sidecar or
refused with a coded error naming the channels."""
from __future__ import annotations

import struct
import subprocess
import wave

import numpy as np
import pytest

from core.errors import ChannelLayoutError
from core.models import Call
from infra.audio import inspect_recording
from pipeline.conversation import party_channels


def _tone_wav(path, seconds=3.0, channels=1, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    data = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(data[:, None], channels, axis=1).tobytes())
    return path


def test_header_claiming_37_hours_is_decoded_for_what_it_holds(tmp_path):
    path = _tone_wav(tmp_path / "streamed.wav", seconds=3.0)
    raw = bytearray(path.read_bytes())
    claimed = 37 * 3600 * 8000 * 2  # bytes of 37 h of 8 kHz 16-bit mono
    data_at = raw.index(b"data")
    raw[4:8] = struct.pack("<I", min(claimed + 36, 0xFFFFFFFF))
    raw[data_at + 4:data_at + 8] = struct.pack("<I", min(claimed, 0xFFFFFFFF))
    path.write_bytes(bytes(raw))
    strict = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                            capture_output=True)
    assert strict.returncode != 0, "a strict decode does fail on this file (the old level check)"
    info = inspect_recording(path)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert any(w.startswith(("W003", "W004")) for w in info.warnings), info.warnings


def test_more_than_two_channels_need_a_mapping(tmp_path):
    path = tmp_path / "six.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0", str(path)], check=True)
    info = inspect_recording(path)
    assert info.channels == 6
    with pytest.raises(ChannelLayoutError, match=r"\[E107\] 6 channels .*0-5.*agent_channel"):
        party_channels(Call("c", "k", "e"), info)
    assert party_channels(Call("c", "k", "e", attributes={"agent_channel": 2, "customer_channel": 4}), info) == (2, 4)
    with pytest.raises(ChannelLayoutError):
        party_channels(Call("c", "k", "e", attributes={"agent_channel": 2, "customer_channel": 9}), info)
    stereo = inspect_recording(_tone_wav(tmp_path / "two.wav", channels=2))
    assert party_channels(Call("c", "k", "e"), stereo) == (0, 1)
