"""Span-level precision / recall / F1 per entity type of the PII recognizers (compliance.pii) on
presidio-research's synthetic English sentences (../shared/eval/presidio_synth_pii_en_dev).

    python bench/pii.py [--data FILE] [--min-score 0.5]

Only the gold types our recognizers cover are scored (mapping below); a prediction counts as a true
positive when it overlaps a gold span of the mapped type. Gold DATE_TIME covers any date or time, while we
only look for dates of birth, so its recall is a floor by construction. Types without a recognizer yet
(PERSON, STREET_ADDRESS, ...: NER is not wired in) are listed with their counts.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOLD_TO_OURS = {"PHONE_NUMBER": "PHONE_NUMBER", "EMAIL_ADDRESS": "EMAIL_ADDRESS",
                "CREDIT_CARD": "CARD_NUMBER", "DATE_TIME": "DATE_OF_BIRTH"}


def main() -> None:
    from compliance.pii import analyze

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval" / "presidio_synth_pii_en_dev"
                    / "synth_dataset_v2_first750.json")
    ap.add_argument("--min-score", type=float, default=0.5)
    args = ap.parse_args()
    items = json.loads(args.data.read_text(encoding="utf-8"))
    tp, fp, fn = Counter(), Counter(), Counter()
    uncovered = Counter()
    for item in items:
        gold = [(GOLD_TO_OURS[s["entity_type"]], s["start_position"], s["end_position"])
                for s in item["spans"] if s["entity_type"] in GOLD_TO_OURS]
        uncovered.update(s["entity_type"] for s in item["spans"] if s["entity_type"] not in GOLD_TO_OURS)
        pred = [(f.entity, f.start, f.end) for f in analyze(item["full_text"], "en") if f.score >= args.min_score]
        for ent, s, e in pred:
            if any(g == ent and s < ge and gs < e for g, gs, ge in gold):
                tp[ent] += 1
            else:
                fp[ent] += 1
        for ent, s, e in gold:
            if not any(p == ent and s < pe and ps < e for p, ps, pe in pred):
                fn[ent] += 1
    print(f"{len(items)} sentences, min score {args.min_score}")
    print(f"{'gold type':15} {'ours':15} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for gold_type, ent in GOLD_TO_OURS.items():
        p = tp[ent] / max(1, tp[ent] + fp[ent])
        r = (tp[ent]) / max(1, tp[ent] + fn[ent])
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"{gold_type:15} {ent:15} {tp[ent] + fn[ent]:5} {tp[ent] + fp[ent]:5} {p:6.3f} {r:6.3f} {f1:6.3f}")
    other = Counter({k: v for k, v in fp.items() if k not in GOLD_TO_OURS.values()})
    if other:
        print("predictions of types not in the gold mapping (counted as false positives):", dict(other))
    print("gold types without a recognizer yet:", dict(uncovered.most_common()))


if __name__ == "__main__":
    main()
