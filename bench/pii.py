"""Span-level precision / recall / F1 per entity type of the PII recognizers (compliance.pii) on
presidio-research's synthetic English sentences (../shared/eval/presidio_synth_pii_en_dev).

    python bench/pii.py [--data FILE] [--min-score 0.5] [--json out.json]

Only the gold types our recognizers cover are scored (GROUPS below); a prediction counts as a true
positive when it overlaps a gold span of its group. Gold DATE_TIME covers any date or time, while we only
look for dates of birth, so its recall is a floor by construction. Our LOCATION (cities, regions) and
ADDRESS (street + number) are scored together against gold STREET_ADDRESS and GPE, since the gold splits
an address into its street part and its city/country parts differently from spaCy. Types without a
recognizer (ORGANIZATION, TITLE, ...) are listed with their counts; predictions overlapping them are
false positives.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# group -> (gold types, our entity types)
GROUPS = {
    "PHONE_NUMBER": ({"PHONE_NUMBER"}, {"PHONE_NUMBER"}),
    "EMAIL_ADDRESS": ({"EMAIL_ADDRESS"}, {"EMAIL_ADDRESS"}),
    "CREDIT_CARD": ({"CREDIT_CARD"}, {"CARD_NUMBER"}),
    "DATE_TIME": ({"DATE_TIME"}, {"DATE_OF_BIRTH"}),
    "PERSON": ({"PERSON"}, {"PERSON"}),
    "LOCATION/ADDRESS": ({"STREET_ADDRESS", "GPE"}, {"LOCATION", "ADDRESS"}),
}


def main() -> None:
    from compliance.pii import analyze

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval" / "presidio_synth_pii_en_dev"
                    / "synth_dataset_v2_first750.json")
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    items = json.loads(args.data.read_text(encoding="utf-8"))
    group_of_gold = {g: name for name, (golds, _) in GROUPS.items() for g in golds}
    group_of_ours = {o: name for name, (_, ours) in GROUPS.items() for o in ours}
    tp, fp, fn, gold_n, pred_n = Counter(), Counter(), Counter(), Counter(), Counter()
    uncovered, stray = Counter(), Counter()
    analyze("warm up John Smith", "en")  # first call loads spaCy: keep it out of the per-sentence time
    started = time.perf_counter()
    for item in items:
        gold = [(group_of_gold[s["entity_type"]], s["start_position"], s["end_position"])
                for s in item["spans"] if s["entity_type"] in group_of_gold]
        uncovered.update(s["entity_type"] for s in item["spans"] if s["entity_type"] not in group_of_gold)
        pred = []
        for f in analyze(item["full_text"], "en"):
            if f.score < args.min_score:
                continue
            if f.entity not in group_of_ours:
                stray[f.entity] += 1
                continue
            pred.append((group_of_ours[f.entity], f.start, f.end))
        for grp, s, e in pred:
            pred_n[grp] += 1
            tp[grp] += any(g == grp and s < ge and gs < e for g, gs, ge in gold)
        for grp, s, e in gold:
            gold_n[grp] += 1
            fn[grp] += not any(p == grp and s < pe and ps < e for p, ps, pe in pred)
    elapsed = time.perf_counter() - started
    rows = {}
    for grp in GROUPS:
        # a gold span is recalled once however many predictions overlap it; precision counts predictions
        recalled = gold_n[grp] - fn[grp]
        p = tp[grp] / max(1, pred_n[grp])
        r = recalled / max(1, gold_n[grp])
        rows[grp] = {"gold": gold_n[grp], "pred": pred_n[grp], "P": round(p, 3), "R": round(r, 3),
                     "F1": round(2 * p * r / (p + r) if p + r else 0.0, 3)}
    print(f"{len(items)} sentences, min score {args.min_score}, "
          f"{1000 * elapsed / len(items):.1f} ms per sentence (all recognizers, spaCy NER included)")
    print(f"{'group':17} {'ours':22} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for grp, row in rows.items():
        ours = "+".join(sorted(GROUPS[grp][1]))
        print(f"{grp:17} {ours:22} {row['gold']:5} {row['pred']:5} {row['P']:6.3f} {row['R']:6.3f} {row['F1']:6.3f}")
    if stray:
        print("predictions of types not in the gold mapping (not scored):", dict(stray))
    print("gold types without a recognizer:", dict(uncovered.most_common()))
    if args.json:
        args.json.write_text(json.dumps({"sentences": len(items), "min_score": args.min_score, "groups": rows,
                                         "ms_per_sentence": round(1000 * elapsed / len(items), 2)}, indent=2))


if __name__ == "__main__":
    main()
