"""Batching across calls in flight (issue 16): several calls transcribed at once by one worker's batched model,
with and without `transcribe.call_batches.CallBatcher`.

    python bench/calls_in_flight.py [--calls 3] [--minutes 3] [--batch-size 8]

`--calls` synthesised two-speaker English calls (stereo, 8 kHz, different pauses between turns) of `--minutes` each, decoded
once as the pipeline does, then transcribed by `transcribe_channels` (both channels in shared batches) with
the packaged base model (int8; CUDA when there is one) three ways, model loaded and warmed first:
one call after another; all at once in threads, each decoding its own batches; all at once through one
CallBatcher (chunks queued during a decode share the next pass). Prints wall seconds, audio seconds per
wall second, the batcher's passes and shared passes, and the word difference of each way against the first.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    from pipeline.config import offline_defaults

    offline_defaults()
    import jiwer

    from bench.transcription import _norm
    from demo.synth import synthesise_long_call
    from infra.audio import inspect_recording
    from transcribe.call_batches import CallBatcher
    from transcribe.registry import build_transcriber
    from transcribe.run import LanguageGuess, transcribe_channels

    with tempfile.TemporaryDirectory(prefix="bench-inflight-") as tmp:
        tmp = Path(tmp)
        infos = []
        for i in range(args.calls):
            call = synthesise_long_call(tmp / f"c{i}.wav", args.minutes, "en", stereo=True, gap_seconds=0.4 + 0.15 * i)
            infos.append((f"c{i}", inspect_recording(call.audio_path, pcm_dir=tmp / f"pcm{i}", mixdown=False)))
        audio_s = sum(info.duration for _, info in infos)
        model = build_transcriber("faster-whisper", "base", None, batch_size=args.batch_size)
        name, info = infos[0]
        transcribe_channels(model, info.decoded, "warm", [(0, "A"), (1, "C")], duration=20.0,
                            guess=LanguageGuess("en", 1.0))

        def one(m, name, info, out):
            pair = transcribe_channels(m, info.decoded, name, [(0, "A"), (1, "C")], duration=info.duration,
                                       guess=LanguageGuess("en", 1.0))
            out[name] = " ".join(_norm(t.text, "en") for t in pair)

        rows, texts = [], {}
        for way in ("one after another", "threads, own batches", "threads, CallBatcher"):
            out: dict[str, str] = {}
            m = CallBatcher(model) if way.endswith("CallBatcher") else model
            t0 = time.perf_counter()
            if way == "one after another":
                for name, info in infos:
                    one(m, name, info, out)
            else:
                threads = [threading.Thread(target=one, args=(m, name, info, out)) for name, info in infos]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            wall = time.perf_counter() - t0
            texts[way] = [out[n] for n, _ in infos]
            stats = m.stats() if isinstance(m, CallBatcher) else None
            diff = jiwer.wer(texts["one after another"], texts[way]) if way != "one after another" else 0.0
            rows.append((way, wall, audio_s / wall, stats, diff))
            print(f"{way}: {wall:.1f} s", flush=True)
    print(f"\n{args.calls} calls x {args.minutes:g} min stereo, batch {args.batch_size}")
    print(f"{'way':<24} {'wall s':>7} {'audio s/s':>9} {'passes':>7} {'shared':>7} {'word diff':>9}")
    for way, wall, aps, stats, diff in rows:
        print(f"{way:<24} {wall:>7.1f} {aps:>9.2f} {stats.decodes if stats else '-':>7} "
              f"{stats.shared if stats else '-':>7} {diff:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
