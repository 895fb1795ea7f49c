"""Calibrate the threshold of each example set (scoring/examples/*.yaml) on the DEV half of bench/judgement.

    python bench/calibrate_examples.py [--write]

Precision first: for each set, the threshold is the lowest value at which no dev call whose label says the
item is absent would match (the highest such call's best score + 0.005, kept within 0.85..0.99). Printed
beside it: how many dev calls whose label says the item is present match at that threshold. An utterance
counts when its best similarity to a positive example reaches the threshold and beats its best similarity to
the near misses (`unlike`), as scoring.rules.Similar decides. `--write` stores the thresholds in the files.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.judgement import load_calls  # noqa: E402

# set -> (role whose turns are scored, call is positive?, call is negative?) from the call's labels
def _sop(q, *vals):
    return lambda c: c.sop.get(q) in vals


def _risk(r):
    return lambda c: r in c.risks


def _no_risk(r):
    return lambda c: r not in c.risks


TARGETS = {
    "problem_statement": ("customer", _sop("empathy", "pass", "fail"), _sop("empathy", "na")),
    "empathy": ("agent", _sop("empathy", "pass"), _sop("empathy", "fail")),
    "recap": ("agent", _sop("recap", "pass"), _sop("recap", "fail")),
    "further_help": ("agent", _sop("further_help", "pass"), _sop("further_help", "fail")),
    "polite_close": ("agent", _sop("closing", "pass"), _sop("closing", "fail")),
    "dismissive": ("agent", _risk("agent_dismissive"),
                   lambda c: "agent_dismissive" not in c.risks and c.sop.get("forbidden_phrases") == "pass"),
    "media_threat": ("customer", _risk("media_threat"), _no_risk("media_threat")),
    "regulator_threat": ("customer", _risk("regulator_threat"), _no_risk("regulator_threat")),
    "legal_threat": ("customer", _risk("legal_threat"), _no_risk("legal_threat")),
    "supervisor_request": ("customer", _risk("supervisor_request"), _no_risk("supervisor_request")),
    "abusive": ("any", _risk("abusive_language"), _no_risk("abusive_language")),
    "opt_out_request": ("customer", lambda c: "opt_out_ignored" in c.risks or c.sop.get("opt_out") in ("pass", "fail"),
                        lambda c: c.sop.get("opt_out") == "na" and "opt_out_ignored" not in c.risks),
    "opt_out_ack": ("agent", _sop("opt_out", "pass"), _sop("opt_out", "fail")),
}


def call_score(model, es, texts: list[str]) -> float:
    if not texts:
        return 0.0
    u = model.encode(texts)
    pos = (u @ model.encode(list(es.positive)).T).max(axis=1)
    if es.unlike:
        neg = (u @ model.encode(list(es.unlike)).T).max(axis=1)
        pos = np.where(pos > neg, pos, 0.0)
    return float(pos.max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    from scoring.examples import load_example_sets, shipped_examples_dir
    from scoring.similarity import E5SimilarityModel

    model = E5SimilarityModel()
    calls = [c for c in load_calls() if c.split == "dev"]
    sets = load_example_sets(shipped_examples_dir())
    for name, es in sets.items():
        role, is_pos, is_neg = TARGETS[name]
        scores = {c.id: call_score(model, es, [t["text"] for t in c.turns if role == "any" or t["role"] == role])
                  for c in calls}
        neg = [scores[c.id] for c in calls if is_neg(c)]
        pos = [scores[c.id] for c in calls if is_pos(c)]
        t = round(min(0.99, max(0.85, (max(neg) if neg else 0.0) + 0.005)), 3)
        hit = sum(s >= t for s in pos)
        print(f"{name:<20} threshold {t:.3f}  dev positives matched {hit}/{len(pos)}  (negatives {len(neg)}, "
              f"highest negative {max(neg) if neg else 0:.3f}, median positive {np.median(pos) if pos else 0:.3f})")
        if args.write:
            path = shipped_examples_dir() / f"{name}.yaml"
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"(?m)^threshold: .*$", f"threshold: {t}", text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
