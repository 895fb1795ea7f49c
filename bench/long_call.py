"""Memory does not grow with call length: peak RSS transcribing a 1-minute vs a long synthesised call.

    python bench/long_call.py [--minutes 1 30] [--backend faster-whisper]

Each length runs in a fresh subprocess (faster-whisper, packaged base model, CPU, 5-minute chunks).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(minutes: float, backend: str) -> dict:
    from infra.audio import inspect_recording
    from demo.synth import synthesise_long_call
    from transcribe.registry import build_transcriber
    from transcribe.run import transcribe_recording

    with tempfile.TemporaryDirectory() as tmp:
        call = synthesise_long_call(Path(tmp) / "long.wav", minutes, "en")
        info = inspect_recording(call.audio_path)
        model = build_transcriber(backend, "base", "cpu")
        base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        t = transcribe_recording(model, call.audio_path, "long", duration=info.duration)
        wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"minutes": minutes, "audio_s": round(info.duration, 1), "wall_s": round(wall, 1),
            "audio_s_per_s": round(info.duration / wall, 2), "peak_rss_mb_after_load": round(base_mb),
            "peak_rss_mb": round(peak_mb), "segments": len(t.segments)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", nargs="+", type=float, default=[1.0, 30.0])
    ap.add_argument("--backend", default="faster-whisper")
    ap.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(measure(args.worker, args.backend)))
        return
    print(f"{'minutes':>7} {'audio s':>8} {'wall s':>7} {'audio s/s':>9} {'RSS after load MB':>18} {'peak RSS MB':>11}")
    for m in args.minutes:
        out = subprocess.run([sys.executable, __file__, "--worker", str(m), "--backend", args.backend],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['minutes']:7} {r['audio_s']:8} {r['wall_s']:7} {r['audio_s_per_s']:9} "
              f"{r['peak_rss_mb_after_load']:18} {r['peak_rss_mb']:11}")


if __name__ == "__main__":
    main()
