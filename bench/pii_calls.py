"""Personal data left visible after redaction on the synthesised benchmark calls, in three layouts.

    python bench/pii_calls.py [--variants stereo16k,mono16k,stereo8k] [--json out.json]

The 8 labelled scripts of bench/synth_dataset.py are synthesised as stereo at 16 kHz, mono at 16 kHz
(pyannote diarization) and stereo at 8 kHz (telephone), each run through the real pipeline
(bench/accuracy.py: Whisper, roles, redacted transcript and redacted audio, re-transcription of the redacted
audio). Per call: labelled values, values the ASR heard, and how many of those stay visible in the redacted
transcript and in the re-transcribed redacted audio (a value counts as visible when its digits, or its
words for names and dates, can still be read there).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {"stereo16k": (True, 16000), "mono16k": (False, 16000), "stereo8k": (True, 8000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from bench.accuracy import evaluate
    from bench.synth_dataset import build_accuracy_set
    from pipeline.config import offline_defaults

    offline_defaults()
    out = {}
    for name in a.variants.split(","):
        stereo, rate = VARIANTS[name]
        with tempfile.TemporaryDirectory(prefix=f"callqa-pii-{name}-") as tmp:
            res = evaluate(build_accuracy_set(Path(tmp), stereo=stereo, sample_rate=rate), log=lambda *_: None)
        rows = [(r["id"], r.get("redaction")) for r in res["per_item"]]
        out[name] = {"rows": rows, "redaction": res.get("redaction"), "alerts": res.get("alerts", {}).get("micro")}
        print(f"== {name}")
        for call_id, red in rows:
            if red:
                print(f"  {call_id:24s} labelled {red['gold']}  heard {red['heard']}  visible in redacted transcript "
                      f"{red['heard'] - red['masked_text']}  visible in re-transcribed redacted audio "
                      f"{red['heard'] - red['masked_audio']}")
            else:
                print(f"  {call_id:24s} no labelled personal data")
        print(f"  total: {res.get('redaction')}")
    if a.json:
        a.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
