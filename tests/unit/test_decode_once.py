"""A call is decoded once: the ffmpeg pass that checks the level and the decoded length also writes the PCM
(infra.audio.DecodedAudio) that the channel split, transcription, language detection, diarization and the
redacted audio read. Counted as bench/passes.py counts them (ffmpeg/ffprobe processes started), through the
real process path; the files go with the call's temporary folder on every exit, and what the consumers read
is the very data a decode of their own gave."""
from __future__ import annotations

import io
import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from core.errors import BadAudioError
from core.models import Turn
from demo.synth import ScriptedTurn, synthesise_call
from infra.audio import DecodedAudio, inspect_recording, iter_chunks, load_audio
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser
from pipeline.process import discover, process_recording

from .fakes import FakeTranscriber, write_tone_wav

TURNS = [ScriptedTurn("agent", "Thank you for calling. How can I help?"),
         ScriptedTurn("customer", "Hi, I would like to check my bill please."),
         ScriptedTurn("agent", "Of course, one moment.")]


class Spawned:
    """ffmpeg and ffprobe processes started while installed (subprocess.run goes through Popen too)."""

    def __init__(self, monkeypatch):
        self.n = {"ffmpeg": 0, "ffprobe": 0}
        real = subprocess.Popen.__init__

        def popen_init(popen, args, *a, **kw):
            prog = Path(str(args[0] if isinstance(args, (list, tuple)) else args).split()[0]).name
            if prog in self.n:
                self.n[prog] += 1
            return real(popen, args, *a, **kw)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)


class MemmapDiarizer:
    """Two speakers taking turns every 2 s; records what it was handed."""

    def __init__(self):
        self.got = []

    def diarize(self, audio, *, num_speakers=2, min_speakers=None, max_speakers=None):
        self.got.append(audio)
        seconds = len(audio) / 16000
        return [Turn(f"S{i % 2}", float(i * 2), min(seconds, i * 2 + 2.0)) for i in range(int(seconds // 2) + 1)
                if i * 2 < seconds]


def _folder(tmp_path: Path, name: str, *, stereo: bool, fmt: str = "wav", rate: int = 8000) -> LocalFolderSource:
    rec = tmp_path / "src" / "recordings"
    rec.mkdir(parents=True)
    wav = synthesise_call(TURNS, "en", (rec / name).with_suffix(".wav") if fmt == "wav" else tmp_path / "s.wav",
                          stereo=stereo, sample_rate=rate).audio_path
    if fmt != "wav":
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-ar", "44100",
                        str((rec / name).with_suffix(f".{fmt}"))], check=True)
    (rec / f"{name}.json").write_text(json.dumps({"agent": "a-1", "queue": "billing"}))  # language detected
    return LocalFolderSource(tmp_path / "src", "recordings/")


def _process(tmp_path, src, monkeypatch, **kw):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    work = tmp_path / "work"
    work.mkdir()
    [ref] = discover(src, store, workdir=work)
    spawned = Spawned(monkeypatch)
    out = process_recording(ref, src, store, FakeTranscriber(), analyser=CallAnalyser(store, src), workdir=work, **kw)
    monkeypatch.undo()
    assert list(work.iterdir()) == [], "the decoded PCM goes with the call's temporary folder"
    return out, spawned.n


def _redacted(src: LocalFolderSource, call_id: str) -> tuple[int, int, float]:
    """(rate, channels, seconds) of the call's redacted audio."""
    raw = src.read(f"redacted/audio/{call_id}.wav")
    assert raw is not None
    with wave.open(io.BytesIO(raw)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


def test_a_stereo_call_is_decoded_by_ffmpeg_exactly_once(tmp_path, monkeypatch):
    src = _folder(tmp_path, "stereo", stereo=True)
    out, n = _process(tmp_path, src, monkeypatch)
    assert out.status == "done", out
    assert n == {"ffmpeg": 1, "ffprobe": 1}, "one probe, one decode: channels, language, redaction read its PCM"
    t = json.loads(src.read("transcripts/stereo.json"))
    assert {s["channel"] for s in t["segments"]} == {0, 1}
    rate, channels, seconds = _redacted(src, "stereo")
    assert (rate, channels) == (8000, 2) and seconds == pytest.approx(out.audio_seconds, abs=0.01)


def test_a_compressed_stereo_call_is_decoded_once_and_redacted_at_its_own_rate(tmp_path, monkeypatch):
    src = _folder(tmp_path, "call", stereo=True, fmt="mp3")
    out, n = _process(tmp_path, src, monkeypatch)
    assert out.status == "done", out
    assert n == {"ffmpeg": 1, "ffprobe": 1}
    rate, channels, seconds = _redacted(src, "call")
    assert (rate, channels) == (44100, 2) and seconds == pytest.approx(out.audio_seconds, abs=0.1)


def test_a_mono_call_is_decoded_once_and_diarized_from_a_memory_map(tmp_path, monkeypatch):
    src = _folder(tmp_path, "mono", stereo=False, rate=16000)
    diarizer = MemmapDiarizer()
    out, n = _process(tmp_path, src, monkeypatch, diarizer=diarizer)
    assert out.status == "done", out
    assert n == {"ffmpeg": 1, "ffprobe": 1}
    [audio] = diarizer.got
    assert isinstance(audio, np.memmap), "the diarizer reads the decoded file, not a copy of the call in memory"
    assert len(audio) / 16000 == pytest.approx(out.audio_seconds, abs=0.01)
    assert _redacted(src, "mono")[:2] == (16000, 1)


def test_a_bad_recording_leaves_no_pcm_behind(tmp_path, monkeypatch):
    rec = tmp_path / "src" / "recordings"
    rec.mkdir(parents=True)
    path = rec / "quiet.wav"
    with wave.open(str(path), "wb") as w:  # decodes fully (PCM written), then refused as silent (E104)
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros((8000 * 3, 2), "<i2").tobytes())
    out, n = _process(tmp_path, LocalFolderSource(tmp_path / "src", "recordings/"), monkeypatch)
    assert (out.status, out.code) == ("quarantined", "E104")
    assert n == {"ffmpeg": 1, "ffprobe": 1}


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_consumers_read_what_their_own_decode_gave(tmp_path, fmt):
    """Chunks per channel, the mixdown and the redacted audio from the decoded files are bit for bit what a
    separate ffmpeg decode per consumer gave before."""
    from compliance.redact import redact_audio

    wav = write_tone_wav(tmp_path / "a.wav", 12.0, rate=8000, channels=2, quiet_every=3.0)
    path = wav
    if fmt != "wav":
        path = tmp_path / f"a.{fmt}"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-ar", "44100", str(path)], check=True)
    info = inspect_recording(path, pcm_dir=tmp_path / "pcm", mixdown=True)
    assert info == inspect_recording(path), "the level check and its findings do not change"
    decoded = info.decoded
    assert isinstance(decoded, DecodedAudio) and decoded.channels == 2
    for channel in (0, 1, None):
        mine = list(iter_chunks(decoded, 5.0, channel=channel, search_seconds=1.0))
        theirs = list(iter_chunks(path, 5.0, channel=channel, search_seconds=1.0))
        assert [o for o, _ in mine] == [o for o, _ in theirs]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine, theirs))
        assert np.array_equal(load_audio(decoded, channel=channel), load_audio(path, channel=channel))
    for mode in ("tone", "silence"):
        redact_audio(decoded, tmp_path / "mine.wav", [(1.0, 2.5), (7.0, 8.0)], mode=mode)
        redact_audio(path, tmp_path / "theirs.wav", [(1.0, 2.5), (7.0, 8.0)], mode=mode)
        assert (tmp_path / "mine.wav").read_bytes() == (tmp_path / "theirs.wav").read_bytes()


def test_without_a_mixdown_a_multichannel_recording_names_its_channels(tmp_path):
    wav = write_tone_wav(tmp_path / "a.wav", 2.0, channels=2)
    decoded = inspect_recording(wav, pcm_dir=tmp_path / "pcm").decoded
    assert len(decoded.samples(1)) == 2 * 16000
    with pytest.raises(ValueError, match="mixdown"):
        decoded.samples(None)
    with pytest.raises(ValueError, match="channel 2"):
        decoded.samples(2)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_decoding_is_the_disk_not_the_recording(tmp_path):
    import errno

    wav = write_tone_wav(tmp_path / "a.wav", 2.0, channels=2)
    pcm = tmp_path / "pcm"
    pcm.mkdir()
    (pcm / "decoded-16k.f32").symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(OSError) as e:
        inspect_recording(wav, pcm_dir=pcm)
    assert e.value.errno == errno.ENOSPC and not isinstance(e.value, BadAudioError)


def test_a_lying_header_decodes_what_exists_into_the_pcm(tmp_path):
    import struct

    path = write_tone_wav(tmp_path / "streamed.wav", 3.0, channels=2)
    raw = bytearray(path.read_bytes())
    claimed = 37 * 3600 * 8000 * 4  # 37 h of 8 kHz 16-bit stereo
    data_at = raw.index(b"data")
    raw[4:8] = struct.pack("<I", min(claimed + 36, 0xFFFFFFFF))
    raw[data_at + 4:data_at + 8] = struct.pack("<I", min(claimed, 0xFFFFFFFF))
    path.write_bytes(bytes(raw))
    info = inspect_recording(path, pcm_dir=tmp_path / "pcm")
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert any(w.startswith(("W003", "W004")) for w in info.warnings), info.warnings
    assert info.warnings == inspect_recording(path).warnings
    assert len(info.decoded.samples(1)) / 16000 == pytest.approx(3.0, abs=0.05)
    assert info.decoded.frames()[0].shape[0] == pytest.approx(3.0 * 8000, abs=8)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_decoding_a_call_is_retried_not_quarantined(tmp_path, monkeypatch):
    import pipeline.process as process
    from core.errors import DiskFullError

    src = _folder(tmp_path, "stereo", stereo=True)
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    work = tmp_path / "work"
    work.mkdir()
    [ref] = discover(src, store, workdir=work)
    real = process.inspect_recording

    def on_a_full_disk(path, limits, *, pcm_dir, **kw):
        pcm_dir.mkdir(parents=True)
        (pcm_dir / "decoded-16k.f32").symlink_to("/dev/full")
        return real(path, limits, pcm_dir=pcm_dir, **kw)

    monkeypatch.setattr(process, "inspect_recording", on_a_full_disk)
    with pytest.raises(DiskFullError):
        process_recording(ref, src, store, FakeTranscriber(), analyser=CallAnalyser(store, src), workdir=work)
    record = store.get("stereo")
    assert (record.state, record.error_code) == ("failed", DiskFullError.code), "retried, never quarantined"
    assert list(work.iterdir()) == []
