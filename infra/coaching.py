"""Coaching in the results database: a coach assigns a call to its agent with a note and a due date; the agent
acknowledges it (with an optional comment). Plus the per-agent picks a coach chooses from, read from the stored
scorecards: lowest totals, most-failed questions with example calls, best examples (highest totals).

Same SQLAlchemy `Base` as the results, created on first use (additive). Every row carries its tenant and every
query here is scoped by one. `agent` is the calls' `agent` field (a user with role agent has it as agent_id).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.store import AnswerRow, Base, CallRow, ScorecardRow, _now

PICKS = 3  # calls / questions per agent and kind of pick
SCAN_LIMIT = 5000  # newest scorecards of the tenant the picks are computed from


class CoachingRow(Base):
    __tablename__ = "coaching_assignments"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(512), index=True)
    agent: Mapped[str] = mapped_column(String(128), index=True)
    coach: Mapped[str] = mapped_column(String(128))  # the coach's user name
    note: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    agent_comment: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Assignment:
    id: int
    call_id: str
    agent: str
    coach: str
    note: str
    due: date | None
    created_at: datetime  # naive UTC
    acknowledged_at: datetime | None
    agent_comment: str | None

    def overdue(self, today: date) -> bool:
        return self.acknowledged_at is None and self.due is not None and self.due < today

    def state(self, today: date) -> str:
        return "done" if self.acknowledged_at else "overdue" if self.overdue(today) else "open"


@dataclass(frozen=True)
class Pick:
    call_id: str
    total: float | None
    auto_failed: bool


@dataclass(frozen=True)
class FailedQuestion:
    question_id: str
    text: str
    fails: int
    asked: int  # answered pass or fail (not n/a)
    examples: tuple[str, ...]  # call ids, lowest total first


@dataclass(frozen=True)
class AgentPicks:
    agent: str
    calls: int
    average: float | None
    lowest: tuple[Pick, ...]
    failed_questions: tuple[FailedQuestion, ...]
    best: tuple[Pick, ...]


def _assignment(r: CoachingRow) -> Assignment:
    return Assignment(r.id, r.call_id, r.agent, r.coach, r.note or "", r.due, r.created_at, r.acknowledged_at,
                      r.agent_comment)


class CoachingStore:
    def __init__(self, engine):
        self.engine = engine
        Base.metadata.create_all(engine, tables=[CoachingRow.__table__])

    def assign(self, tenant: str, call_id: str, agent: str, coach: str, note: str, due: date | None) -> Assignment:
        with Session(self.engine) as s:
            row = CoachingRow(tenant=tenant, call_id=call_id, agent=agent, coach=coach, note=note, due=due)
            s.add(row)
            s.commit()
            return _assignment(row)

    def get(self, tenant: str, assignment_id: int) -> Assignment | None:
        with Session(self.engine) as s:
            r = s.scalar(select(CoachingRow).where(CoachingRow.tenant == tenant, CoachingRow.id == assignment_id))
            return _assignment(r) if r else None

    def list(self, tenant: str, *, agent: str | None = None, limit: int = 500) -> list[Assignment]:
        """The tenant's assignments (of one agent), open ones first, then by due date, newest first."""
        q = select(CoachingRow).where(CoachingRow.tenant == tenant)
        if agent is not None:
            q = q.where(CoachingRow.agent == agent)
        q = q.order_by(CoachingRow.acknowledged_at.is_not(None), CoachingRow.due.is_(None), CoachingRow.due,
                       CoachingRow.id.desc()).limit(limit)
        with Session(self.engine) as s:
            return [_assignment(r) for r in s.scalars(q)]

    def acknowledge(self, tenant: str, assignment_id: int, comment: str | None) -> bool:
        """Mark acknowledged now; False when it was acknowledged already (or does not exist)."""
        with Session(self.engine) as s:
            res = s.execute(update(CoachingRow).where(CoachingRow.tenant == tenant, CoachingRow.id == assignment_id,
                                                      CoachingRow.acknowledged_at.is_(None))
                            .values(acknowledged_at=_now(), agent_comment=comment))
            s.commit()
            return res.rowcount == 1


def agent_picks(engine, tenant: str, *, agent: str | None = None, n: int = PICKS, call_from: datetime | None = None,
                call_to: datetime | None = None) -> list[AgentPicks]:
    """Per agent (of the tenant's newest scored calls): the `n` lowest totals, the `n` most-failed questions
    with up to `n` example calls each, and the `n` best calls (highest totals, not auto-failed, not among the
    lowest). `call_from`/`call_to`: only calls started (else processed) in that range (naive UTC; the static
    export's date range). Answers are read from `scorecard_answers`, question texts from one scorecard body per
    form version (parsing every ~8 KB body took ~1 s per 1,000 calls)."""
    sc = ScorecardRow
    q = select(CallRow.id, CallRow.agent, sc.total, sc.auto_failed, sc.form_id, sc.form_version) \
        .join(ScorecardRow, ScorecardRow.call_id == CallRow.id) \
        .where(CallRow.tenant == tenant, CallRow.agent.is_not(None)) \
        .order_by(ScorecardRow.scored_at.desc()).limit(SCAN_LIMIT)
    if agent is not None:
        q = q.where(CallRow.agent == agent)
    when = func.coalesce(CallRow.started_at, CallRow.processed_at)
    if call_from is not None:
        q = q.where(when >= call_from)
    if call_to is not None:
        q = q.where(when <= call_to)
    by_agent: dict[str, list[tuple]] = {}
    with Session(engine) as s:
        rows = s.execute(q).all()
        answers: dict[str, list[tuple[str, str]]] = {}
        for i in range(0, len(rows), 500):
            for call_id, qid, answer in s.execute(select(AnswerRow.call_id, AnswerRow.question_id, AnswerRow.answer)
                                                  .where(AnswerRow.call_id.in_([r[0] for r in rows[i:i + 500]]))):
                answers.setdefault(call_id, []).append((qid, answer))
        texts: dict[tuple[str, str], dict[str, str]] = {}
        for call_id, who, total, auto_failed, form_id, version in rows:
            if (form_id, version) not in texts:
                body = json.loads(s.scalar(select(sc.body).where(sc.call_id == call_id)))
                texts[form_id, version] = {a["question_id"]: a.get("text") or a["question_id"]
                                           for a in body.get("answers", ())}
            form = texts[form_id, version]
            mine = [{"question_id": qid, "text": form.get(qid, qid), "answer": a} for qid, a in answers.get(call_id, ())]
            by_agent.setdefault(who, []).append((call_id, total, bool(auto_failed), mine))
    return [_picks(who, calls, n) for who, calls in sorted(by_agent.items())]


def _picks(agent: str, calls: list[tuple], n: int) -> AgentPicks:
    def score(c):  # auto-failed calls count as the lowest; unscored (None) last
        return (not c[2], c[1] if c[1] is not None else float("inf"), c[0])

    ranked = sorted(calls, key=score)
    lowest = ranked[:min(n, (len(ranked) + 1) // 2)]
    low_ids = {c[0] for c in lowest}
    best = [c for c in reversed(ranked) if c[0] not in low_ids and not c[2] and c[1] is not None][:n]
    fails, asked, texts, examples = Counter(), Counter(), {}, {}
    for call_id, _, _, answers in ranked:
        for a in answers:
            qid = a["question_id"]
            texts.setdefault(qid, a.get("text") or qid)
            if a.get("answer") in ("pass", "fail"):
                asked[qid] += 1
            if a.get("answer") == "fail":
                fails[qid] += 1
                examples.setdefault(qid, []).append(call_id)
    failed = tuple(FailedQuestion(qid, texts[qid], k, asked[qid], tuple(examples[qid][:n]))
                   for qid, k in sorted(fails.items(), key=lambda p: (-p[1], p[0]))[:n])
    totals = [c[1] for c in calls if c[1] is not None]
    return AgentPicks(agent, len(calls), round(sum(totals) / len(totals), 1) if totals else None,
                      tuple(Pick(c[0], c[1], c[2]) for c in lowest), failed,
                      tuple(Pick(c[0], c[1], c[2]) for c in best))
