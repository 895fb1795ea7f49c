"""Review queues by sampling: when every call is scored by the machine, a QA lead's rules pick which calls
reviewers look at (so many per agent per week or day, weighted toward low scores, alerts, auto-fails and
new agents; open disputes always), and each reviewer gets a queue with a progress count.

`sample` is the pure part: seeded, deterministic, weighted sampling without replacement (Efraimidis-Spirakis
keys u ** (1 / weight)) per agent, picks shared round-robin across the reviewers (the least loaded first).
`SamplingStore` keeps the rules and the queue items in the results database (on `infra.store.Base`, created
on first use); every row carries the tenant and every query is scoped by one. A queue item is done when its
reviewer reviewed the call (`infra.review.reviewers_by_call`) or overrode any of its answers.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra import review
from infra.store import AlertRow, Base, CallRow, OverrideRow, ScorecardRow, _now

LOW_SCORE = 70.0  # a total below this is called a "low score" in a pick's reason (the weight is continuous)


class SamplingRules(BaseModel):
    """A tenant's sampling rules. Weights add to a base weight of 1: a call's weight is
    1 + low_score * (100 - total) / 100 + alert * has_alert + new_agent * is_new + auto_fail * auto_failed."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    calls_per_agent: int = Field(5, ge=1, le=100, description="calls sampled per agent per period")
    period: Literal["week", "day"] = "week"
    weight_low_score: float = Field(2.0, ge=0, le=100)
    weight_alert: float = Field(2.0, ge=0, le=100)
    weight_new_agent: float = Field(1.0, ge=0, le=100)
    weight_auto_fail: float = Field(3.0, ge=0, le=100)
    new_agent_days: int = Field(30, ge=1, le=3650, description="an agent whose first call is this recent is new")
    include_disputed: bool = Field(True, description="queue every call with an open dispute, beyond the quota")
    reviewers: list[str] = Field(default_factory=list, max_length=200, description="user names, in turn order")

    @field_validator("reviewers")
    @classmethod
    def _reviewers(cls, names: list[str]) -> list[str]:
        names = [n.strip() for n in names]
        if any(not n or len(n) > 128 for n in names):
            raise ValueError("a reviewer name is empty or longer than 128 characters")
        if len(set(names)) != len(names):
            raise ValueError("a reviewer is listed twice")
        return names


@dataclass(frozen=True)
class Period:
    kind: str  # week / day
    key: str  # "2026-W48" (ISO week) or "2026-11-25"
    start: datetime  # naive UTC, inclusive
    end: datetime  # exclusive


def period_of(day: date, kind: str) -> Period:
    if kind == "day":
        start = datetime.combine(day, datetime.min.time())
        return Period("day", day.isoformat(), start, start + timedelta(days=1))
    if kind != "week":
        raise ValueError(f"a sampling period is week or day, not {kind!r}")
    monday = day - timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    start = datetime.combine(monday, datetime.min.time())
    return Period("week", f"{year}-W{week:02d}", start, start + timedelta(days=7))


@dataclass(frozen=True)
class Candidate:
    call_id: str
    agent: str  # "" when the call has none
    total: float | None
    auto_failed: bool = False
    has_alert: bool = False
    new_agent: bool = False
    disputed: bool = False


@dataclass(frozen=True)
class Queued:
    """A queue item already in the period (what a re-run must not repeat)."""
    call_id: str
    agent: str
    reviewer: str
    disputed: bool


@dataclass(frozen=True)
class Pick:
    call_id: str
    agent: str
    reviewer: str
    reason: str


def weight(c: Candidate, rules: SamplingRules) -> float:
    deficit = 0.0 if c.total is None else min(max((100.0 - c.total) / 100.0, 0.0), 1.0)
    return (1.0 + rules.weight_low_score * deficit + rules.weight_alert * c.has_alert
            + rules.weight_new_agent * c.new_agent + rules.weight_auto_fail * c.auto_failed)


def reason(c: Candidate, rules: SamplingRules, *, disputed: bool = False) -> str:
    parts = ["disputed"] if disputed else []
    for on, w, label in ((c.auto_failed, rules.weight_auto_fail, "auto-fail"),
                         (c.has_alert, rules.weight_alert, "alert"),
                         (c.total is not None and c.total < LOW_SCORE, rules.weight_low_score, "low score"),
                         (c.new_agent, rules.weight_new_agent, "new agent")):
        if on and w > 0:
            parts.append(label)
    return ", ".join(parts) or "random"


def sample(candidates: Sequence[Candidate], rules: SamplingRules, *, seed: str,
           queued: Sequence[Queued] = ()) -> list[Pick]:
    """The period's new picks. Calls in `queued` are never picked again, and an agent's quota is what
    `queued` left of it (disputed items do not use the quota), so a re-run on the same data adds nothing.
    Open disputes (with `include_disputed`) are picked whatever the quota. Raises ValueError without
    reviewers."""
    if not rules.reviewers:
        raise ValueError("the sampling rules name no reviewer: add at least one")
    taken = {q.call_id for q in queued}
    used = Counter(q.agent for q in queued if not q.disputed)
    by_id = {c.call_id: c for c in sorted(candidates, key=lambda c: c.call_id) if c.call_id not in taken}
    picks: list[tuple[Candidate, str]] = []
    if rules.include_disputed:
        picks += [(c, reason(c, rules, disputed=True)) for c in by_id.values() if c.disputed]
    pool: dict[str, list[Candidate]] = {}
    for c in by_id.values():
        if not (c.disputed and rules.include_disputed):
            pool.setdefault(c.agent, []).append(c)
    for agent in sorted(pool):
        quota = rules.calls_per_agent - used[agent]
        if quota <= 0:
            continue
        rng = random.Random(f"{seed}|{agent}")
        keyed = sorted(((rng.random() ** (1.0 / weight(c, rules)), c) for c in pool[agent]),
                       key=lambda kc: (-kc[0], kc[1].call_id))
        picks += [(c, reason(c, rules)) for _, c in keyed[:quota]]
    load = Counter({r: 0 for r in rules.reviewers})
    load.update(q.reviewer for q in queued if q.reviewer in load)
    out = []
    for c, why in picks:
        reviewer = min(rules.reviewers, key=lambda r: (load[r], rules.reviewers.index(r)))
        load[reviewer] += 1
        out.append(Pick(c.call_id, c.agent, reviewer, why))
    return out


# storage
class SamplingRulesRow(Base):
    __tablename__ = "sampling_rules"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # SamplingRules JSON
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class QueueItemRow(Base):
    __tablename__ = "review_queue_items"
    __table_args__ = (UniqueConstraint("tenant", "period", "call_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    reviewer: Mapped[str] = mapped_column(String(128), index=True)
    call_id: Mapped[str] = mapped_column(String(512))
    agent: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)


@dataclass(frozen=True)
class QueueItem:
    id: int
    reviewer: str
    call_id: str
    agent: str
    reason: str
    period: str
    assigned_at: datetime  # naive UTC
    done_at: datetime | None


@dataclass(frozen=True)
class Progress:
    reviewer: str
    done: int
    total: int


_TABLES = [SamplingRulesRow.__table__, QueueItemRow.__table__]


def _item(r: QueueItemRow) -> QueueItem:
    return QueueItem(r.id, r.reviewer, r.call_id, r.agent, r.reason, r.period, r.assigned_at, r.done_at)


class SamplingStore:
    def __init__(self, engine):
        self.engine = engine
        Base.metadata.create_all(engine, tables=_TABLES)

    def rules(self, tenant: str) -> SamplingRules:
        """The tenant's rules (the defaults, with no reviewer, until a lead saves some)."""
        with Session(self.engine) as s:
            body = s.scalar(select(SamplingRulesRow.body).where(SamplingRulesRow.tenant == tenant))
        return SamplingRules.model_validate_json(body) if body else SamplingRules()

    def save_rules(self, tenant: str, rules: SamplingRules, updated_by: str) -> None:
        with Session(self.engine) as s:
            s.merge(SamplingRulesRow(tenant=tenant, body=rules.model_dump_json(), updated_by=updated_by,
                                     updated_at=_now()))
            s.commit()

    def candidates(self, tenant: str, period: Period, rules: SamplingRules, disputed: set[str]) -> list[Candidate]:
        """The tenant's scored calls started in the period, plus its scored calls in `disputed` (any date)."""
        has_alert = exists().where(AlertRow.call_id == CallRow.id)
        first = select(CallRow.agent, func.min(CallRow.started_at)).where(
            CallRow.tenant == tenant, CallRow.agent.is_not(None)).group_by(CallRow.agent)
        in_period = (CallRow.started_at >= period.start) & (CallRow.started_at < period.end)
        where = in_period | CallRow.id.in_(sorted(disputed)) if disputed else in_period
        q = select(CallRow.id, CallRow.agent, ScorecardRow.total, ScorecardRow.auto_failed, has_alert) \
            .join(ScorecardRow, ScorecardRow.call_id == CallRow.id).where(CallRow.tenant == tenant, where)
        new_since = period.end - timedelta(days=rules.new_agent_days)
        with Session(self.engine) as s:
            firsts = {agent: at for agent, at in s.execute(first)}
            rows = s.execute(q).all()
        return [Candidate(cid, agent or "", total, bool(af), bool(alert),
                          new_agent=bool(agent) and firsts.get(agent) is not None and firsts[agent] >= new_since,
                          disputed=cid in disputed) for cid, agent, total, af, alert in rows]

    def generate(self, tenant: str, day: date) -> tuple[Period, list[Pick]]:
        """Sample the period holding `day` with the tenant's rules and queue the picks (idempotent: a re-run
        queues only what new calls or a raised quota add). Calls somebody reviewed already are not sampled;
        an open dispute is queued once (not again once any period has it queued as disputed)."""
        rules = self.rules(tenant)
        period = period_of(day, rules.period)
        reviewed = set(review.reviewers_by_call(self.engine, tenant))
        disputed = review.open_disputed_call_ids(self.engine, tenant) if rules.include_disputed else set()
        with Session(self.engine) as s:
            rows = s.scalars(select(QueueItemRow).where(QueueItemRow.tenant == tenant)).all()
        queued = [Queued(r.call_id, r.agent, r.reviewer, r.reason.startswith("disputed"))
                  for r in rows if r.period == period.key]
        queued_disputes = {r.call_id for r in rows if r.reason.startswith("disputed")}
        disputed -= queued_disputes
        candidates = [c for c in self.candidates(tenant, period, rules, disputed)
                      if c.disputed or (c.call_id not in reviewed and c.call_id not in queued_disputes)]
        picks = sample(candidates, rules, seed=f"{tenant}|{period.key}", queued=queued)
        with Session(self.engine) as s:
            s.add_all(QueueItemRow(tenant=tenant, reviewer=p.reviewer, call_id=p.call_id, agent=p.agent[:128],
                                   reason=p.reason, period=period.key) for p in picks)
            try:
                s.commit()
            except IntegrityError:
                raise ValueError("someone else generated these queues at the same moment; reload and look "
                                 "again") from None
        return period, picks

    def refresh_done(self, tenant: str) -> int:
        """Mark open queue items done whose reviewer has reviewed or overridden the call; returns how many."""
        with Session(self.engine) as s:
            open_items = s.scalars(select(QueueItemRow).where(QueueItemRow.tenant == tenant,
                                                              QueueItemRow.done_at.is_(None))).all()
            if not open_items:
                return 0
            ids = sorted({r.call_id for r in open_items})
            by = review.reviewers_by_call(self.engine, tenant, ids)
            overrides = s.execute(select(OverrideRow.call_id, OverrideRow.reviewer).join(
                CallRow, CallRow.id == OverrideRow.call_id).where(CallRow.tenant == tenant,
                                                                  OverrideRow.call_id.in_(ids))).all()
            for call_id, reviewer in overrides:
                by.setdefault(call_id, set()).add(reviewer)
            done = [r.id for r in open_items if r.reviewer in by.get(r.call_id, ())]
            if done:
                s.execute(update(QueueItemRow).where(QueueItemRow.tenant == tenant, QueueItemRow.id.in_(done))
                          .values(done_at=_now()))
                s.commit()
            return len(done)

    def items(self, tenant: str, *, period: str | None = None, reviewer: str | None = None) -> list[QueueItem]:
        self.refresh_done(tenant)
        q = select(QueueItemRow).where(QueueItemRow.tenant == tenant).order_by(QueueItemRow.id)
        if period is not None:
            q = q.where(QueueItemRow.period == period)
        if reviewer is not None:
            q = q.where(QueueItemRow.reviewer == reviewer)
        with Session(self.engine) as s:
            return [_item(r) for r in s.scalars(q)]

    def periods(self, tenant: str, reviewer: str | None = None) -> list[str]:
        """Periods with queue items, newest first."""
        q = select(QueueItemRow.period).where(QueueItemRow.tenant == tenant).distinct()
        if reviewer is not None:
            q = q.where(QueueItemRow.reviewer == reviewer)
        with Session(self.engine) as s:
            return sorted(s.scalars(q), reverse=True)

    def progress(self, tenant: str, period: str) -> list[Progress]:
        counts: dict[str, list[int]] = {}
        for it in self.items(tenant, period=period):
            c = counts.setdefault(it.reviewer, [0, 0])
            c[0] += it.done_at is not None
            c[1] += 1
        return [Progress(r, d, t) for r, (d, t) in sorted(counts.items())]
