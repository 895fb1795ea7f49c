"""Judgement accuracy on our own labelled calls (issue 14): SOP answers, risks and customer sentiment.

    python bench/judgement.py [--split dev|test|all] [--lang en|zh|zht] [--show] [--json FILE]
    python bench/judgement_audio.py [--split test|dev|all]   # the audio third through the real pipeline, vs text

The calls are hand-written YAML files in bench/judgement/calls/ (format: bench/judgement/FORMAT.md), each
with a fixed `split`: rules are tuned on `dev` and reported on `test`. Text mode runs the production
analysis (pipeline.analysis.analyse_call with the shipped forms, the default policy, the E5 similarity
model and the shipped sentiment model) on a transcript built from the turns: one segment per turn, timed
at 0.4 s per English word / 0.25 s per Chinese character, 0.6 s between turns plus each turn's
`pause_after`. That is the same path a transcript handed in instead of a recording takes.

Printed per SOP question: agreement with the label; per risk id: precision, recall (tp/fp/fn); overall:
SOP agreement (all answers), micro-averaged risk precision/recall, and customer start/end sentiment
accuracy. `--show` lists every disagreement with the answer's explanation.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.models import Call, Segment, SpeakerInfo, Transcript  # noqa: E402

# our alert ids that answer a label of another name: an unverified long number read out is the reviewer's
# "full card number or ID read out" when speech recognition (or the writer) got a digit wrong
ALIASES = {"long_number_read_out": "pii_read_out"}
CALLS_DIR = ROOT / "bench" / "judgement" / "calls"
CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class LabelledCall:
    id: str
    split: str
    language: str
    script: str | None
    direction: str
    queue: str
    audio: bool
    turns: tuple[dict, ...]
    sop: dict[str, str]
    risks: frozenset[str]
    sentiment: dict[str, str]


def load_calls(folder: Path = CALLS_DIR) -> list[LabelledCall]:
    calls = []
    for path in sorted(folder.glob("*.yaml")):
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
        lab = d["labels"]
        calls.append(LabelledCall(d["id"], d["split"], d["language"], d.get("script"), d["direction"],
                                  d.get("queue") or "general", bool(d.get("audio")), tuple(d["turns"]),
                                  dict(lab["sop"]), frozenset(lab.get("risks") or ()), dict(lab.get("sentiment") or {})))
    return calls


def _seconds(text: str) -> float:
    cjk = len(CJK.findall(text))
    words = len(re.findall(r"[A-Za-z0-9']+", text))
    return max(0.8, 0.25 * cjk + 0.4 * words)


def to_transcript(c: LabelledCall) -> Transcript:
    segs, t = [], 0.5
    for turn in c.turns:
        text = str(turn["text"]).strip()
        d = _seconds(text)
        role = turn["role"]
        segs.append(Segment(round(t, 3), round(t + d, 3), text, speaker=role, channel=0 if role == "agent" else 1,
                            role=role))
        t += d + 0.6 + float(turn.get("pause_after") or 0)
    speakers = tuple(SpeakerInfo(r, r, 1.0, "labelled", 0 if r == "agent" else 1) for r in ("agent", "customer"))
    return Transcript(c.id, c.language, 1.0, round(t, 3), tuple(segs), "labelled", "none", script=c.script,
                      speakers=speakers)


def to_call(c: LabelledCall) -> Call:
    return Call(id=c.id, object_key=f"{c.id}.txt", etag="x", agent="a1", queue=c.queue, direction=c.direction,
                language=c.language)


def build_analysis_parts(forms_dir: Path | None = None, policy_file: Path | None = None):
    """As flows builds them: the shipped (or given) forms and policy, e5 similarity and E5Sentiment."""
    from compliance.alerts import default_policy_path, load_policy
    from scoring.review import Reviewer
    from scoring.sentiment_embedding import E5Sentiment
    from scoring.similarity import E5SimilarityModel

    similarity = E5SimilarityModel()
    reviewer = Reviewer(forms_dir, similarity=similarity, sentiment=E5Sentiment(similarity))
    return reviewer, load_policy(policy_file or default_policy_path())


def mood(summary, which: str) -> str | None:
    """The call's own start/end label for the customer (SentimentSummary.start_customer / final_customer)."""
    if summary is None:
        return None
    score = summary.start_customer if which == "start" else summary.final_customer
    return score.label if score is not None else None


@dataclass
class Tally:
    sop: dict  # question id -> Counter(agree/disagree)
    risk: dict  # risk id -> Counter(tp/fp/fn)
    sentiment: Counter
    misses: list


def new_tally() -> Tally:
    return Tally(defaultdict(Counter), defaultdict(Counter), Counter(), [])


@dataclass(frozen=True)
class Judged:
    """What one call came to, from a live analysis (`judged_from_analysis`) or from stored results
    (bench/judgement_audio.py): each question's answer with its evidence details, the raised risk ids
    (ALIASES applied) with the evidence quotes of the first alert of each, the customer's start/end mood."""
    answers: dict  # question id -> (answer, evidence details)
    alerts: dict  # risk id -> evidence quotes of its first alert
    moods: dict  # "start" / "end" -> positive | neutral | negative | None


def judged_from_analysis(a) -> Judged:
    answers = {x.question_id: (x.answer, "; ".join(dict.fromkeys(e.detail for e in x.evidence if e.detail))[:200])
               for x in a.review.scorecard.answers} if a.review is not None else {}
    alerts: dict = {}
    for x in a.alerts:
        alerts.setdefault(ALIASES.get(x.rule_id, x.rule_id), "; ".join(e.quote[:80] for e in x.evidence)[:200])
    return Judged(answers, alerts, {which: mood(a.sentiment, which) for which in ("start", "end")})


def tally_call(tally: Tally, c: LabelledCall, j: Judged) -> None:
    """Count one call's judgements against its labels."""
    for q, want in c.sop.items():
        got, why = j.answers.get(q, ("missing", ""))
        ok = got == want
        tally.sop[q]["agree" if ok else "disagree"] += 1
        if not ok:
            tally.misses.append(f"{c.id} sop {q}: got {got}, want {want}  [{why}]")
    raised = set(j.alerts)
    for r in raised | c.risks:
        kind = "tp" if r in raised and r in c.risks else "fp" if r in raised else "fn"
        tally.risk[r][kind] += 1
        if kind != "tp":
            tally.misses.append(f"{c.id} risk {r}: {kind}  [{j.alerts.get(r, '')}]")
    for which in ("start", "end"):
        if which in c.sentiment:
            got = j.moods.get(which)
            tally.sentiment[f"{which}_{'agree' if got == c.sentiment[which] else 'disagree'}"] += 1
            if got != c.sentiment[which]:
                tally.misses.append(f"{c.id} sentiment {which}: got {got}, want {c.sentiment[which]}")


def judge(calls: list[LabelledCall], analyse) -> Tally:
    tally = new_tally()
    for c in calls:
        tally_call(tally, c, judged_from_analysis(analyse(c)))
    return tally


def _pr(c: Counter) -> tuple[float | None, float | None]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
    return p, r


def summary(t: Tally) -> dict:
    agree = sum(c["agree"] for c in t.sop.values())
    n = sum(sum(c.values()) for c in t.sop.values())
    total = Counter()
    for c in t.risk.values():
        total.update(c)
    p, r = _pr(total)
    s_ok = t.sentiment["start_agree"] + t.sentiment["end_agree"]
    s_n = sum(t.sentiment.values())
    return {"sop_agreement": agree / n if n else None, "sop_answers": n,
            "risk_precision": p, "risk_recall": r, "risk_tp": total["tp"], "risk_fp": total["fp"],
            "risk_fn": total["fn"], "sentiment_accuracy": s_ok / s_n if s_n else None,
            "per_question": {q: {"agreement": c["agree"] / sum(c.values()), "n": sum(c.values())}
                             for q, c in sorted(t.sop.items())},
            "per_risk": {r: dict(zip(("precision", "recall"), _pr(c)), **c) for r, c in sorted(t.risk.items())}}


def fmt(v) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def print_summary(s: dict, title: str) -> None:
    print(f"== {title}")
    print(f"SOP agreement {fmt(s['sop_agreement'])} over {s['sop_answers']} answers; risks precision "
          f"{fmt(s['risk_precision'])} recall {fmt(s['risk_recall'])} (tp {s['risk_tp']}, fp {s['risk_fp']}, "
          f"fn {s['risk_fn']}); customer sentiment start/end accuracy {fmt(s['sentiment_accuracy'])}")
    for q, v in s["per_question"].items():
        print(f"  sop  {q:<22} agreement {fmt(v['agreement'])}  n={v['n']}")
    for r, v in s["per_risk"].items():
        print(f"  risk {r:<28} precision {fmt(v['precision'])} recall {fmt(v['recall'])}  "
              f"tp={v.get('tp', 0)} fp={v.get('fp', 0)} fn={v.get('fn', 0)}")


def lang_of(c: LabelledCall) -> str:
    """en | zh | zht, from the id (`zht_in_01`)."""
    return c.id.split("_")[0]


def batch_of(c: LabelledCall) -> str:
    """old | new | r4: the second writing round's calls are `<lang>_dev2_NN` / `<lang>_test2_NN`, the fourth's
    `<lang>_dev4_NN` / `<lang>_test3_NN` (blind test calls written after round 3)."""
    parts = c.id.split("_")
    tag = parts[1] if len(parts) > 1 else ""
    return "new" if tag in ("dev2", "test2") else "r4" if tag in ("dev4", "test3") else "old"


def select_calls(calls: list[LabelledCall], split: str, lang: str | None = None,
                 only: str | None = None, batch: str | None = None) -> list[LabelledCall]:
    return [c for c in calls if split in ("all", c.split) and (lang is None or lang_of(c) == lang)
            and (only is None or c.id.startswith(tuple(only.split(",")))) and (batch is None or batch_of(c) == batch)]


def language_line(lang: str, s: dict, n: int) -> str:
    return (f"  [{lang}] SOP {fmt(s['sop_agreement'])}  risk P {fmt(s['risk_precision'])} "
            f"R {fmt(s['risk_recall'])}  sentiment {fmt(s['sentiment_accuracy'])}  ({n} calls)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--lang", choices=("en", "zh", "zht"), default=None)
    ap.add_argument("--only", default=None, help="call id prefix (several: comma-separated)")
    ap.add_argument("--batch", choices=("old", "new", "r4"), default=None,
                    help="old: the first rounds' calls; new: the blind second round (*_dev2_*, *_test2_*); r4: *_dev4_*, *_test3_*")
    ap.add_argument("--show", action="store_true", help="list every disagreement")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--forms", type=Path, default=None, help="forms folder (default: the shipped forms)")
    ap.add_argument("--policy", type=Path, default=None, help="policy file (default: the shipped policy)")
    args = ap.parse_args(argv)

    from pipeline.analysis import analyse_call

    calls = select_calls(load_calls(), args.split, args.lang, args.only, args.batch)
    reviewer, policy = build_analysis_parts(args.forms, args.policy)

    def analyse(c: LabelledCall):
        return analyse_call(to_call(c), to_transcript(c), reviewer=reviewer, policy=policy)

    t = judge(calls, analyse)
    s = summary(t)
    print_summary(s, f"text, split {args.split}{', batch ' + args.batch if args.batch else ''}, {len(calls)} calls")
    by_lang = {}
    for lang in ("en", "zh", "zht"):
        sub = [c for c in calls if lang_of(c) == lang]
        if sub and args.lang is None:
            ls = summary(judge(sub, analyse))
            by_lang[lang] = ls
            print(language_line(lang, ls, len(sub)))
    if args.show:
        print("\n".join(t.misses))
    if args.json:
        args.json.write_text(json.dumps({"overall": s, "by_language": by_lang}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
