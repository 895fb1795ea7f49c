"""Pure metric functions for the benchmarks (no models, no I/O): agreement, F1, span and alert
precision/recall, redaction recall, text normalisation for WER/CER. Definitions are in bench/MANIFEST.md."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence


@dataclass(frozen=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else None

    def __add__(self, other: "PRF") -> "PRF":
        return PRF(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": r(self.precision),
                "recall": r(self.recall), "f1": r(self.f1)}


def accuracy(x: Sequence, y: Sequence) -> float:
    if len(x) != len(y):
        raise ValueError(f"accuracy of sequences of different lengths ({len(x)} vs {len(y)})")
    return sum(a == b for a, b in zip(x, y)) / len(x) if x else float("nan")


def kappa(x: Sequence, y: Sequence) -> float:
    """Cohen's kappa of two raters; 1.0 when both always give the same single category, nan when empty."""
    if len(x) != len(y):
        raise ValueError(f"kappa of sequences of different lengths ({len(x)} vs {len(y)})")
    n = len(x)
    if n == 0:
        return float("nan")
    x, y = list(x), list(y)
    cats = sorted(set(x) | set(y), key=str)
    po = sum(a == b for a, b in zip(x, y)) / n
    pe = sum((x.count(c) / n) * (y.count(c) / n) for c in cats)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def macro_f1(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> tuple[float, dict[str, float]]:
    """Mean of per-class F1 over `classes` (a class never gold nor predicted scores 0)."""
    if len(gold) != len(pred):
        raise ValueError(f"macro_f1 of sequences of different lengths ({len(gold)} vs {len(pred)})")
    per = {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        per[c] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return sum(per.values()) / len(per), per


Span = tuple[str, int, int]  # (entity, start, end), end exclusive


@dataclass(frozen=True)
class SpanScore:
    """Overlap matching: precision counts predictions, recall counts gold spans."""
    pred_matched: int  # predictions overlapping a gold span of their entity
    pred_total: int
    gold_found: int  # gold spans overlapped by a prediction of their entity
    gold_total: int

    @property
    def precision(self) -> float | None:
        return self.pred_matched / self.pred_total if self.pred_total else None

    @property
    def recall(self) -> float | None:
        return self.gold_found / self.gold_total if self.gold_total else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return 0.0 if (p is not None or r is not None) else None
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, o: "SpanScore") -> "SpanScore":
        return SpanScore(self.pred_matched + o.pred_matched, self.pred_total + o.pred_total,
                         self.gold_found + o.gold_found, self.gold_total + o.gold_total)

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"gold": self.gold_total, "predicted": self.pred_total, "gold_found": self.gold_found,
                "pred_matched": self.pred_matched, "precision": r(self.precision),
                "recall": r(self.recall), "f1": r(self.f1)}


def span_prf(gold: Iterable[Span], pred: Iterable[Span]) -> dict[str, SpanScore]:
    """Per entity: a prediction is correct when it overlaps (shares >= 1 char with) a gold span of the same
    entity; a gold span is found when a prediction of its entity overlaps it. Two predictions on one gold
    span are both correct, and that gold span is found once."""
    gold, pred = list(gold), list(pred)
    hit = lambda a, bs: any(b[0] == a[0] and a[1] < b[2] and b[1] < a[2] for b in bs)  # noqa: E731
    out = {}
    for ent in sorted({g[0] for g in gold} | {p[0] for p in pred}):
        g = [x for x in gold if x[0] == ent]
        p = [x for x in pred if x[0] == ent]
        out[ent] = SpanScore(sum(hit(x, g) for x in p), len(p), sum(hit(x, p) for x in g), len(g))
    return out


def alert_prf(expected: Sequence[Iterable[str]], predicted: Sequence[Iterable[tuple[str, str]]]) -> dict[str, PRF]:
    """Per label over calls. expected[i]: rule ids and/or categories expected on call i (complete: anything
    else raised is a false alarm). predicted[i]: (rule_id, category) of each alert raised on call i.
    A rule-id label is hit when that rule fired; a category label when any rule of that category fired.
    A fired rule is a false positive under its rule id unless its rule id or its category was expected."""
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected vs {len(predicted)} predicted calls")
    tp, fp, fn = Counter(), Counter(), Counter()
    for exp, pred in zip(expected, predicted):
        exp, pred = set(exp), set(pred)
        fired_rules, fired_cats = {r for r, _ in pred}, {c for _, c in pred}
        for label in exp:
            if label in fired_rules or label in fired_cats:
                tp[label] += 1
            else:
                fn[label] += 1
        for rule, cat in pred:
            if rule not in exp and cat not in exp:
                fp[rule] += 1
    labels = sorted(set(tp) | set(fp) | set(fn))
    return {k: PRF(tp[k], fp[k], fn[k]) for k in labels}


def digit_runs_leaked(gold_digits: str, text_digits: str, min_run: int = 4) -> bool:
    """True when any `min_run` consecutive digits of the gold number occur in `text_digits` (or the whole
    gold number when it is shorter than `min_run`)."""
    if not gold_digits:
        raise ValueError("gold_digits is empty")
    k = min(min_run, len(gold_digits))
    return any(gold_digits[i:i + k] in text_digits for i in range(len(gold_digits) - k + 1))


def only_digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(frozen=True)
class RedactionCount:
    gold: int  # gold PII items
    heard: int  # present in the unredacted output (the ASR heard them, so they could leak)
    masked: int  # heard and absent from the redacted output

    @property
    def recall(self) -> float | None:
        return self.masked / self.heard if self.heard else None

    def __add__(self, o: "RedactionCount") -> "RedactionCount":
        return RedactionCount(self.gold + o.gold, self.heard + o.heard, self.masked + o.masked)


def redaction_recall(gold_values: Sequence[str], original: str, redacted: str, *, min_run: int = 4) -> RedactionCount:
    """Gold PII values (already digit-normalised when numeric, else lowercased words) vs the unredacted and
    redacted texts (normalised the same way by the caller). Numeric values match on any `min_run`-digit
    run; other values on the lowercased text as a substring."""
    heard = masked = 0
    o_dig, r_dig = only_digits(original), only_digits(redacted)
    for v in gold_values:
        if only_digits(v) == v and v:
            h, leak = digit_runs_leaked(v, o_dig, min_run), digit_runs_leaked(v, r_dig, min_run)
        else:
            h, leak = v.lower() in original.lower(), v.lower() in redacted.lower()
        heard += h
        masked += h and not leak
    return RedactionCount(len(gold_values), heard, masked)


def normalise_for_wer(text: str, language: str) -> str:
    """Spoken digit runs become digits first ("four one one one" -> "4111", compliance.pii's normaliser), so
    numbers compare as digit strings. en: lowercase words (a-z, 0-9, apostrophe); zh: Han characters and
    digits separated by spaces (so jiwer's WER is the CER), after conversion to Simplified."""
    from compliance.pii import normalise_spoken_digits

    text = normalise_spoken_digits(text, "zh" if language == "zh" else "en")[0]
    if language == "zh":
        from core.chinese import to_script

        return " ".join(re.findall(r"[\u4e00-\u9fff0-9]", to_script(text, "zh-Hans")))
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def agreement_by_key(pairs: Iterable[tuple[Hashable, str, str]]) -> dict[str, dict]:
    """(key, gold, predicted) triples -> per key and "overall": n, accuracy, Cohen's kappa."""
    by: dict = {}
    for key, g, p in pairs:
        by.setdefault(key, ([], []))
        by[key][0].append(g)
        by[key][1].append(p)
    out = {}
    allg, allp = [], []
    for key in sorted(by, key=str):
        g, p = by[key]
        allg += g
        allp += p
        out[str(key)] = {"n": len(g), "accuracy": round(accuracy(g, p), 4), "kappa": round(kappa(g, p), 4)}
    if allg:
        out["overall"] = {"n": len(allg), "accuracy": round(accuracy(allg, allp), 4),
                          "kappa": round(kappa(allg, allp), 4)}
    return out
