"""Transcription and diarization on a GPU: audio hours processed per wall-clock hour (issue 16).

    python bench/gpu.py [--minutes 10] [--calls 8] [--batch-sizes 1 8 16] [--model base] [--device cuda]
                        [--json FILE]

Synthesised two-speaker English calls of `--minutes` (8 kHz, stereo: one party per channel, as telephony
recorders write them) go through the production code paths:
  transcription  `pipeline.conversation.transcribe_conversation` with faster-whisper on `--device` (float16
                 on CUDA, int8 on CPU), sequential (batch 1, channels side by side: asr_parallel 2) and
                 batched (`asr_batch_size` N: faster-whisper's BatchedInferencePipeline), calls run 2 at a time
                 like the batch flow
  diarization    pyannote (segmentation-3.0 + CAM++, embeddings batched by 32) on the mono mixdown of each
                 call, model on `--device`
Models load before any clock starts (reported as load_s). Printed per configuration: wall seconds, audio
hours per hour (= audio seconds / wall seconds), and the GPU's peak memory (torch; CTranslate2 memory is
not visible to torch, so `nvidia-smi` is sampled too when present).

On a machine without CUDA it says so and stops (exit 2) unless `--device cpu` is given, which runs the same
measurement on the CPU (a smoke test of this script: the figures are not GPU figures).
Needs: a CUDA build of torch for pyannote on the GPU, and the CUDA 12 runtime, cuBLAS and cuDNN 9 libraries
for CTranslate2 (the `nvidia-cublas-cu12` and `nvidia-cudnn-cu12` wheels, or the system's).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cuda_available() -> tuple[bool, str]:
    try:
        import ctranslate2

        n = ctranslate2.get_cuda_device_count()
    except Exception as e:  # noqa: BLE001 - report whatever stops CUDA here
        return False, f"CTranslate2 sees no CUDA ({type(e).__name__})"
    if n == 0:
        return False, "CTranslate2 sees no CUDA device"
    return True, f"{n} CUDA device(s)"


def _gpu_memory_mb() -> int | None:
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True)
    try:
        return max(int(x) for x in out.stdout.split())
    except ValueError:
        return None


def _row(what: str, audio_s: float, wall: float, load_s: float, **extra) -> dict:
    return {"what": what, "audio_h": round(audio_s / 3600, 3), "wall_s": round(wall, 2),
            "audio_h_per_h": round(audio_s / wall, 1), "load_s": round(load_s, 2),
            "gpu_mem_mb": _gpu_memory_mb(), **extra}


def transcription(calls, device: str, batch_size: int, model: str) -> dict:
    from core.models import Call
    from infra.audio import inspect_recording
    from pipeline.conversation import transcribe_conversation
    from transcribe.registry import build_transcriber

    t0 = time.perf_counter()
    transcriber = build_transcriber("faster-whisper", model, device, batch_size=batch_size, parallel=2)
    load = time.perf_counter() - t0
    infos = [inspect_recording(c.audio_path) for c in calls]

    def one(i: int) -> int:
        call = Call(id=f"gpu-{i}", object_key=f"recordings/gpu-{i}.wav", etag="e", language="en")
        t = transcribe_conversation(transcriber, calls[i].audio_path, call, infos[i])
        return len(t.words)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        words = sum(pool.map(one, range(len(calls))))
    wall = time.perf_counter() - t0
    return _row(f"transcription {model} batch {batch_size}", sum(i.duration for i in infos), wall, load,
                words=words, device=device)


def diarization(mono_paths, device: str) -> dict:
    from infra.audio import load_audio
    from transcribe.diarize import PyannoteDiarizer

    t0 = time.perf_counter()
    diarizer = PyannoteDiarizer(device=device)
    load = time.perf_counter() - t0
    audios = [load_audio(p) for p in mono_paths]
    diarizer.diarize(audios[0][: 16000 * 20])  # warm-up (kernels, allocator)
    t0 = time.perf_counter()
    turns = sum(len(diarizer.diarize(a)) for a in audios)
    wall = time.perf_counter() - t0
    extra = {}
    if device.startswith("cuda"):
        import torch

        extra["torch_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return _row("diarization pyannote", sum(len(a) / 16000 for a in audios), wall, load, turns=turns,
                device=device, **extra)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    ap.add_argument("--model", default="base")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--skip-diarization", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from pipeline.config import offline_defaults

    offline_defaults()
    if args.device.startswith("cuda"):
        ok, why = cuda_available()
        if not ok:
            print(f"no GPU here: {why}; run it where CUDA is, or pass --device cpu for a smoke test",
                  file=sys.stderr)
            return 2
    from demo.synth import synthesise_long_call

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        tmp = Path(tmp)
        first = synthesise_long_call(tmp / "call-0.wav", args.minutes, "en", stereo=True)
        calls = [first]
        for i in range(1, args.calls):  # the same audio under other names: the cost is per call, not per text
            path = tmp / f"call-{i}.wav"
            shutil.copyfile(first.audio_path, path)
            calls.append(type(first)(**{**first.__dict__, "audio_path": path}))
        mono = tmp / "mono.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(first.audio_path), "-ac", "1", str(mono)],
                       check=True)
        for bs in args.batch_sizes:
            rows.append(transcription(calls, args.device, bs, args.model))
            print(json.dumps(rows[-1]), flush=True)
        if not args.skip_diarization:
            rows.append(diarization([mono] * args.calls, args.device))
            print(json.dumps(rows[-1]), flush=True)
    header = {"device": args.device, "cpus": os.cpu_count(), "minutes": args.minutes, "calls": args.calls}
    if args.device.startswith("cuda"):
        import torch

        header["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "torch without CUDA"
    print(json.dumps(header))
    if args.json:
        args.json.write_text(json.dumps({**header, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
