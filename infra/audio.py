"""Recording checks and streaming decode, via ffprobe/ffmpeg.

`inspect_recording` decides whether a file is usable and says precisely why not (coded errors).
`iter_chunks` decodes 16 kHz mono float32 a bounded piece at a time, cutting at the quietest moment near
each boundary so words are not split; memory stays flat however long the recording is.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from core.errors import (
    CorruptAudioError,
    EmptyRecordingError,
    NotAudioError,
    RecordingTooLargeError,
    RecordingTooLongError,
    SilentRecordingError,
)

SAMPLE_RATE = 16_000
# Container signatures we accept as "meant to be audio": a file that starts like one of these but does
# not decode is corrupt (E103); anything else that does not decode is not audio at all (E102).
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"ID3", b"OggS", b"fLaC", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2",
                b"#!AMR", b"FORM", b".snd", b"\x30\x26\xb2\x75")
_EXTENSION_FORMATS = {
    ".wav": {"wav"}, ".mp3": {"mp3"}, ".ogg": {"ogg"}, ".opus": {"ogg"}, ".flac": {"flac"},
    ".m4a": {"mov", "mp4", "m4a"}, ".amr": {"amr"}, ".gsm": {"gsm"}, ".au": {"au"},
}
AUDIO_EXTENSIONS = frozenset(_EXTENSION_FORMATS) | {".wma", ".aac", ".webm", ".mka"}


@dataclass(frozen=True)
class AudioLimits:
    max_bytes: int = 2 * 1024**3
    max_seconds: float = 4 * 3600.0
    min_seconds: float = 0.2
    silence_dbfs: float = -55.0  # loudest moment below this = silent recording


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    channels: int
    sample_rate: int
    codec: str
    container: str
    max_volume_dbfs: float
    warnings: tuple[str, ...] = ()
    channel_layout: str = ""


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)


def _looks_like_audio(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    return head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp"


def probe(path: Path) -> dict:
    proc = _run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                 str(path)], timeout=60)
    if proc.returncode != 0:
        cls = CorruptAudioError if _looks_like_audio(path) else NotAudioError
        raise cls(f"ffprobe cannot read the file: {_first_line(proc.stderr)}")
    return json.loads(proc.stdout or b"{}")


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip().splitlines()
    # ffprobe prefixes errors with the file path; the path may carry a customer's name, so drop it
    return re.sub(r"^.*?: ", "", text[-1]) if text else "no diagnostic"


def _decode_pass(path: Path, duration: float, channels: int, rate: int, limit: float) -> tuple[float, float, bool]:
    """Full decode pass, at most `limit` seconds of audio: (peak level in dBFS, seconds actually decoded,
    whether the decoder reported damaged data).
    Decodes what is decodable: a header that promises more than the file holds (streaming recorders write
    the length before they know it) is not corruption, so no -xerror; the decoded length is what counts."""
    proc = _run(["ffmpeg", "-nostdin", "-v", "info", "-i", str(path), "-vn", "-t", f"{limit:.3f}", "-af",
                 "volumedetect", "-f", "null", "-"], timeout=max(120.0, min(duration, limit) / 5))
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise CorruptAudioError(f"decoding failed: {_first_line(proc.stderr)}")
    m = re.search(r"max_volume:\s*(-?inf|-?[\d.]+) dB", err)
    n = re.search(r"n_samples:\s*(\d+)", err)
    if not m or not n or int(n.group(1)) == 0:
        return float("-inf"), 0.0, False  # nothing decodes: an empty recording (E101 below)
    peak = float("-inf") if "inf" in m.group(1) else float(m.group(1))
    damaged = bool(re.search(r"corrupt input packet|Invalid data found|Packet corrupt|truncat", err, re.I))
    return peak, int(n.group(1)) / max(1, channels) / max(1, rate), damaged


def inspect_recording(path: Path, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Validate a downloaded recording. Raises a BadAudioError subclass naming the problem."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyRecordingError("the object is 0 bytes")
    if size > limits.max_bytes:
        raise RecordingTooLargeError(f"{size} bytes exceeds the limit of {limits.max_bytes}")
    meta = probe(path)
    audio = [s for s in meta.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise NotAudioError(f"no audio stream (container {meta.get('format', {}).get('format_name')!r})")
    stream = audio[0]
    container = meta.get("format", {}).get("format_name", "unknown")
    claimed = float(meta.get("format", {}).get("duration") or stream.get("duration") or 0.0)
    channels, rate = int(stream.get("channels") or 1), int(stream.get("sample_rate") or 0)
    peak, duration, damaged = _decode_pass(path, claimed, channels, rate, limits.max_seconds + 1.0)
    if duration > limits.max_seconds:
        raise RecordingTooLongError(f"more than {limits.max_seconds:.0f} s of audio (the limit)")
    if duration < limits.min_seconds:
        raise EmptyRecordingError(f"only {duration:.2f} s of audio")
    if peak < limits.silence_dbfs:
        raise SilentRecordingError(f"peak level {peak} dBFS is below {limits.silence_dbfs} dBFS")
    warnings = []
    if abs(claimed - duration) > max(1.0, 0.01 * duration):
        warnings.append(f"W003 the header claims {claimed:.1f} s but {duration:.1f} s of audio decode; "
                        f"kept the {duration:.1f} s")
    if damaged:
        warnings.append(f"W004 the decoder reported damaged or missing data (a header that promises more than "
                        f"the file holds?); kept the {duration:.1f} s that decode")
    ext = path.suffix.lower()
    expected = _EXTENSION_FORMATS.get(ext)
    if expected is not None and not expected & set(container.split(",")):
        warnings.append(f"W001 file extension {ext} but content is {container}; decoded by content")
    elif ext and ext not in AUDIO_EXTENSIONS:
        warnings.append(f"W002 unexpected file extension {ext}; decoded by content ({container})")
    return AudioInfo(duration=duration, channels=channels, sample_rate=rate, codec=stream.get("codec_name", "?"),
                     container=container, max_volume_dbfs=peak, warnings=tuple(warnings),
                     channel_layout=str(stream.get("channel_layout") or ""))


def _decoder(path: Path, channel: int | None) -> subprocess.Popen:
    af = ["-af", f"pan=mono|c0=c{channel}"] if channel is not None else []
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", *af, "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _quietest_cut(audio: np.ndarray, search_seconds: float) -> int:
    """Index of the quietest 100 ms frame centre within the last `search_seconds` of `audio`."""
    frame = SAMPLE_RATE // 10
    start = max(0, len(audio) - int(search_seconds * SAMPLE_RATE))
    tail = audio[start:]
    n = len(tail) // frame
    if n < 2:
        return len(audio)
    energy = (tail[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2


def iter_chunks(path: Path, chunk_seconds: float = 300.0, *, channel: int | None = None,
                search_seconds: float = 5.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (offset_seconds, samples) covering the whole recording, each at most ~chunk_seconds long."""
    if chunk_seconds <= search_seconds:
        raise ValueError("chunk_seconds must exceed search_seconds")
    proc = _decoder(path, channel)
    assert proc.stdout is not None
    want = int(chunk_seconds * SAMPLE_RATE)
    carry = np.zeros(0, dtype=np.float32)
    offset = 0
    try:
        while True:
            need = (want - len(carry)) * 4
            raw = proc.stdout.read(need)
            fresh = np.frombuffer(raw[: len(raw) // 4 * 4], dtype=np.float32)
            buf = np.concatenate([carry, fresh]) if len(carry) else fresh
            eof = len(raw) < need
            if eof:
                if len(buf):
                    yield offset / SAMPLE_RATE, buf
                break
            cut = _quietest_cut(buf, search_seconds)
            yield offset / SAMPLE_RATE, buf[:cut]
            offset += cut
            carry = buf[cut:].copy()
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    if proc.returncode not in (0, -9) and proc.stderr is not None:
        raise CorruptAudioError(f"decoding failed: {_first_line(proc.stderr.read())}")


def load_audio(path: Path, *, channel: int | None = None) -> np.ndarray:
    """Whole recording in memory; only for short clips (tests, language detection)."""
    return np.concatenate([c for _, c in iter_chunks(path, 3600.0, channel=channel)] or
                          [np.zeros(0, np.float32)])
