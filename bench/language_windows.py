"""Language detection: every speech window (detect_confident None) against stopping once sure (0.98, default).

    python bench/language_windows.py [--minutes 10] [--rounds 2] [--json FILE]

Calls: a synthesised stereo English call and a Mandarin one of `--minutes` each, and every stereo sample call
(en + zh). Each is detected both ways, interleaved, on a transcriber of its own each time (the loaded model
wrapped afresh, so no VAD result is reused between the two), with `transcribe.run.detect_recording_language`
as the pipeline calls it (the agent channel and the customer's). Prints the windows decoded, seconds (VAD
of both first chunks included), and the language and probability found; the detected language must agree.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from demo.synth import synthesise_long_call, write_sample_calls
    from transcribe.base import TranscribeOptions
    from transcribe.faster_backend import FasterWhisperTranscriber
    from transcribe.registry import build_transcriber
    from transcribe.run import detect_recording_language

    loaded = build_transcriber("faster-whisper", "base", None).model
    ways = {"every window": replace(TranscribeOptions(), detect_confident=None),
            "stop at 0.98": TranscribeOptions()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        calls = [(f"{lang} {args.minutes:g} min", lang,
                  synthesise_long_call(tmp / f"long_{lang}.wav", args.minutes, lang, stereo=True).audio_path)
                 for lang in ("en", "zh")]
        calls += [(c.call_id, c.language, c.audio_path)
                  for c in write_sample_calls(tmp / "samples", stereo_and_mono=False) if c.channels == 2]
        for round_ in range(args.rounds):
            for name, truth, path in calls:
                for way, options in ways.items():
                    fresh = FasterWhisperTranscriber(loaded)  # its own VAD memo; the model stays loaded
                    t0 = time.perf_counter()
                    guess = detect_recording_language(fresh, path, options, channel=0, detect_channels=(1,))
                    rows.append({"round": round_, "call": name, "truth": truth, "way": way,
                                 "seconds": round(time.perf_counter() - t0, 2), "windows": guess.windows,
                                 "language": guess.language, "probability": round(guess.probability, 4)})
                    print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    print(f"\n{'call':<28} {'way':<13} {'windows':>7} {'seconds (mean)':>14} {'language':>8} {'p':>7}")
    for name, truth, _ in calls:
        for way in ways:
            sel = [r for r in rows if r["call"] == name and r["way"] == way]
            mean = sum(r["seconds"] for r in sel) / len(sel)
            print(f"{name:<28} {way:<13} {sel[-1]['windows']:>7} {mean:>14.2f} {sel[-1]['language']:>8} "
                  f"{sel[-1]['probability']:>7}")
    for way in ways:
        sel = [r for r in rows if r["way"] == way]
        right = sum(r["language"] == r["truth"] for r in sel)
        print(f"{way}: {right}/{len(sel)} right, {sum(r['seconds'] for r in sel):.1f} s in all")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
