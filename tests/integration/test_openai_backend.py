"""openai-whisper backend run from the packaged CTranslate2 weights, converted by transcribe.ct2_convert.

The reader tests use tiny files written by ctranslate2's own serializer and need no weights; the rest
convert the real base model (`ct2_model_dir`) once per module and compare against CTranslate2 itself."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from transcribe.base import SAMPLE_RATE, Transcriber
from transcribe.ct2_convert import convert_ct2_to_openai, read_ct2_model

SENTENCE = ("Thank you for calling customer support. "
            "My name is Sarah, how can I help you with your account today?")
KEY_WORDS = {"thank", "calling", "customer", "support", "sarah", "help", "account", "today"}

# --- model.bin reader (no weights needed) -------------------------------------------------------------

def _write_tiny_ct2(path: Path, spec_name: str = "TinySpec") -> Path:
    """A small model.bin written by ctranslate2 itself: every dtype we map, a scalar and an alias."""
    from ctranslate2.specs import model_spec
    from ctranslate2.specs import common_spec

    class Tiny(model_spec.ModelSpec):
        def __init__(self):
            super().__init__()
            self.norm = common_spec.LayerNormSpec()
            self.norm.gamma = np.arange(4, dtype=np.float16)
            self.norm.beta = np.linspace(-1, 1, 4, dtype=np.float32)
            self.num_heads = np.dtype("int16").type(8)
            self.flag = True
            self.ids = np.array([3, -7], dtype=np.int32)
            self.proj = common_spec.LinearSpec()
            self.proj.weight = np.arange(6, dtype=np.float32).reshape(2, 3)
            self.tied = common_spec.LinearSpec()
            self.tied.weight = self.proj.weight.copy()  # optimize() turns this into an alias

        name = property(lambda self: spec_name)
        revision = property(lambda self: 7)

    spec = Tiny()
    spec.validate()
    spec.optimize()
    path.parent.mkdir(parents=True, exist_ok=True)
    spec._serialize(str(path))  # the writer CTranslate2's converters use
    return path


def test_reader_matches_ctranslate2_writer(tmp_path):
    model = read_ct2_model(_write_tiny_ct2(tmp_path / "model.bin"))
    assert (model.binary_version, model.spec, model.revision) == (6, "TinySpec", 7)
    assert model.aliases == {"tied/weight": "proj/weight"}
    np.testing.assert_array_equal(model.get("norm/gamma"), np.arange(4, dtype=np.float16))
    assert model.get("norm/gamma").dtype == np.float16 and model.get("norm/beta").dtype == np.float32
    assert int(model.get("num_heads")) == 8 and model.get("num_heads").shape == ()
    np.testing.assert_array_equal(model.get("ids"), [3, -7])
    np.testing.assert_array_equal(model.get("tied/weight"), np.arange(6).reshape(2, 3))


def test_truncated_model_bin_raises_model_error(tmp_path):
    data = _write_tiny_ct2(tmp_path / "full.bin").read_bytes()
    for cut in (0, 3, 10, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}" / "model.bin"
        bad.parent.mkdir()
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelError, match="truncated") as err:
            read_ct2_model(bad)
        assert str(bad) in err.value.message
        with pytest.raises(ModelError, match=re.escape(str(bad))):
            convert_ct2_to_openai(bad.parent, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_unknown_or_wrong_files_raise_model_error(tmp_path):
    not_ct2 = tmp_path / "random" / "model.bin"
    not_ct2.parent.mkdir()
    not_ct2.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelError, match="unsupported CTranslate2 binary version"):
        read_ct2_model(not_ct2)

    trailing = _write_tiny_ct2(tmp_path / "trailing" / "model.bin")
    trailing.write_bytes(trailing.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="trailing bytes"):
        read_ct2_model(trailing)

    other = _write_tiny_ct2(tmp_path / "other" / "model.bin", spec_name="TransformerSpec")
    with pytest.raises(ModelError, match="expected 'WhisperSpec'"):
        convert_ct2_to_openai(other.parent, tmp_path / "out.pt")

    with pytest.raises(ModelError, match="cannot read"):
        read_ct2_model(tmp_path / "missing" / "model.bin")


# --- the real base model ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(ct2_model_dir, tmp_path_factory) -> Path:
    return convert_ct2_to_openai(ct2_model_dir, tmp_path_factory.mktemp("openai") / "base.pt")


@pytest.fixture(scope="module")
def transcriber(checkpoint):
    from transcribe.openai_backend import OpenAIWhisperTranscriber

    return OpenAIWhisperTranscriber(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def english_audio(tmp_path_factory) -> np.ndarray:
    import whisper  # espeak-ng and ffmpeg are installed by scripts/setup.sh; missing ones fail loudly

    wav = tmp_path_factory.mktemp("tts") / "en.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), SENTENCE], check=True, capture_output=True)
    return whisper.load_audio(str(wav))  # ffmpeg: 16 kHz mono float32


@pytest.fixture(scope="module")
def ct2_reference(ct2_model_dir):
    import ctranslate2
    return ctranslate2.models.Whisper(str(ct2_model_dir), device="cpu", compute_type="float32")


def _mel(audio: np.ndarray) -> np.ndarray:
    import whisper

    return whisper.log_mel_spectrogram(whisper.pad_or_trim(audio)).numpy()[None]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.mark.slow
@pytest.mark.integration
def test_checkpoint_loads_with_whisper_load_model(checkpoint):
    import torch
    import whisper

    model = whisper.load_model(str(checkpoint), device="cpu")
    assert model.dims.n_audio_layer == 6 and model.dims.n_text_state == 512 and model.is_multilingual
    assert next(model.parameters()).dtype == torch.float32
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert all(t.dtype == torch.float16 for t in stored["model_state_dict"].values())
    assert stored["alignment_heads"] == [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]]


@pytest.mark.slow
@pytest.mark.integration
def test_backend_applies_alignment_heads(transcriber):
    heads = transcriber.model.alignment_heads.to_dense().nonzero().tolist()
    assert heads == [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]]
    assert isinstance(transcriber, Transcriber)
    assert (transcriber.backend, transcriber.model_name) == ("openai-whisper", "base")


@pytest.mark.slow
@pytest.mark.integration
def test_encoder_and_language_detection_match_ctranslate2(transcriber, ct2_reference, english_audio):
    import ctranslate2
    import torch

    mel = _mel(english_audio)
    with torch.inference_mode():
        ours = transcriber.model.encoder(torch.from_numpy(mel)).numpy()
    theirs = np.array(ct2_reference.encode(ctranslate2.StorageView.from_array(mel)))
    assert np.abs(ours - theirs).max() < 1e-2, "encoder weights are mapped wrongly"

    probs = transcriber.language_probabilities(english_audio)
    reference = dict(ct2_reference.detect_language(ctranslate2.StorageView.from_array(mel))[0])
    assert max(probs, key=probs.get) == "en" and abs(sum(probs.values()) - 1) < 1e-3
    for lang in ("en", "zh", "ja", "de"):
        assert probs[lang] == pytest.approx(reference[f"<|{lang}|>"], abs=1e-3), lang


@pytest.mark.slow
@pytest.mark.integration
def test_english_transcript_with_word_timestamps_matches_faster_whisper(
        transcriber, english_audio, ct2_model_dir):
    from faster_whisper import WhisperModel

    # greedy: openai-whisper beam search on CPU is ~3x slower (BENCHMARKS.md); the decoder is the same
    segments = transcriber.transcribe_chunk(english_audio, "en", beam_size=1, initial_prompt=None)
    duration = len(english_audio) / SAMPLE_RATE
    text = " ".join(s.text for s in segments)
    assert KEY_WORDS <= _words(text), text

    words = [w for s in segments for w in s.words]
    assert len(words) >= 15 and all(w.text == w.text.lstrip() and w.text for w in words)
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= duration + 0.05 for w in words)
    assert all(0 <= w.probability <= 1 for w in words)
    assert all(s.avg_logprob is not None and s.no_speech_prob is not None for s in segments)

    fw = WhisperModel(str(ct2_model_dir), device="cpu", compute_type="int8")
    fw_segments, _ = fw.transcribe(english_audio, language="en", beam_size=5, word_timestamps=True,
                                   condition_on_previous_text=False)
    reference = _words(" ".join(s.text for s in fw_segments))
    ours = _words(text)
    assert len(ours & reference) >= 0.8 * max(len(ours), len(reference)), (text, reference)


@pytest.mark.slow
@pytest.mark.integration
def test_accepts_loaded_model_object(transcriber):
    from transcribe.openai_backend import OpenAIWhisperTranscriber

    again = OpenAIWhisperTranscriber(transcriber.model, model_name="base-custom")
    assert again.model is transcriber.model  # shared, not reloaded
    assert (again.device, again.fp16, again.model_name) == ("cpu", False, "base-custom")


def test_corrupt_checkpoint_raises_model_error(tmp_path):
    from transcribe.openai_backend import OpenAIWhisperTranscriber

    bad = tmp_path / "base.pt"
    bad.write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(ModelError, match=re.escape(str(bad))):
        OpenAIWhisperTranscriber(bad, device="cpu")
    with pytest.raises(ModelError, match="not found"):
        OpenAIWhisperTranscriber(tmp_path / "missing.pt", device="cpu")
