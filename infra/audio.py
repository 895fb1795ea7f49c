"""Recording checks and the one decode of a call, via ffprobe/ffmpeg.

`inspect_recording` decides whether a file is usable and says precisely why not (coded errors). Given a
folder (`pcm_dir`), the same ffmpeg pass that measures the level and the decoded length also writes the
recording as raw float32 PCM there (`DecodedAudio`): 16 kHz with every channel (speech recognition per
channel, diarization), the recording's own rate and channels (redacted audio) when that is not 16 kHz, and a
16 kHz mono mixdown when asked. Every later stage of the call reads those files through memory maps instead
of running ffmpeg again: one decode and one probe per call, whatever the format.
`iter_chunks` hands out 16 kHz mono float32 a bounded piece at a time (from a `DecodedAudio`, or decoding a
path itself), cutting at the quietest moment near each boundary so words are not split; memory stays flat
however long the recording is.
"""
from __future__ import annotations

import errno
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Union

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
class DecodedAudio:
    """A recording decoded once into raw little-endian float32 files (see `inspect_recording(pcm_dir=)`).

    `speech`: 16 kHz, all `channels` interleaved, exactly what ffmpeg hands speech recognition for one channel
    (`pan` then resample) or for a mono recording; `native`: the recording's own `sample_rate` and channels,
    None when that rate is 16 kHz (then `speech` is the same data); `mix`: 16 kHz mono mixdown of a
    multi-channel recording, written only when asked for. Readers get memory maps: pages come from disk as
    they are read and are dropped under memory pressure, so no stage holds the whole call in memory."""
    source: Path  # the recording the files were decoded from
    channels: int
    sample_rate: int  # of the recording (and of `native`)
    speech: Path
    native: Path | None = None
    mix: Path | None = None

    def samples(self, channel: int | None = None) -> np.ndarray:
        """16 kHz float32 samples of one `channel`, or of the recording mixed down to mono (None), as a
        1-D memory-mapped view (copy-on-write: writing to it never changes the file)."""
        if channel is None and self.channels > 1:
            if self.mix is None:
                raise ValueError("this recording was decoded without a mono mixdown (inspect_recording(mixdown=True))")
            return _map(self.mix, 1)[:, 0]
        channel = 0 if channel is None else channel
        if not 0 <= channel < self.channels:
            raise ValueError(f"channel {channel} of a {self.channels}-channel recording")
        return _map(self.speech, self.channels)[:, channel]

    def frames(self) -> tuple[np.ndarray, int]:
        """(frames x channels float32 at the recording's own rate, that rate), memory-mapped."""
        if self.native is None:
            return _map(self.speech, self.channels), SAMPLE_RATE
        return _map(self.native, self.channels), self.sample_rate


AudioSource = Union[Path, DecodedAudio]  # a recording on disk (decoded on demand) or decoded once already


def _map(path: Path, channels: int) -> np.ndarray:
    n = path.stat().st_size // (4 * channels)
    if n == 0:
        return np.zeros((0, channels), dtype=np.float32)
    return np.memmap(path, dtype="<f4", mode="c", shape=(n, channels))


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
    # the recording decoded once, when inspect_recording was given a folder for it
    decoded: DecodedAudio | None = field(default=None, compare=False, repr=False)


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


def _decode_pass(path: Path, duration: float, channels: int, rate: int, limit: float,
                 pcm_dir: Path | None = None, mixdown: bool = False) -> tuple[float, float, bool, DecodedAudio | None]:
    """Full decode pass, at most `limit` seconds of audio: (peak level in dBFS, seconds actually decoded,
    whether the decoder reported damaged data, the PCM files written to `pcm_dir` if given).
    Decodes what is decodable: a header that promises more than the file holds (streaming recorders write
    the length before they know it) is not corruption, so no -xerror; the decoded length is what counts.
    One ffmpeg process: the first audio stream is split into the level meter (volumedetect) and, with
    `pcm_dir`, the raw outputs of `DecodedAudio` (ffmpeg's own resampling, the same samples a separate
    decode per consumer gave)."""
    channels = max(1, channels)
    decoded, outputs = None, []  # (file, ffmpeg output options) per PCM output
    if pcm_dir is not None:
        pcm_dir.mkdir(parents=True, exist_ok=True)
        files = {"speech": pcm_dir / "decoded-16k.f32"}
        outputs.append((files["speech"], ["-ar", str(SAMPLE_RATE), "-ac", str(channels)]))
        if rate > 0 and rate != SAMPLE_RATE:
            files["native"] = pcm_dir / f"decoded-{rate}.f32"
            outputs.append((files["native"], ["-ar", str(rate), "-ac", str(channels)]))
        if mixdown and channels > 1:
            files["mix"] = pcm_dir / "decoded-16k-mono.f32"
            outputs.append((files["mix"], ["-ar", str(SAMPLE_RATE), "-ac", "1"]))
        decoded = DecodedAudio(source=path, channels=channels, sample_rate=rate if rate > 0 else SAMPLE_RATE,
                               **files)
    cmd = ["ffmpeg", "-nostdin", "-v", "info", "-y", "-t", f"{limit:.3f}", "-i", str(path)]
    if outputs:
        labels = "".join(f"[o{i}]" for i in range(len(outputs)))
        cmd += ["-filter_complex", f"[0:a:0]asplit={len(outputs) + 1}[lv]{labels};[lv]aresample,volumedetect,anullsink"]
        for i, (file, options) in enumerate(outputs):
            cmd += ["-map", f"[o{i}]", *options, "-f", "f32le", "-c:a", "pcm_f32le", str(file)]
    else:
        cmd += ["-filter_complex", "[0:a:0]aresample,volumedetect[lv]", "-map", "[lv]", "-f", "null", "-"]
    proc = _run(cmd, timeout=max(120.0, min(duration, limit) / 5))
    err = proc.stderr.decode("utf-8", "replace")
    if decoded is not None and "No space left on device" in err:  # ffmpeg may exit 0 when closing fails
        # the worker's disk, not the recording: the caller's ENOSPC handling retries the call (not E103)
        raise OSError(errno.ENOSPC, "no space left on the disk for the decoded audio")
    if proc.returncode != 0:
        raise CorruptAudioError(f"decoding failed: {_first_line(proc.stderr)}")
    # ffmpeg may configure a filter graph more than once (a trial before the first frame, again when the
    # stream's format changes): every instance of the meter reports, so add them up
    counts = [int(n) for n in re.findall(r"n_samples:\s*(\d+)", err)]
    levels = re.findall(r"max_volume:\s*(-?inf|-?[\d.]+) dB", err)
    if not levels or not sum(counts):
        return float("-inf"), 0.0, False, decoded  # nothing decodes: an empty recording (E101 below)
    peak = max(float("-inf") if "inf" in m else float(m) for m in levels)
    damaged = bool(re.search(r"corrupt input packet|Invalid data found|Packet corrupt|truncat", err, re.I))
    seconds = sum(counts) / channels / max(1, rate)
    if decoded is not None:  # what the later stages will read must be all that decoded
        for file, n in ((decoded.speech, channels), (decoded.native, channels), (decoded.mix, 1)):
            rate_of = decoded.sample_rate if file == decoded.native else SAMPLE_RATE
            if file is not None and file.stat().st_size // (4 * n) < (seconds - max(0.1, 0.01 * seconds)) * rate_of:
                raise OSError(errno.EIO, "the decoded audio was not written in full")
    return peak, seconds, damaged, decoded


def inspect_recording(path: Path, limits: AudioLimits = AudioLimits(), *, pcm_dir: Path | None = None,
                      mixdown: bool = False) -> AudioInfo:
    """Validate a downloaded recording. Raises a BadAudioError subclass naming the problem.

    With `pcm_dir` (a folder that is removed with the call's other temporary files), the same decode pass
    writes the recording there as `AudioInfo.decoded` for every later stage (`mixdown`: also a 16 kHz mono
    mixdown of a multi-channel recording, for a call transcribed without splitting its channels)."""
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
    peak, duration, damaged, decoded = _decode_pass(path, claimed, channels, rate, limits.max_seconds + 1.0,
                                                    pcm_dir, mixdown)
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
                     channel_layout=str(stream.get("channel_layout") or ""), decoded=decoded)


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


def _cut(read: Callable[[int], np.ndarray], chunk_seconds: float,
         search_seconds: float, tail_fraction: float = 0.1) -> Iterator[tuple[float, np.ndarray]]:
    """Chunks of what `read(n)` (up to n samples, fewer at the end) hands out, cut in pauses. A last stretch
    shorter than `tail_fraction` of a chunk joins the chunk before it: on its own it would cost a whole
    speech-recognition window for a few seconds (a 10-minute call came out as 295 + 299 + 6 s)."""
    want = int(chunk_seconds * SAMPLE_RATE)
    tail = int(tail_fraction * want)
    carry = np.zeros(0, dtype=np.float32)
    offset = 0
    while True:
        need = want + tail - len(carry)
        fresh = read(need)
        buf = np.concatenate([carry, fresh]) if len(carry) else fresh
        if len(fresh) < need:
            if len(buf):
                yield offset / SAMPLE_RATE, buf
            return
        cut = _quietest_cut(buf[:want], search_seconds)
        yield offset / SAMPLE_RATE, buf[:cut]
        offset += cut
        carry = buf[cut:].copy()


def iter_chunks(source: AudioSource, chunk_seconds: float = 300.0, *, channel: int | None = None,
                search_seconds: float = 5.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (offset_seconds, samples) covering the whole recording, each at most ~chunk_seconds long (the
    last one up to a tenth longer, rather than leave a few seconds on their own).
    `source`: a `DecodedAudio` (read from its files, nothing decoded) or a path (decoded by ffmpeg here)."""
    if chunk_seconds <= search_seconds:
        raise ValueError("chunk_seconds must exceed search_seconds")
    if isinstance(source, DecodedAudio):
        samples = source.samples(channel)
        pos = 0

        def take(n: int) -> np.ndarray:
            nonlocal pos
            piece = np.array(samples[pos:pos + n], dtype=np.float32)  # a copy: the map is not held on to
            pos += len(piece)
            return piece

        yield from _cut(take, chunk_seconds, search_seconds)
        return
    proc = _decoder(source, channel)
    assert proc.stdout is not None

    def read(n: int) -> np.ndarray:
        raw = proc.stdout.read(n * 4)
        return np.frombuffer(raw[: len(raw) // 4 * 4], dtype=np.float32)

    try:
        yield from _cut(read, chunk_seconds, search_seconds)
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    if proc.returncode not in (0, -9) and proc.stderr is not None:
        raise CorruptAudioError(f"decoding failed: {_first_line(proc.stderr.read())}")


def load_audio(source: AudioSource, *, channel: int | None = None) -> np.ndarray:
    """Whole recording: from a `DecodedAudio`, a memory map of its file (nothing read until used, so a long
    call is not held in memory); from a path, decoded into memory (short clips: tests, benchmarks)."""
    if isinstance(source, DecodedAudio):
        return source.samples(channel)
    return np.concatenate([c for _, c in iter_chunks(source, 3600.0, channel=channel)] or
                          [np.zeros(0, np.float32)])
