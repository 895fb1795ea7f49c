"""QA review records beside the machine's scorecards: who confirmed a call as reviewed, which agent
acknowledged a scorecard, and agents' disputes of single answers with their resolution by a QA lead.

The tables live in the results database on `infra.store.Base`, created on first use (additive, like
`infra.accounts`). Every row carries the tenant and every query here is scoped by one, so a tenant never
sees another's reviews or disputes even for a call id that exists in both. Nothing here stores transcript
text: a dispute holds the question id and the agent's own comment.
"""
from __future__ import annotations

import json
import weakref
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.store import Base, CallRow, OverrideRow, ScorecardRow, _now
from core.reviewed import ReviewedTotals, reviewed_totals

DISPUTE_STATUSES = ("open", "upheld", "rejected")
REVIEW_KINDS = ("confirmed", "override", "dispute_resolution")  # why a review row was written


class ReviewRow(Base):
    """A reviewer looked at the call: confirmed it ("Mark reviewed"), overrode an answer, or settled a
    dispute. Several rows per call are normal; "reviewed by" is the set of their reviewers."""
    __tablename__ = "call_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(512), index=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="confirmed")
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class AcknowledgementRow(Base):
    """An agent acknowledged the scorecard of their own call (at the form version they saw)."""
    __tablename__ = "scorecard_acknowledgements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(512), index=True)
    agent_username: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class DisputeRow(Base):
    """An agent disputes one answer of their call's scorecard; a QA lead upholds or rejects it."""
    __tablename__ = "answer_disputes"
    __table_args__ = {"sqlite_autoincrement": True}  # ids appear in links and the audit log: never reuse one
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(512), index=True)
    question_id: Mapped[str] = mapped_column(String(128))
    agent_username: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    resolver: Mapped[str | None] = mapped_column(String(128))
    resolution_comment: Mapped[str | None] = mapped_column(Text)
    resolution_answer: Mapped[str | None] = mapped_column(String(8))  # the override the lead set, if any
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


_TABLES = [ReviewRow.__table__, AcknowledgementRow.__table__, DisputeRow.__table__]
_created: weakref.WeakSet = weakref.WeakSet()  # engines whose tables exist (create_all inspects the schema)


def ensure_tables(engine) -> None:
    """Create the review tables if missing (idempotent; cheap after the first call per engine). Weak
    references: an engine's id may be reused by a later one on another database once it is gone."""
    if engine not in _created:
        Base.metadata.create_all(engine, tables=_TABLES)
        _created.add(engine)


@dataclass(frozen=True)
class Review:
    call_id: str
    reviewer: str
    kind: str
    at: datetime  # naive UTC


@dataclass(frozen=True)
class Acknowledgement:
    call_id: str
    agent_username: str
    at: datetime  # naive UTC


@dataclass(frozen=True)
class Dispute:
    id: int
    call_id: str
    question_id: str
    agent_username: str
    comment: str
    status: str
    resolver: str | None
    resolution_comment: str | None
    resolution_answer: str | None
    created_at: datetime  # naive UTC
    resolved_at: datetime | None


@dataclass(frozen=True)
class LatestOverride:
    """A question's latest reviewer answer (earlier ones stay in `overrides`, never shown as current)."""
    answer: str
    reviewer: str
    comment: str | None
    at: datetime  # naive UTC


def _dispute(r: DisputeRow) -> Dispute:
    return Dispute(r.id, r.call_id, r.question_id, r.agent_username, r.comment, r.status, r.resolver,
                   r.resolution_comment, r.resolution_answer, r.created_at, r.resolved_at)


# reviews
def record_review(engine, tenant: str, call_id: str, reviewer: str, kind: str = "confirmed") -> None:
    if kind not in REVIEW_KINDS:
        raise ValueError(f"review kind must be one of {', '.join(REVIEW_KINDS)}, not {kind!r}")
    ensure_tables(engine)
    with Session(engine) as s:
        s.add(ReviewRow(tenant=tenant, call_id=call_id, reviewer=reviewer, kind=kind))
        s.commit()


def reviewers_by_call(engine, tenant: str, call_ids: list[str] | None = None) -> dict[str, set[str]]:
    """call id -> user names who reviewed it (any review row); `call_ids` None: every reviewed call."""
    ensure_tables(engine)
    if call_ids is not None and not call_ids:
        return {}
    out: dict[str, set[str]] = {}
    with Session(engine) as s:
        for chunk in _chunks(call_ids):
            q = select(ReviewRow.call_id, ReviewRow.reviewer).where(ReviewRow.tenant == tenant)
            if chunk is not None:
                q = q.where(ReviewRow.call_id.in_(chunk))
            for call_id, reviewer in s.execute(q):
                out.setdefault(call_id, set()).add(reviewer)
    return out


def _chunks(call_ids: list[str] | None, size: int = 500):
    """`call_ids` in slices that stay under SQLite's bound-parameter limit; None (no restriction) as is."""
    if call_ids is None:
        yield None
        return
    ids = list(call_ids)
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def reviewed_call_ids(engine, tenant: str) -> set[str]:
    """Ids of the tenant's calls with at least one review row."""
    ensure_tables(engine)
    with Session(engine) as s:
        return set(s.scalars(select(ReviewRow.call_id).where(ReviewRow.tenant == tenant).distinct()))


def call_reviews(engine, tenant: str, call_id: str) -> list[Review]:
    ensure_tables(engine)
    with Session(engine) as s:
        q = select(ReviewRow).where(ReviewRow.tenant == tenant, ReviewRow.call_id == call_id) \
            .order_by(ReviewRow.id)
        return [Review(r.call_id, r.reviewer, r.kind, r.at) for r in s.scalars(q)]


# acknowledgements
def acknowledge(engine, tenant: str, call_id: str, agent_username: str) -> None:
    ensure_tables(engine)
    with Session(engine) as s:
        s.add(AcknowledgementRow(tenant=tenant, call_id=call_id, agent_username=agent_username))
        s.commit()


def acknowledgements(engine, tenant: str, call_id: str) -> list[Acknowledgement]:
    ensure_tables(engine)
    with Session(engine) as s:
        q = select(AcknowledgementRow).where(AcknowledgementRow.tenant == tenant,
                                             AcknowledgementRow.call_id == call_id).order_by(AcknowledgementRow.id)
        return [Acknowledgement(r.call_id, r.agent_username, r.at) for r in s.scalars(q)]


# disputes
def open_dispute(engine, tenant: str, call_id: str, question_id: str, agent_username: str, comment: str) -> int:
    """Store a new open dispute; returns its id."""
    ensure_tables(engine)
    with Session(engine) as s:
        row = DisputeRow(tenant=tenant, call_id=call_id, question_id=question_id, agent_username=agent_username,
                         comment=comment, status="open")
        s.add(row)
        s.commit()
        return row.id


def disputes(engine, tenant: str, *, status: str | None = "open", call_id: str | None = None,
             limit: int = 500) -> list[Dispute]:
    """The tenant's disputes, newest first; `status` None for every status."""
    if status is not None and status not in DISPUTE_STATUSES:
        raise ValueError(f"dispute status must be one of {', '.join(DISPUTE_STATUSES)}, not {status!r}")
    ensure_tables(engine)
    q = select(DisputeRow).where(DisputeRow.tenant == tenant).order_by(DisputeRow.id.desc()).limit(limit)
    if status is not None:
        q = q.where(DisputeRow.status == status)
    if call_id is not None:
        q = q.where(DisputeRow.call_id == call_id)
    with Session(engine) as s:
        return [_dispute(r) for r in s.scalars(q)]


def dispute(engine, tenant: str, dispute_id: int) -> Dispute | None:
    ensure_tables(engine)
    with Session(engine) as s:
        r = s.scalar(select(DisputeRow).where(DisputeRow.tenant == tenant, DisputeRow.id == dispute_id))
        return _dispute(r) if r else None


def resolve_dispute(engine, tenant: str, dispute_id: int, status: str, resolver: str, comment: str,
                    answer: str | None = None) -> bool:
    """Close an open dispute as upheld or rejected; False when it is not (or no longer) open in this tenant,
    so two leads settling the same dispute at once cannot both win."""
    if status not in ("upheld", "rejected"):
        raise ValueError(f"a dispute is resolved as upheld or rejected, not {status!r}")
    ensure_tables(engine)
    with Session(engine) as s:
        res = s.execute(update(DisputeRow).where(DisputeRow.tenant == tenant, DisputeRow.id == dispute_id,
                                                 DisputeRow.status == "open")
                        .values(status=status, resolver=resolver, resolution_comment=comment,
                                resolution_answer=answer, resolved_at=_now()))
        s.commit()
        return res.rowcount == 1


def open_disputed_call_ids(engine, tenant: str) -> set[str]:
    """Ids of the tenant's calls with at least one open dispute."""
    ensure_tables(engine)
    with Session(engine) as s:
        return set(s.scalars(select(DisputeRow.call_id).where(DisputeRow.tenant == tenant,
                                                              DisputeRow.status == "open").distinct()))


# overrides (stored by infra.store; read here for many calls at once)
def latest_overrides(engine, tenant: str, call_ids: list[str] | None = None) -> dict[str, dict[str, LatestOverride]]:
    """call id -> question id -> latest reviewer answer, for the tenant's calls (`call_ids` None: all)."""
    out: dict[str, dict[str, LatestOverride]] = {}
    for chunk in _chunks(call_ids):
        q = select(OverrideRow).join(CallRow, CallRow.id == OverrideRow.call_id).where(CallRow.tenant == tenant)
        if chunk is not None:
            q = q.where(OverrideRow.call_id.in_(chunk))
        out.update(_latest(engine, q))
    return out


def latest_overrides_everywhere(engine) -> dict[str, dict[str, LatestOverride]]:
    """Like `latest_overrides` over the whole results database, for the operator's static report
    (`reports/`), which covers every call the database holds just as `ResultsStore.scorecards()` does."""
    return _latest(engine, select(OverrideRow))


def _latest(engine, q) -> dict[str, dict[str, LatestOverride]]:
    out: dict[str, dict[str, LatestOverride]] = {}
    with Session(engine) as s:
        for o in s.scalars(q.order_by(OverrideRow.id)):
            out.setdefault(o.call_id, {})[o.question_id] = LatestOverride(o.human_answer, o.reviewer, o.comment, o.at)
    return out


# what the call page and the exports show
def review_state(engine, tenant: str, call_id: str, card: dict, overrides: dict[str, dict]) -> dict:
    """A scorecard's review state for the call page and API: totals with the reviewers' latest answers
    (`overrides`: question id -> {"answer", "reviewer", ...}) applied, beside the machine's (which stay in
    the card's `total`); who reviewed it; the agent's acknowledgements and disputes (with resolutions)."""
    totals = reviewed_totals(card, {q: o["answer"] for q, o in overrides.items()})
    by = reviewers_by_call(engine, tenant, [call_id]).get(call_id, set())
    return {"reviewed_total": totals.total, "reviewed_auto_failed": totals.auto_failed,
            "reviewed_changed": totals.changed,
            "reviewed_by": sorted(by | {o["reviewer"] for o in overrides.values()}),
            "acknowledgements": [asdict(a) for a in acknowledgements(engine, tenant, call_id)],
            "disputes": [asdict(d) for d in disputes(engine, tenant, status=None, call_id=call_id)]}


def reviewed_scorecards(engine, tenant: str, call_ids: list[str]) -> dict[str, tuple[dict, dict[str, LatestOverride],
                                                                                     ReviewedTotals]]:
    """call id -> (machine scorecard body, latest override per question, reviewed totals) for those of
    `call_ids` that are the tenant's and have a scorecard (the dashboard and exports use the reviewed answer)."""
    if not call_ids:
        return {}
    out = {}
    overrides = latest_overrides(engine, tenant, call_ids)
    with Session(engine) as s:
        for chunk in _chunks(call_ids):
            q = select(ScorecardRow.call_id, ScorecardRow.body).join(CallRow, CallRow.id == ScorecardRow.call_id) \
                .where(CallRow.tenant == tenant, ScorecardRow.call_id.in_(chunk))
            for call_id, body in s.execute(q):
                card, mine = json.loads(body), overrides.get(call_id, {})
                out[call_id] = (card, mine, reviewed_totals(card, {k: o.answer for k, o in mine.items()}))
    return out


def reviewed_everywhere(engine) -> dict[str, tuple[dict[str, LatestOverride], ReviewedTotals]]:
    """call id -> (latest override per question, reviewed totals) for every call in the results database
    with an override: the operator's static report (`reports/`) covers the whole database. Only the
    overridden calls' scorecards are read."""
    overrides = latest_overrides_everywhere(engine)
    out = {}
    with Session(engine) as s:
        for chunk in _chunks(sorted(overrides)):
            for call_id, body in s.execute(select(ScorecardRow.call_id, ScorecardRow.body)
                                           .where(ScorecardRow.call_id.in_(chunk))):
                mine = overrides[call_id]
                out[call_id] = (mine, reviewed_totals(json.loads(body), {q: o.answer for q, o in mine.items()}))
    return out
