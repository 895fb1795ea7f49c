"""Named backends. A model is given as the packaged name ("base"), a path, or an already loaded object."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from core.errors import ConfigError
from core.plugins import Registry
from transcribe.base import Transcriber
from transcribe.weights import resolve_ct2_model, resolve_openai_checkpoint


def _faster(model, device, batch_size: int = 1, parallel: int = 1):
    from transcribe.faster_backend import FasterWhisperTranscriber

    if isinstance(model, (str, Path)):
        name = "base" if str(model) == "base" else Path(model).name
        return FasterWhisperTranscriber(resolve_ct2_model(model), model_name=name, device=device,
                                        batch_size=batch_size, parallel=parallel)
    return FasterWhisperTranscriber(model, device=device, batch_size=batch_size)


def _openai(model, device):
    from transcribe.openai_backend import OpenAIWhisperTranscriber

    if isinstance(model, (str, Path)):
        return OpenAIWhisperTranscriber(resolve_openai_checkpoint(model), device=device)
    return OpenAIWhisperTranscriber(model, device=device)


def _factory(name: str, item: object) -> Callable:
    if not callable(item):
        raise ValueError("a transcription backend must be a callable factory(model, device) -> Transcriber")
    return item


# plug-ins: entry-point group "callqa.asr_backends", name = the `backend` setting (core.plugins); the object
# is a factory(model, device) returning a transcribe.base.Transcriber
BACKENDS: Registry[Callable] = Registry("transcription backend", check=_factory)
BACKENDS.register("faster-whisper", _faster)
BACKENDS.register("openai-whisper", _openai)
DEFAULT_BACKEND = "faster-whisper"


def build_transcriber(backend: str = DEFAULT_BACKEND, model="base", device: str | None = None, *,
                      batch_size: int = 1, parallel: int = 1) -> Transcriber:
    """`batch_size` > 1: batched decoding, for backends that take it (faster-whisper); 1: sequential.
    `parallel` > 1: that many decodes at once on one loaded model (faster-whisper), else 1."""
    if backend not in BACKENDS:
        raise ConfigError(BACKENDS.unknown(backend).message)
    extra = {k: v for k, v in (("batch_size", batch_size), ("parallel", parallel)) if v != 1}
    if not extra:
        return BACKENDS[backend](model, device)
    try:
        return BACKENDS[backend](model, device, **extra)
    except TypeError:
        if "batch_size" in extra:
            raise ConfigError(f"transcription backend {backend!r} does not decode in batches; set asr_batch_size: 1"
                              ) from None
        return BACKENDS[backend](model, device)  # a backend without parallel decodes runs one at a time
