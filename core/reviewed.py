"""A scorecard's totals with reviewers' answers applied: the machine's stored scorecard (its JSON body, as
`scoring.scorecard.Scorecard.to_dict` wrote it) plus the latest human answer per question, re-weighted by
exactly the rules of `scoring.scorecard.score_call`, so a reviewed total means the same as a machine total.

Pure: no database, no web. The stored body carries everything the arithmetic needs (each answer's nominal
weight, section, auto_fail and critical flags; each section's nominal weight), so the form file is not read
again: a scorecard stays recomputable even after its form changed. With no overrides the result equals the
machine's stored numbers (tests check this for real scorecards).

The rules, mirrored from `score_call` (keep the two in step):
- Inside a section, N/A weight goes to its applicable questions in proportion to their weights; a section
  whose applicable questions carry no weight passes its weight on to the other sections in proportion.
- A passed question earns its effective weight; effective weights and points are rounded to 4 places,
  section scores to 2, the total (sum of rounded points) to 2. Nothing applicable with weight: total None.
- Any failed `auto_fail` question makes the total 0 (section scores stay as computed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

ANSWERS = ("pass", "fail", "na")


@dataclass(frozen=True)
class ReviewedAnswer:
    question_id: str
    section_id: str
    machine_answer: str
    answer: str  # the reviewer's latest answer, else the machine's
    overridden: bool  # a reviewer answered this question (even when they agreed with the machine)
    effective_weight: float
    points: float


@dataclass(frozen=True)
class ReviewedSection:
    section_id: str
    title: str
    weight: float  # nominal
    effective_weight: float
    points: float
    score: float | None  # percentage of effective_weight; None when the section carries no weight


@dataclass(frozen=True)
class ReviewedTotals:
    total: float | None  # 0-100, None when nothing applicable carries weight
    auto_failed: bool
    auto_fail_reasons: tuple[str, ...]
    critical_failures: tuple[str, ...]
    sections: tuple[ReviewedSection, ...]
    answers: tuple[ReviewedAnswer, ...]
    changed: bool  # some reviewed answer differs from the machine's
    ignored: tuple[str, ...] = ()  # override question ids not on this scorecard (e.g. from an older form)

    def answer(self, question_id: str) -> ReviewedAnswer:
        for a in self.answers:
            if a.question_id == question_id:
                return a
        raise KeyError(f"no question {question_id!r} on this scorecard")


class ScorecardShapeError(ValueError):
    """The stored scorecard body lacks what the recomputation needs (names the missing field, not values)."""


def _r(x: float) -> float:
    return round(x, 4)


def _field(d: Mapping, key: str, where: str):
    try:
        return d[key]
    except (KeyError, TypeError):
        raise ScorecardShapeError(f"stored scorecard: {where} has no {key!r}") from None


def reviewed_totals(card: Mapping, overrides: Mapping[str, str]) -> ReviewedTotals:
    """The scorecard `card` (stored body) re-scored with `overrides` (question id -> pass/fail/na) applied.

    Raises ValueError for an answer other than pass/fail/na and ScorecardShapeError for a body without
    sections, answers or their weights. Override ids not on the card are skipped and listed in `ignored`."""
    for qid, value in overrides.items():
        if value not in ANSWERS:
            raise ValueError(f"reviewed answer of {qid!r} must be pass, fail or na, not {value!r}")
    sections = _field(card, "sections", "the scorecard")
    answers = _field(card, "answers", "the scorecard")
    raw = []  # (question id, section id, machine answer, reviewed answer, weight, auto_fail, critical, text)
    for i, a in enumerate(answers):
        where = f"answer {i}"
        qid, machine = _field(a, "question_id", where), _field(a, "answer", where)
        raw.append((qid, _field(a, "section_id", where), machine, overrides.get(qid, machine),
                    float(_field(a, "weight", where)), bool(a.get("auto_fail")), bool(a.get("critical")),
                    a.get("text", "")))
    known = {r[0] for r in raw}
    section_weight = {_field(s, "section_id", f"section {i}"): float(_field(s, "weight", f"section {i}"))
                      for i, s in enumerate(sections)}

    applicable = {sid: sum(w for _, s, _, ans, w, *_ in raw if s == sid and ans != "na") for sid in section_weight}
    carrying = [sid for sid in section_weight if applicable[sid] > 0]
    remaining = sum(section_weight[sid] for sid in carrying)
    scale = {sid: section_weight[sid] / applicable[sid] * 100.0 / remaining for sid in carrying}

    out = []
    for qid, sid, machine, ans, w, *_ in raw:
        eff = 0.0 if ans == "na" or sid not in scale else w * scale[sid]
        out.append(ReviewedAnswer(qid, sid, machine, ans, qid in overrides, _r(eff),
                                  _r(eff if ans == "pass" else 0.0)))

    sect = []
    for s in sections:
        sid = s["section_id"]
        mine = [a for a in out if a.section_id == sid]
        eff, pts = sum(a.effective_weight for a in mine), sum(a.points for a in mine)
        sect.append(ReviewedSection(sid, s.get("title", sid), section_weight[sid], _r(eff), _r(pts),
                                    round(pts / eff * 100.0, 2) if eff > 0 else None))

    auto = tuple(f"{qid}: {text}" for qid, _, _, ans, _, af, _, text in raw if af and ans == "fail")
    critical = tuple(f"{qid}: {text}" for qid, _, _, ans, _, _, cr, text in raw if cr and ans == "fail")
    total = round(sum(a.points for a in out), 2) if carrying else None
    if auto:
        total = 0.0
    return ReviewedTotals(total, bool(auto), auto, critical, tuple(sect), tuple(out),
                          any(a.answer != a.machine_answer for a in out),
                          tuple(sorted(q for q in overrides if q not in known)))
