"""openai-whisper backend: the reference implementation, run from a checkpoint made by `ct2_convert`.

whisper and torch are imported lazily so importing this module stays cheap (the CLI imports every backend).
"""
from __future__ import annotations

import base64
import gzip
import pickle
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelError
from core.models import Segment, Word
from transcribe.base import SAMPLE_RATE

if TYPE_CHECKING:
    from whisper.model import Whisper

# (n_audio_layer, n_audio_state, n_text_layer) -> official size name; n_vocab tells .en and v3 apart.
_SIZES = {(4, 384, 4): "tiny", (6, 512, 6): "base", (12, 768, 12): "small", (24, 1024, 24): "medium",
          (32, 1280, 32): "large", (32, 1280, 4): "large-v3-turbo"}
_ENGLISH_ONLY_VOCAB = 51864
_V3_VOCAB = 51866


def _encode_alignment_heads(heads: list[list[int]], n_layer: int, n_head: int) -> bytes:
    """The gzip+base85 dense bool mask that `Whisper.set_alignment_heads` expects."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def load_checkpoint(path: str | Path, device: str = "cpu") -> "Whisper":
    """`whisper.load_model` for our converted checkpoints, plus the alignment heads it stores (see
    `ct2_convert.convert_ct2_to_openai`). Weights are fp16 in the file and fp32 in the model."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
    except FileNotFoundError as e:
        raise ModelError(f"{path}: openai-whisper checkpoint not found") from e
    except (OSError, EOFError, pickle.UnpicklingError, RuntimeError, KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: not a loadable openai-whisper checkpoint ({type(e).__name__}: {e})") from e
    heads = checkpoint.get("alignment_heads")
    if heads:
        dims = model.dims
        model.set_alignment_heads(_encode_alignment_heads(heads, dims.n_text_layer, dims.n_text_head))
    return model.to(device)


def model_size_name(model: "Whisper") -> str:
    d = model.dims
    name = _SIZES.get((d.n_audio_layer, d.n_audio_state, d.n_text_layer), f"custom-{d.n_audio_state}")
    if d.n_vocab == _ENGLISH_ONLY_VOCAB:
        return f"{name}.en"
    if d.n_vocab == _V3_VOCAB and name == "large":
        return "large-v3"
    return name


def _to_word(w: dict[str, Any], offset: float) -> Word:
    start = float(w["start"]) + offset
    # Word rejects end < start; whisper's timestamp repair can leave float noise of that kind.
    return Word(text=w["word"].lstrip(), start=start, end=max(float(w["end"]) + offset, start),
                probability=float(w["probability"]))


def _to_segment(s: dict[str, Any], offset: float = 0.0) -> Segment:
    return Segment(
        start=float(s["start"]) + offset, end=float(s["end"]) + offset, text=s["text"].strip(),
        words=tuple(_to_word(w, offset) for w in s.get("words", ()) if w["word"].strip()),
        avg_logprob=float(s["avg_logprob"]), no_speech_prob=float(s["no_speech_prob"]),
    )


class OpenAIWhisperTranscriber:
    backend = "openai-whisper"

    def __init__(self, model: "str | Path | Whisper", device: str | None = None, *,
                 model_name: str | None = None, vad_filter: bool = True):
        """`model`: a checkpoint written by `ct2_convert` (or any openai-whisper .pt), or a loaded Whisper."""
        import torch

        if isinstance(model, (str, Path)):
            self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.model = load_checkpoint(model, self.device)
        else:
            self.device = device or str(next(model.parameters()).device)
            self.model = model.to(self.device)
        self.model.eval()
        self.model_name = model_name or model_size_name(self.model)
        self.fp16 = self.device.startswith("cuda")  # whisper refuses fp16 on CPU (and would be slow there)
        self.vad_filter = vad_filter
        # whisper installs kv-cache hooks on the shared modules for each decode: one decode at a time.
        self._lock = threading.Lock()

    def language_probabilities(self, audio: np.ndarray) -> dict[str, float]:
        import torch
        import whisper

        if not self.model.is_multilingual:
            return {"en": 1.0}
        audio = whisper.pad_or_trim(np.ascontiguousarray(audio, dtype=np.float32))
        mel = whisper.log_mel_spectrogram(audio, n_mels=self.model.dims.n_mels).to(self.model.device)
        with torch.inference_mode():
            _, probs = self.model.detect_language(mel.half() if self.fp16 else mel)
        return {lang: float(p) for lang, p in probs.items()}

    def transcribe_chunk(
        self, audio: np.ndarray, language: str, *, beam_size: int, initial_prompt: str | None
    ) -> list[Segment]:
        import whisper

        options: dict[str, Any] = {}
        # whisper uses beam search whenever beam_size is set, even 1; leave it out for greedy. At fallback
        # temperatures (> 0) whisper drops beam_size and samples instead, as faster-whisper does.
        if beam_size > 1:
            options["beam_size"] = beam_size
        offset = 0.0
        if self.vad_filter:
            span = speech_span(audio)
            if span is None:
                return []
            start, end = (int(x * SAMPLE_RATE) for x in span)
            audio, offset = audio[start:end], span[0]
        with self._lock:
            result = whisper.transcribe(
                self.model, np.ascontiguousarray(audio, dtype=np.float32), language=language,
                task="transcribe", word_timestamps=True, initial_prompt=initial_prompt,
                condition_on_previous_text=False, fp16=self.fp16, verbose=None, **options,
            )
        return [_to_segment(s, offset) for s in result["segments"]]



def speech_span(audio: np.ndarray) -> tuple[float, float] | None:
    """(first speech start, last speech end) in seconds by Silero VAD (shipped with faster-whisper), or
    None when there is no speech. Decoding only that span stops whisper from looping on leftover
    non-speech windows at the end of a chunk, which on CPU with beam search cost minutes per window.
    (whisper's own `clip_timestamps` was tried first: it never returned on a 6 s clip.)"""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32),
                                  VadOptions(speech_pad_ms=400))
    if not spans:
        return None
    return spans[0]["start"] / SAMPLE_RATE, spans[-1]["end"] / SAMPLE_RATE
