"""Calibration sessions: a QA lead picks scored calls and reviewers; each reviewer answers every question of
each call blind (without the machine's or the other reviewers' answers); the lead then sees, per form
question, how often the reviewers agree with each other and with the machine (percent and kappa,
`core.agreement`), and how that moves from session to session. This is how the machine's rules get tuned.

A session keeps a snapshot of each call's questions and the machine's answers when it was made (a later
re-scoring does not move the comparison). Answers are stored here, never as overrides. Tables on
`infra.store.Base`, created on first use; every row carries the tenant and every query is scoped by one.
Nothing here stores transcript text.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.store import Base, CallRow, ScorecardRow, _now
from core.agreement import Agreement, agreement

ANSWERS = ("pass", "fail", "na")
MAX_CALLS, MAX_REVIEWERS = 50, 20


class NotInSession(LookupError):
    """No such session in the tenant, or the call or reviewer is not part of it."""


class AlreadySubmitted(ValueError):
    """The reviewer's answers to this call are in already (blind answers are final)."""


class CalibrationSessionRow(Base):
    __tablename__ = "calibration_sessions"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are in links and the audit log: never reuse one
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class CalibrationCallRow(Base):
    __tablename__ = "calibration_calls"
    __table_args__ = (UniqueConstraint("session_id", "call_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    call_id: Mapped[str] = mapped_column(String(512))
    form_id: Mapped[str] = mapped_column(String(128))
    form_version: Mapped[str] = mapped_column(String(32))
    questions: Mapped[str] = mapped_column(Text)  # JSON [{question_id, text, machine}] at session creation


class CalibrationReviewerRow(Base):
    __tablename__ = "calibration_reviewers"
    __table_args__ = (UniqueConstraint("session_id", "reviewer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    reviewer: Mapped[str] = mapped_column(String(128))


class CalibrationAnswerRow(Base):
    __tablename__ = "calibration_answers"
    __table_args__ = (UniqueConstraint("session_id", "call_id", "reviewer", "question_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    call_id: Mapped[str] = mapped_column(String(512))
    reviewer: Mapped[str] = mapped_column(String(128))
    question_id: Mapped[str] = mapped_column(String(128))
    answer: Mapped[str] = mapped_column(String(8))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


_TABLES = [CalibrationSessionRow.__table__, CalibrationCallRow.__table__, CalibrationReviewerRow.__table__,
           CalibrationAnswerRow.__table__]


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str
    created_by: str
    created_at: datetime  # naive UTC
    calls: tuple[str, ...]
    reviewers: tuple[str, ...]
    submitted: Mapping[str, frozenset[str]]  # reviewer -> call ids answered


@dataclass(frozen=True)
class Question:
    """A question as the blind form shows it: no machine answer."""
    question_id: str
    text: str


@dataclass(frozen=True)
class QuestionResult:
    form_id: str
    question_id: str
    text: str
    agreement: Agreement


@dataclass(frozen=True)
class TrendPoint:
    session_id: int
    title: str
    created_at: datetime
    agreement: Agreement


class CalibrationStore:
    def __init__(self, engine):
        self.engine = engine
        Base.metadata.create_all(engine, tables=_TABLES)

    def create(self, tenant: str, title: str, created_by: str, call_ids: Sequence[str],
               reviewers: Sequence[str]) -> int:
        """A new session on the tenant's scored `call_ids` for `reviewers` (user names); returns its id."""
        title = " ".join((title or "").split())
        calls, people = list(dict.fromkeys(call_ids)), list(dict.fromkeys(r.strip() for r in reviewers))
        if not 1 <= len(title) <= 200:
            raise ValueError("a calibration session needs a title of 1 to 200 characters")
        if not 1 <= len(calls) <= MAX_CALLS:
            raise ValueError(f"pick 1 to {MAX_CALLS} calls")
        if not 1 <= len(people) <= MAX_REVIEWERS or any(not r or len(r) > 128 for r in people):
            raise ValueError(f"pick 1 to {MAX_REVIEWERS} reviewers")
        with Session(self.engine) as s:
            cards = {cid: (form_id, version, body) for cid, form_id, version, body in s.execute(
                select(ScorecardRow.call_id, ScorecardRow.form_id, ScorecardRow.form_version, ScorecardRow.body)
                .join(CallRow, CallRow.id == ScorecardRow.call_id)
                .where(CallRow.tenant == tenant, CallRow.id.in_(calls)))}
            missing = [c for c in calls if c not in cards]
            if missing:
                raise NotInSession(f"no scored call {missing[0]!r} in this tenant")
            row = CalibrationSessionRow(tenant=tenant, title=title, created_by=created_by)
            s.add(row)
            s.flush()
            for cid in calls:
                form_id, version, body = cards[cid]
                questions = [{"question_id": a["question_id"], "text": a.get("text", ""), "machine": a["answer"]}
                             for a in json.loads(body)["answers"]]
                s.add(CalibrationCallRow(tenant=tenant, session_id=row.id, call_id=cid, form_id=form_id,
                                         form_version=version, questions=json.dumps(questions, ensure_ascii=False)))
            s.add_all(CalibrationReviewerRow(tenant=tenant, session_id=row.id, reviewer=r) for r in people)
            s.commit()
            return row.id

    def sessions(self, tenant: str, *, reviewer: str | None = None) -> list[SessionInfo]:
        """The tenant's sessions, newest first; with `reviewer`, only those that reviewer is part of."""
        q = select(CalibrationSessionRow.id).where(CalibrationSessionRow.tenant == tenant)
        if reviewer is not None:
            q = q.join(CalibrationReviewerRow, CalibrationReviewerRow.session_id == CalibrationSessionRow.id) \
                .where(CalibrationReviewerRow.tenant == tenant, CalibrationReviewerRow.reviewer == reviewer)
        with Session(self.engine) as s:
            ids = sorted(s.scalars(q), reverse=True)
        return [self.session(tenant, i) for i in ids]

    def session(self, tenant: str, session_id: int) -> SessionInfo:
        with Session(self.engine) as s:
            row = s.scalar(select(CalibrationSessionRow).where(CalibrationSessionRow.tenant == tenant,
                                                               CalibrationSessionRow.id == session_id))
            if row is None:
                raise NotInSession("no such calibration session")
            calls = tuple(s.scalars(select(CalibrationCallRow.call_id).where(
                CalibrationCallRow.tenant == tenant, CalibrationCallRow.session_id == session_id)
                .order_by(CalibrationCallRow.id)))
            people = tuple(s.scalars(select(CalibrationReviewerRow.reviewer).where(
                CalibrationReviewerRow.tenant == tenant, CalibrationReviewerRow.session_id == session_id)
                .order_by(CalibrationReviewerRow.id)))
            submitted: dict[str, set[str]] = {r: set() for r in people}
            for reviewer, call_id in s.execute(select(CalibrationAnswerRow.reviewer, CalibrationAnswerRow.call_id)
                                               .where(CalibrationAnswerRow.tenant == tenant,
                                                      CalibrationAnswerRow.session_id == session_id).distinct()):
                submitted.setdefault(reviewer, set()).add(call_id)
            return SessionInfo(row.id, row.title, row.created_by, row.created_at, calls, people,
                               {r: frozenset(c) for r, c in submitted.items()})

    def _call(self, s: Session, tenant: str, session_id: int, call_id: str) -> CalibrationCallRow:
        row = s.scalar(select(CalibrationCallRow).where(CalibrationCallRow.tenant == tenant,
                                                        CalibrationCallRow.session_id == session_id,
                                                        CalibrationCallRow.call_id == call_id))
        if row is None:
            raise NotInSession("this call is not part of the calibration session")
        return row

    def blind_questions(self, tenant: str, session_id: int, call_id: str, reviewer: str) -> list[Question]:
        """The questions `reviewer` answers for the call: texts only, never the machine's answers."""
        info = self.session(tenant, session_id)
        if reviewer not in info.reviewers:
            raise NotInSession("you are not a reviewer of this calibration session")
        with Session(self.engine) as s:
            row = self._call(s, tenant, session_id, call_id)
            return [Question(q["question_id"], q["text"]) for q in json.loads(row.questions)]

    def blind_pending(self, tenant: str, call_id: str, reviewer: str) -> list[int]:
        """Sessions in which `reviewer` still has to score `call_id` blind (their call page hides the machine's
        scorecard until then)."""
        with Session(self.engine) as s:
            mine = (select(CalibrationCallRow.session_id)
                    .join(CalibrationReviewerRow, (CalibrationReviewerRow.session_id == CalibrationCallRow.session_id)
                          & (CalibrationReviewerRow.reviewer == reviewer))
                    .where(CalibrationCallRow.tenant == tenant, CalibrationCallRow.call_id == call_id))
            done = select(CalibrationAnswerRow.session_id).where(
                CalibrationAnswerRow.tenant == tenant, CalibrationAnswerRow.call_id == call_id,
                CalibrationAnswerRow.reviewer == reviewer)
            return sorted(set(s.scalars(mine)) - set(s.scalars(done)))

    def own_answers(self, tenant: str, session_id: int, call_id: str, reviewer: str) -> dict[str, str]:
        with Session(self.engine) as s:
            return {q: a for q, a in s.execute(select(CalibrationAnswerRow.question_id, CalibrationAnswerRow.answer)
                                               .where(CalibrationAnswerRow.tenant == tenant,
                                                      CalibrationAnswerRow.session_id == session_id,
                                                      CalibrationAnswerRow.call_id == call_id,
                                                      CalibrationAnswerRow.reviewer == reviewer))}

    def submit(self, tenant: str, session_id: int, call_id: str, reviewer: str, answers: Mapping[str, str]) -> None:
        """Store `reviewer`'s answer to every question of the call (all of them, each pass/fail/na; final)."""
        questions = [q.question_id for q in self.blind_questions(tenant, session_id, call_id, reviewer)]
        unknown = sorted(set(answers) - set(questions))
        if unknown:
            raise ValueError(f"the call has no question {unknown[0]!r}")
        missing = [q for q in questions if q not in answers]
        if missing:
            raise ValueError(f"answer every question; {missing[0]!r} has no answer")
        if any(answers[q] not in ANSWERS for q in questions):
            raise ValueError("answers are pass, fail or na")
        if self.own_answers(tenant, session_id, call_id, reviewer):
            raise AlreadySubmitted("your answers to this call are in already")
        with Session(self.engine) as s:
            s.add_all(CalibrationAnswerRow(tenant=tenant, session_id=session_id, call_id=call_id, reviewer=reviewer,
                                           question_id=q, answer=answers[q]) for q in questions)
            try:
                s.commit()
            except IntegrityError:
                raise AlreadySubmitted("your answers to this call are in already") from None

    def _session_results(self, s: Session, tenant: str, session_id: int) -> list[QuestionResult]:
        machine: dict[tuple[str, str], dict[str, str]] = {}
        texts: dict[tuple[str, str], str] = {}
        forms: dict[str, str] = {}
        for row in s.scalars(select(CalibrationCallRow).where(CalibrationCallRow.tenant == tenant,
                                                              CalibrationCallRow.session_id == session_id)
                             .order_by(CalibrationCallRow.id)):
            forms[row.call_id] = row.form_id
            for q in json.loads(row.questions):
                key = (row.form_id, q["question_id"])
                texts.setdefault(key, q["text"])
                machine.setdefault(key, {})[row.call_id] = q["machine"]
        ratings: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        for a in s.scalars(select(CalibrationAnswerRow).where(CalibrationAnswerRow.tenant == tenant,
                                                              CalibrationAnswerRow.session_id == session_id)):
            key = (forms.get(a.call_id, ""), a.question_id)
            ratings.setdefault(key, {}).setdefault(a.reviewer, {})[a.call_id] = a.answer
        return [QuestionResult(form_id, qid, texts[(form_id, qid)],
                               agreement(machine[(form_id, qid)], ratings.get((form_id, qid), {})))
                for form_id, qid in texts]

    def results(self, tenant: str, session_id: int) -> list[QuestionResult]:
        """Per form question: agreement between the reviewers and with the machine (answers in so far)."""
        self.session(tenant, session_id)
        with Session(self.engine) as s:
            return self._session_results(s, tenant, session_id)

    def trend(self, tenant: str, keys: set[tuple[str, str]] | None = None
              ) -> dict[tuple[str, str], list[TrendPoint]]:
        """(form id, question id) -> its agreement in every session with answers to it, oldest first."""
        out: dict[tuple[str, str], list[TrendPoint]] = {}
        with Session(self.engine) as s:
            sessions = s.execute(select(CalibrationSessionRow.id, CalibrationSessionRow.title,
                                        CalibrationSessionRow.created_at)
                                 .where(CalibrationSessionRow.tenant == tenant)
                                 .order_by(CalibrationSessionRow.created_at, CalibrationSessionRow.id)).all()
            for sid, title, at in sessions:
                for r in self._session_results(s, tenant, sid):
                    key = (r.form_id, r.question_id)
                    if r.agreement.raters and (keys is None or key in keys):
                        out.setdefault(key, []).append(TrendPoint(sid, title, at, r.agreement))
        return out
