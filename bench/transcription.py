"""Transcription throughput and accuracy for each backend.

    python bench/transcription.py [--backends faster-whisper openai-whisper] [--eval ../shared/eval]

Per backend, in a fresh subprocess (so peak memory is that backend's own):
  - throughput on synthesised calls (en + zh, 8 kHz telephone audio): audio seconds per wall second, RTF,
    model load time, peak RSS;
  - accuracy: WER (English) / CER (Mandarin) with jiwer against the scripted text of the synthesised calls,
    and against ../shared/eval/asr_smoke_samples/references.tsv when that folder exists.
Prints one table; `--json FILE` also writes the figures.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _norm(text: str, language: str) -> str:
    from core.chinese import to_script

    if language == "zh":
        return " ".join(re.findall(r"[\u4e00-\u9fff]", to_script(text, "zh-Hans")))
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _items(eval_dir: Path | None, work: Path):
    """(name, path, channel, language, reference) for every clip to transcribe."""
    from demo.synth import write_sample_calls

    items = []
    for call in write_sample_calls(work / "synth", stereo_and_mono=False):
        sep = " " if call.language == "en" else ""
        items.append((f"synth:{call.call_id}", call.audio_path, None, call.language,
                      sep.join(t.text for t in call.turns)))
    smoke = eval_dir / "asr_smoke_samples" if eval_dir else None
    if smoke and (smoke / "references.tsv").exists():
        with open(smoke / "references.tsv", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                ch = row["channel"]
                channel = None if ch == "mono" else int(ch.split("(")[1].rstrip(")"))
                items.append((f"smoke:{row['file']}:{ch}", smoke / row["file"], channel, row["language"],
                              row["reference_text"]))
    return items


def run_backend(backend: str, eval_dir: Path | None) -> dict:
    import jiwer

    from infra.audio import inspect_recording
    from transcribe.base import TranscribeOptions
    from transcribe.registry import build_transcriber
    from transcribe.run import transcribe_recording

    with tempfile.TemporaryDirectory() as tmp:
        items = _items(eval_dir, Path(tmp))
        t0 = time.perf_counter()
        model = build_transcriber(backend, "base", "cpu")
        load_s = time.perf_counter() - t0
        rows, audio_total, wall_total = [], 0.0, 0.0
        for name, path, channel, language, reference in items:
            info = inspect_recording(path)
            t0 = time.perf_counter()
            t = transcribe_recording(model, path, name, duration=info.duration, channel=channel,
                                     options=TranscribeOptions(language=language))
            wall = time.perf_counter() - t0
            audio_total += info.duration
            wall_total += wall
            ref, hyp = _norm(reference, language), _norm(t.text, language)
            err = jiwer.wer(ref, hyp) if hyp else 1.0  # zh tokens are characters: this is CER
            rows.append({"item": name, "language": language, "audio_s": round(info.duration, 2),
                         "wall_s": round(wall, 2), "error_rate": round(err, 4), "hypothesis": t.text})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"backend": backend, "load_s": round(load_s, 2), "audio_s": round(audio_total, 1),
            "wall_s": round(wall_total, 1), "audio_s_per_s": round(audio_total / wall_total, 2),
            "rtf": round(wall_total / audio_total, 3), "peak_rss_mb": round(peak_mb), "items": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["faster-whisper", "openai-whisper"])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    eval_dir = args.eval if args.eval.is_dir() else None
    if args.worker:
        print(json.dumps(run_backend(args.worker, eval_dir), ensure_ascii=False))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = []
    for backend in args.backends:
        out = subprocess.run([sys.executable, __file__, "--worker", backend, "--eval", str(args.eval)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'backend':15} {'load s':>7} {'audio s':>8} {'wall s':>7} {'audio s/s':>9} {'RTF':>6} {'peak MB':>8}")
    for r in results:
        print(f"{r['backend']:15} {r['load_s']:7} {r['audio_s']:8} {r['wall_s']:7} {r['audio_s_per_s']:9} "
              f"{r['rtf']:6} {r['peak_rss_mb']:8}")
    print("\nerror rate per item (WER for en, CER for zh)")
    names = [i["item"] for i in results[0]["items"]]
    print(f"{'item':55} " + " ".join(f"{r['backend']:>15}" for r in results))
    for k, name in enumerate(names):
        print(f"{name:55} " + " ".join(f"{r['items'][k]['error_rate']:15.3f}" for r in results))
    for lang, label in (("en", "WER"), ("zh", "CER")):
        for src in ("synth", "smoke"):
            for r in results:
                errs = [i["error_rate"] for i in r["items"] if i["language"] == lang and i["item"].startswith(src)]
                if errs:
                    print(f"mean {label} {src:5} {lang}: {r['backend']:15} {sum(errs) / len(errs):.3f} (n={len(errs)})")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
