"""A torch network run by ONNX Runtime on CPU: exported once per weights file, cached on disk.

CAM++ (the diarization speaker embedding) ran 2.0x faster under ONNX Runtime than in eager torch on this
2-core CPU at 2 threads (1.35x at 1), with the same DER (`python bench/diarization.py --threads 2
--embedding-runtime onnx torch`); the embedding step is about 90% of diarization's cost. The export (3-4 s)
is written next to the packaged weights' joined copies (`transcribe.weights.models_dir()`), under a name
holding the weights' digest and the torch version, so each worker process after the first only loads it.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from core.errors import ModelError
from transcribe.weights import file_sha256


class OnnxExportError(ModelError):
    """The network could not be exported to ONNX, or ONNX Runtime could not load the export."""

    code = "E304"


def export_path(cache_dir: Path, name: str, weights: Path) -> Path:
    import torch

    return cache_dir / f"{name}-{file_sha256(weights)[:16]}-torch{torch.__version__.replace('+', '_')}.onnx"


def export(module: Any, example: Any, path: Path, *, time_axis: int = 1) -> Path:
    """`module` (eval mode) to `path` with a dynamic batch (axis 0) and time axis; written to a temporary
    file in the same folder and moved into place, so a worker killed mid-export leaves no half file."""
    import torch

    try:
        import onnx  # noqa: F401 - torch's exporter needs it; checked here for a clear error
    except ImportError as e:
        raise OnnxExportError("the 'onnx' package is needed to export the speaker-embedding network; "
                              "install it with: bash scripts/install_diarization.sh <venv>") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".onnx")
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # the tracer notes each Python branch it fixes (e.g. CAM++'s "std if time > 1"): see `_embed`
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, (example,), tmp, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch", time_axis: "time"}, "output": {0: "batch"}},
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)
    except Exception as e:  # noqa: BLE001 - any exporter failure becomes one coded error
        raise OnnxExportError(f"exporting {type(module).__name__} to ONNX failed: {type(e).__name__}: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def session(path: Path, *, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session for `path`; `threads` 0 = ONNX Runtime's default (one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: this runs beside speech recognition on the same cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file in the cache
        raise OnnxExportError(f"ONNX Runtime could not load {path.name}: {type(e).__name__}: {e}; "
                              f"delete it to export again") from e


def cached_session(module: Any, example: Any, *, name: str, weights: Path, cache_dir: Path,
                   threads: int = 0) -> Any:
    """The session for `module`, exporting it first if this weights file and torch version have no export yet."""
    path = export_path(cache_dir, name, weights)
    if not path.is_file():
        export(module, example, path)
    return session(path, threads=threads)
