"""demo.synth: synthetic two-speaker calls with known turns (needs the espeak-ng binary)."""
from __future__ import annotations

import json
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from demo import synth


SR = 8000
SHORT = {"en": synth.SAMPLE_SCRIPTS["en_password_reset"], "zh": synth.SAMPLE_SCRIPTS["zh_password_reset"]}


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        return data.reshape(-1, w.getnchannels()), w.getframerate()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


@pytest.fixture(scope="module", params=["en", "zh"])
def pair(request, tmp_path_factory) -> tuple[synth.SynthCall, synth.SynthCall]:
    """(stereo, mono) renderings of the same short script."""
    script = SHORT[request.param]
    out = tmp_path_factory.mktemp(f"synth_{request.param}")
    stereo = synth.synthesise_call(script.turns, script.language, out / "s.wav", stereo=True)
    mono = synth.synthesise_call(script.turns, script.language, out / "m.wav", stereo=False)
    return stereo, mono


def _check_turn_order(call: synth.SynthCall, gap: float = 0.6) -> None:
    assert call.turns, "no turns"
    assert call.turns[0].start >= 0
    for t in call.turns:
        assert t.end > t.start
    for prev, nxt in zip(call.turns, call.turns[1:]):
        assert nxt.start >= prev.end, f"overlap: {prev} / {nxt}"
        assert nxt.start - prev.end == pytest.approx(gap, abs=1.5 / SR)
    assert call.turns[-1].end <= call.duration


def test_turns_ordered_and_disjoint(pair):
    stereo, mono = pair
    for call in pair:
        _check_turn_order(call)
    assert [t.role for t in stereo.turns] == ["agent", "customer", "agent", "customer"]
    assert stereo.turns == mono.turns  # layout does not move the turns


def test_wav_format_and_duration(pair):
    for call, channels in zip(pair, (2, 1)):
        audio, rate = _read(call.audio_path)
        assert rate == SR and call.channels == channels and audio.shape[1] == channels
        assert audio.shape[0] / SR == pytest.approx(call.duration, abs=1 / SR)
        assert call.call_id == call.audio_path.stem
        # turns are bounded by speech: audio at both edges of each turn, silence just outside it
        mixed = np.abs(audio).sum(axis=1)
        for t in call.turns:
            s, e = round(t.start * SR), round(t.end * SR)
            assert mixed[s] > 0 and mixed[e - 1] > 0
            assert mixed[s - 1] == 0 and mixed[e] == 0


def test_stereo_separates_agent_left_customer_right(pair):
    stereo, mono = pair
    audio, _ = _read(stereo.audio_path)
    for t in stereo.turns:
        seg = audio[round(t.start * SR):round(t.end * SR)]
        own, other = (0, 1) if t.role == "agent" else (1, 0)
        assert _rms(seg[:, own]) > 1000, f"{t.role} turn is too quiet on its channel"
        assert _rms(seg[:, other]) < 0.01 * _rms(seg[:, own]), f"{t.role} leaks onto channel {other}"
    mixed, _ = _read(mono.audio_path)
    np.testing.assert_array_equal(mixed[:, 0], audio.sum(axis=1))  # mono = both speakers mixed


def test_voice_override_changes_audio(tmp_path):
    turns = SHORT["en"].turns[:2]
    default = synth.synthesise_call(turns, "en", tmp_path / "a.wav", stereo=False)
    other = synth.synthesise_call(turns, "en", tmp_path / "b.wav", stereo=False, voices=("en-gb", "en-us"),
                                  gap_seconds=0.2, sample_rate=16000)
    _check_turn_order(other, gap=0.2)
    assert _read(other.audio_path)[1] == 16000
    length = lambda t: t.end - t.start  # noqa: E731
    assert length(default.turns[0]) != pytest.approx(length(other.turns[0]), abs=1e-3)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        synth.synthesise_call(SHORT["en"].turns, "fr", tmp_path / "x.wav", stereo=False)
    with pytest.raises(ValueError):
        synth.synthesise_call([synth.ScriptedTurn("supervisor", "hello")], "en", tmp_path / "x.wav", stereo=False)
    with pytest.raises(ValueError):
        synth.synthesise_long_call(tmp_path / "x.wav", 0, "en")


def test_pinyin_conversion():
    assert synth.to_pinyin("您好，我是客服小王。") == "nin2 hao3, wo3 shi4 ke4 fu2 xiao3 wang2."
    assert synth.to_pinyin("有什么？") == "you3 shen2 me5?"  # neutral tone is 5


def test_sample_scripts_are_distinctive():
    text = {lang: " ".join(t.text for s in synth.SAMPLE_SCRIPTS.values() if s.language == lang for t in s.turns)
            for lang in ("en", "zh")}
    for word in ("refund", "invoice", "password", "verify", "hold"):
        assert word in text["en"]
    for word in ("退款", "账单", "密码", "客服小王", "身份"):
        assert word in text["zh"]
    for s in synth.SAMPLE_SCRIPTS.values():
        assert {t.role for t in s.turns} == {"agent", "customer"}


def test_write_sample_calls_sidecars(tmp_path):
    calls = synth.write_sample_calls(tmp_path, stereo_and_mono=False)
    assert len(calls) == len(synth.SAMPLE_SCRIPTS)
    assert {c.language for c in calls} == {"en", "zh"} and {c.channels for c in calls} == {1, 2}
    for call in calls:
        meta = json.loads(call.audio_path.with_suffix(".json").read_text(encoding="utf-8"))
        assert set(meta) == {"agent", "queue", "direction", "started_at", "language"}
        assert meta["direction"] in ("inbound", "outbound")
        assert datetime.fromisoformat(meta["started_at"]).tzinfo is not None
        assert meta["language"] in (None, call.language)
        assert isinstance(meta["agent"], str) and isinstance(meta["queue"], str)
        turns_path = call.audio_path.with_suffix(".turns.json")
        raw = json.loads(turns_path.read_text(encoding="utf-8"))
        assert all(set(t) == {"role", "text", "start", "end"} for t in raw)
        loaded = synth.read_turns(turns_path)
        assert [(t.role, t.text) for t in loaded] == [(t.role, t.text) for t in call.turns]
        for a, b in zip(loaded, call.turns):
            assert a.start == pytest.approx(b.start, abs=1e-6) and a.end == pytest.approx(b.end, abs=1e-6)
    # both layouts when asked
    both = synth.write_sample_calls(tmp_path / "both")
    assert len(both) == 2 * len(synth.SAMPLE_SCRIPTS)
    assert len(list((tmp_path / "both").glob("*.wav"))) == len(both)


@pytest.mark.parametrize("minutes, stereo", [(2.5, False), (2.25, True)])
def test_long_call_length(tmp_path, minutes, stereo):
    call = synth.synthesise_long_call(tmp_path / "long.wav", minutes, "en", stereo=stereo)
    assert abs(call.duration - minutes * 60) <= 1.0
    audio, rate = _read(call.audio_path)
    assert abs(audio.shape[0] / rate - minutes * 60) <= 1.0 and audio.shape[1] == (2 if stereo else 1)
    _check_turn_order(call)
    one_pass = sum(len(s.turns) for s in synth.SAMPLE_SCRIPTS.values() if s.language == "en")
    assert len(call.turns) > one_pass  # the scripts were cycled
    # reused samples: the same text renders identically wherever it appears
    first = [t for t in call.turns if t.text == call.turns[0].text]
    assert len(first) >= 2
    chan = audio.sum(axis=1)
    a, b = (chan[round(t.start * rate):round(t.end * rate)] for t in first[:2])
    np.testing.assert_array_equal(a, b)
