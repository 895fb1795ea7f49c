"""Named backends. A model is given as the packaged name ("base"), a path, or an already loaded object."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from core.errors import ConfigError
from transcribe.base import Transcriber
from transcribe.weights import resolve_ct2_model, resolve_openai_checkpoint


def _faster(model, device):
    from transcribe.faster_backend import FasterWhisperTranscriber

    if isinstance(model, (str, Path)):
        name = "base" if str(model) == "base" else Path(model).name
        return FasterWhisperTranscriber(resolve_ct2_model(model), model_name=name, device=device)
    return FasterWhisperTranscriber(model, device=device)


def _openai(model, device):
    from transcribe.openai_backend import OpenAIWhisperTranscriber

    if isinstance(model, (str, Path)):
        return OpenAIWhisperTranscriber(resolve_openai_checkpoint(model), device=device)
    return OpenAIWhisperTranscriber(model, device=device)


BACKENDS: dict[str, Callable] = {"faster-whisper": _faster, "openai-whisper": _openai}
DEFAULT_BACKEND = "faster-whisper"


def build_transcriber(backend: str = DEFAULT_BACKEND, model="base", device: str | None = None) -> Transcriber:
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise ConfigError(f"unknown transcription backend {backend!r}; choose one of {sorted(BACKENDS)}") from None
    return factory(model, device)
