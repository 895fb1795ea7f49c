"""Score one call against a QA form: per-question answers with evidence, per-section scores, a 0-100 total.

Answers: a question is "na" when its `na_when` rule matches, else "pass" when its `rule` matches, else
"fail". A passed question earns its effective weight in points, a failed one earns 0.

N/A redistribution (weights are nominal points; a form's question weights sum to 100):
- Inside a section, the weight of N/A questions goes to the section's applicable questions in proportion
  to their own weights: effective = weight * section_weight / applicable_weight. E.g. a 30-point section
  with questions 10 / 10 / 10 where one is N/A gives the other two 15 each.
- A section whose applicable questions carry no weight (all N/A, or only 0-weight questions left) passes
  its whole weight on to the other sections, again in proportion to their weights: every remaining
  effective weight is multiplied by 100 / (sum of the remaining sections' weights).
- When nothing applicable carries weight the total is None (nothing to judge), not 0 or 100.
Auto-fail: any failed `auto_fail` question sets the total to 0 and is listed in `auto_fail_reasons`;
section scores are still reported as computed. Failed `critical` questions are listed in
`critical_failures` but do not change the arithmetic.
Without `metrics`, `metric` rules do not match (their evidence says "metrics unavailable"), so questions
that rely on them fail rather than pass unchecked.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.languages import languages_or_default
from core.metrics import ConversationMetrics
from core.models import Transcript
from scoring.forms import Form
from scoring.rules import EvalContext, Evidence, Not, SimilarityModel
from scoring.wording import plain, shorten

AnswerValue = Literal["pass", "fail", "na"]


@dataclass(frozen=True)
class Answer:
    question_id: str
    section_id: str
    text: str
    answer: AnswerValue
    weight: float  # nominal, from the form
    effective_weight: float  # after N/A redistribution
    points: float
    auto_fail: bool
    critical: bool
    rule_id: str
    rule_version: str
    evidence: tuple[Evidence, ...] = ()  # of `rule`, or of `na_when` when the answer is "na"
    explanation: str = ""  # for fail and N/A: what was looked for and where (form text only, no transcript)


@dataclass(frozen=True)
class SectionScore:
    section_id: str
    title: str
    weight: float  # nominal: sum of its question weights
    effective_weight: float
    points: float
    score: float | None  # points as a percentage of effective_weight; None when the section carries no weight


@dataclass(frozen=True)
class Scorecard:
    call_id: str
    form_id: str
    form_version: str
    total: float | None  # 0-100
    sections: tuple[SectionScore, ...]
    answers: tuple[Answer, ...]
    auto_failed: bool = False
    auto_fail_reasons: tuple[str, ...] = ()
    critical_failures: tuple[str, ...] = ()

    def answer(self, question_id: str) -> Answer:
        for a in self.answers:
            if a.question_id == question_id:
                return a
        raise KeyError(f"no question {question_id!r} on form {self.form_id} v{self.form_version}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


def explain(question: Any, answer: AnswerValue, languages: tuple[str, ...] = ()) -> str:
    """Why a question failed or is N/A, in plain words a QA reviewer reads: what was looked for and in which
    part of the call (scoring.wording.plain: never a pattern, at most PLAIN_LIMIT characters). Evidence
    (quotes and times) says where something was or was not found. A question's own `explain` / `explain_na`
    text wins when its form has one. `languages`: the form's; a Chinese form quotes Chinese examples.
    From the form alone: every fail and N/A explanation of a shipped form takes about 4 ms together (a
    pattern's literal examples are cached in scoring.pattern_examples)."""
    if answer == "pass":
        return ""
    own = getattr(question, "explain_na" if answer == "na" else "explain", None)
    if isinstance(own, str) and own.strip():
        return shorten(own)
    registry = languages_or_default(None)  # a language written without spaces (its profile) quotes CJK examples
    cjk = any((p := registry.get(lang)) is not None and p.word_joiner == "" for lang in languages)
    if answer == "na":
        na = question.na_when
        if isinstance(na, Not) and not na.label:  # "the call has no …" / "the call has neither … nor …"
            return plain(na, lambda t: f"Not applicable: the call has {t}", cjk=cjk)
        return plain(na, lambda t: f"Not applicable: {t}", cjk=cjk)
    rule = question.rule
    if isinstance(rule, Not) and not rule.label:  # a forbidden thing was said: evidence holds the quote
        return plain(rule.child, lambda t: f"Found {t}", cjk=cjk, examples=False)
    if rule.op in ("metric", "not"):  # a measured condition, or a labelled "never …"
        return plain(rule, lambda t: f"Not met: {t}", cjk=cjk)
    return plain(rule, lambda t: f"Not found: {t}", cjk=cjk)


def _r(x: float) -> float:
    return round(x, 4)


def score_call(form: Form, transcript: Transcript, metrics: ConversationMetrics | None = None, *,
               similarity: SimilarityModel | None = None) -> Scorecard:
    ctx = EvalContext(transcript, metrics, similarity)
    raw: list[tuple[str, Any, AnswerValue, tuple[Evidence, ...]]] = []
    for s in form.sections:
        for q in s.questions:
            na = q.na_when.evaluate(ctx) if q.na_when is not None else None
            if na is not None and na.matched:
                raw.append((s.id, q, "na", na.evidence))
                continue
            r = q.rule.evaluate(ctx)
            raw.append((s.id, q, "pass" if r.matched else "fail", r.evidence))

    applicable = {s.id: sum(q.weight for sid, q, a, _ in raw if sid == s.id and a != "na") for s in form.sections}
    carrying = [s for s in form.sections if applicable[s.id] > 0]
    remaining = sum(s.total_weight for s in carrying)
    scale = {s.id: s.total_weight / applicable[s.id] * 100.0 / remaining for s in carrying}

    answers = []
    for sid, q, a, ev in raw:
        eff = 0.0 if a == "na" or sid not in scale else q.weight * scale[sid]
        answers.append(Answer(q.id, sid, q.text, a, q.weight, _r(eff), _r(eff if a == "pass" else 0.0),
                              q.auto_fail, q.critical, q.rule.id, q.rule_version, ev,
                              explain(q, a, form.languages)))

    sections = []
    for s in form.sections:
        mine = [a for a in answers if a.section_id == s.id]
        eff, pts = sum(a.effective_weight for a in mine), sum(a.points for a in mine)
        sections.append(SectionScore(s.id, s.title, s.total_weight, _r(eff), _r(pts),
                                     round(pts / eff * 100.0, 2) if eff > 0 else None))

    auto = tuple(f"{a.question_id}: {a.text}" for a in answers if a.auto_fail and a.answer == "fail")
    critical = tuple(f"{a.question_id}: {a.text}" for a in answers if a.critical and a.answer == "fail")
    total = round(sum(a.points for a in answers), 2) if carrying else None
    if auto:
        total = 0.0
    return Scorecard(transcript.call_id, form.id, form.version, total, tuple(sections), tuple(answers),
                     bool(auto), auto, critical)
