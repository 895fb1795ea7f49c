"""The dashboard's figures, tenant-scoped: call volume per day/week (by queue, language, direction), mean score
per queue, auto-fail rate, per-question pass rate (machine answers, and "reviewed": the latest override where a
reviewer gave one), alert counts by status, category and severity; from the derived tables of
infra/dashboard_tables.py (scorecard bodies are JSON of ~8 KB each: too much to parse per page view). Weeks are
folded from days in Python; nothing here is SQLite-only.

`Dashboard` keeps the derived tables current and caches figures per tenant and selection:
- when it is made (the app's start-up), a sync with the full check below: a database the workspace never
  opened gets its derived tables built then (one INSERT ... SELECT per table), so no page view waits for it;
- a cheap probe on every request (row counts and highest ids: new calls, overrides, alerts, alert status
  changes) triggers an incremental sync at once;
- every `LIGHT_EVERY` s a sync runs anyway (calls re-processed or moved since);
- every `FULL_EVERY` s every scorecard's `scored_at` is compared as well (a re-scoring run that leaves the
  calls table alone shows within that time; reading `scored_at` walks each ~8 KB body: ~0.7 s per 100,000).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from infra.dashboard_tables import TABLES, DashAnswerRow, DashCallRow, DashQuestionRow, probe, sync
from infra.store import AlertRow, Base

LIGHT_EVERY, FULL_EVERY = 60.0, 600.0  # seconds
MAX_DAYS = 731  # longest range one page shows (weekly buckets beyond 31 days)
SEVERITIES = ("critical", "high", "medium", "low")


class DashboardRangeError(ValueError):
    """A date range the dashboard cannot show (reversed, or longer than MAX_DAYS)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class Series:
    name: str | None  # None: calls without that field (e.g. no queue)
    values: tuple  # one per period


@dataclass(frozen=True)
class QuestionRates:
    question_id: str
    text: str
    machine: tuple[tuple[int, int], ...]  # (passed, failed) per period
    reviewed: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class AlertCount:
    status: str
    category: str
    severity: str
    count: int


@dataclass(frozen=True)
class Figures:
    tenant: str
    date_from: date
    date_to: date
    queue: str | None
    bucket: str  # "day" or "week"
    periods: tuple[Period, ...]
    calls: tuple[int, ...]  # per period
    scored: tuple[int, ...]
    auto_failed: tuple[int, ...]
    auto_failed_reviewed: tuple[int, ...]
    reviewed_calls: int
    volume_by_queue: tuple[Series, ...]
    volume_by_language: tuple[Series, ...]
    volume_by_direction: tuple[Series, ...]
    mean_score_by_queue: tuple[Series, ...]  # mean machine total per period (None: nothing scored)
    mean_score: float | None
    questions: tuple[QuestionRates, ...]
    alerts: tuple[AlertCount, ...]


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def periods_for(date_from: date, date_to: date, bucket: str) -> tuple[Period, ...]:
    """Days, or weeks (Monday to Sunday) clipped to the range, so every period's counts match its link."""
    if date_to < date_from:
        raise DashboardRangeError("date_to is before date_from")
    if (date_to - date_from).days >= MAX_DAYS:
        raise DashboardRangeError(f"the dashboard shows at most {MAX_DAYS} days at once; pick a shorter range")
    if bucket not in ("day", "week"):
        raise DashboardRangeError("bucket must be day or week")
    out, start = [], date_from
    while start <= date_to:
        end = start if bucket == "day" else min(monday(start) + timedelta(days=6), date_to)
        out.append(Period(start, end))
        start = end + timedelta(days=1)
    return tuple(out)


def default_range(engine, tenant: str, date_from: date | None = None, date_to: date | None = None, *,
                  weeks: int = 12) -> tuple[date, date]:
    """What is missing of a range: it ends at the tenant's latest call day (today when it has none) and starts
    on the Monday `weeks` - 1 weeks before its end's week."""
    if date_to is None:
        with Session(engine) as s:
            date_to = s.scalar(select(func.max(DashCallRow.day)).where(DashCallRow.tenant == tenant))
        date_to = date_to or datetime.now(timezone.utc).date()
    return date_from or monday(date_to) - timedelta(weeks=weeks - 1), date_to


def _true(col):
    return func.sum(case((col.is_(True), 1), else_=0))


def _index(periods: tuple[Period, ...]):
    lookup = {}
    for i, p in enumerate(periods):
        for k in range((p.end - p.start).days + 1):
            lookup[p.start + timedelta(days=k)] = i
    return lookup


def _series(counts: dict) -> tuple[Series, ...]:
    """Largest first, the calls without a value last."""
    return tuple(Series(k, tuple(counts[k])) for k in sorted(counts, key=lambda k: (k is None, -sum(counts[k]),
                                                                                    str(k))))


def figures(engine, tenant: str, date_from: date, date_to: date, *, queue: str | None = None,
            bucket: str | None = None) -> Figures:
    """Every figure of the dashboard over [date_from, date_to] (call start days), one queue or all."""
    bucket = bucket or ("day" if (date_to - date_from).days < 31 else "week")
    periods = periods_for(date_from, date_to, bucket)
    at, n = _index(periods), len(periods)
    zeros = lambda: [0] * n  # noqa: E731
    c, a = DashCallRow, DashAnswerRow
    where_c = [c.tenant == tenant, c.day >= date_from, c.day <= date_to] + ([c.queue == queue] if queue else [])
    where_a = [a.tenant == tenant, a.day >= date_from, a.day <= date_to] + ([a.queue == queue] if queue else [])
    calls, scored, af, afr = zeros(), zeros(), zeros(), zeros()
    by_queue, by_lang, by_dir = {}, {}, {}
    score_sum: dict = {}
    reviewed_calls = 0
    with Session(engine) as s:
        q = select(c.day, c.queue, c.language, c.direction, func.count(), func.count(c.total), func.sum(c.total),
                   _true(c.auto_failed), _true(c.auto_failed_reviewed), _true(c.reviewed)) \
            .where(*where_c).group_by(c.day, c.queue, c.language, c.direction)
        for day, qu, lang, direction, k, k_scored, total, k_af, k_afr, k_rev in s.execute(q):
            i = at[day]
            calls[i] += k
            scored[i] += k_scored
            af[i] += k_af or 0
            afr[i] += k_afr or 0
            reviewed_calls += k_rev or 0
            for table, key in ((by_queue, qu), (by_lang, lang), (by_dir, direction)):
                table.setdefault(key, zeros())[i] += k
            if k_scored:
                sums = score_sum.setdefault(qu, (zeros(), zeros()))
                sums[0][i] += total or 0.0
                sums[1][i] += k_scored
        rates: dict[str, tuple[list, list]] = {}
        q = select(a.day, a.question_id, a.machine, a.reviewed, func.count()).where(*where_a) \
            .group_by(a.day, a.question_id, a.machine, a.reviewed)
        for day, qid, machine, reviewed, k in s.execute(q):
            m, r = rates.setdefault(qid, ([[0, 0] for _ in range(n)], [[0, 0] for _ in range(n)]))
            i = at[day]
            for tally, answer in ((m, machine), (r, reviewed)):
                if answer in ("pass", "fail"):
                    tally[i][answer == "fail"] += k
        texts = dict(s.execute(select(DashQuestionRow.question_id, DashQuestionRow.text)
                               .where(DashQuestionRow.question_id.in_(list(rates) or [""]))).all())
        al = AlertRow
        q = select(al.status, al.category, al.severity, func.count()).join(c, c.call_id == al.call_id) \
            .where(*where_c).group_by(al.status, al.category, al.severity)
        alerts = tuple(AlertCount(st, cat, sev, k) for st, cat, sev, k in s.execute(q))
    means = {qu: tuple(round(t / k, 2) if k else None for t, k in zip(*v)) for qu, v in score_sum.items()}
    total_scored = sum(scored)
    grand = sum(sum(v[0]) for v in score_sum.values())
    return Figures(
        tenant=tenant, date_from=date_from, date_to=date_to, queue=queue, bucket=bucket, periods=periods,
        calls=tuple(calls), scored=tuple(scored), auto_failed=tuple(af), auto_failed_reviewed=tuple(afr),
        reviewed_calls=reviewed_calls, volume_by_queue=_series(by_queue), volume_by_language=_series(by_lang),
        volume_by_direction=_series(by_dir),
        mean_score_by_queue=tuple(Series(k, means[k]) for k in sorted(means, key=lambda k: (k is None, str(k)))),
        mean_score=round(grand / total_scored, 2) if total_scored else None,
        questions=tuple(QuestionRates(qid, texts.get(qid, qid), tuple(map(tuple, m)), tuple(map(tuple, r)))
                        for qid, (m, r) in sorted(rates.items())),
        alerts=tuple(sorted(alerts, key=lambda x: (x.status, x.category, x.severity))))


class Dashboard:
    """Derived tables kept current and figures cached per tenant and selection (see the module docstring)."""

    def __init__(self, engine, *, light_every: float = LIGHT_EVERY, full_every: float = FULL_EVERY):
        self.engine, self.light_every, self.full_every = engine, light_every, full_every
        Base.metadata.create_all(engine, tables=TABLES)
        self._lock = threading.Lock()
        self._probe = None
        self._light_at = self._full_at = -1e18
        self._cache: dict[tuple, Figures | list[str]] = {}
        with self._lock:  # at start-up, not on a page view: a database never synced gets its tables built here
            self.refresh()

    def refresh(self) -> None:
        """Sync when the probe moved or a sync is due; forget cached figures when anything changed."""
        now = time.monotonic()
        seen = probe(self.engine)
        full = now - self._full_at > self.full_every
        if seen != self._probe or full or now - self._light_at > self.light_every:
            changed = sync(self.engine, full=full)
            self._light_at = now
            if full:
                self._full_at = now
            if changed or seen != self._probe:
                self._cache.clear()
            self._probe = seen

    def figures(self, tenant: str, date_from: date | None = None, date_to: date | None = None, *,
                queue: str | None = None, bucket: str | None = None) -> Figures:
        with self._lock:
            self.refresh()
            if date_from is None or date_to is None:
                date_from, date_to = default_range(self.engine, tenant, date_from, date_to)
            key = (tenant, date_from, date_to, queue, bucket)
            if key not in self._cache:
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = figures(self.engine, tenant, date_from, date_to, queue=queue, bucket=bucket)
            return self._cache[key]

    def queues(self, tenant: str) -> list[str]:
        """The tenant's queues (the page's queue menu), from the derived calls' covering index; cached like the
        figures (the workspace's facets read every call row: ~1 s at 100,000 calls)."""
        with self._lock:
            self.refresh()
            key = ("queues", tenant)
            if key not in self._cache:
                with Session(self.engine) as s:
                    self._cache[key] = list(s.scalars(
                        select(DashCallRow.queue).distinct()
                        .where(DashCallRow.tenant == tenant, DashCallRow.queue.is_not(None)).order_by(DashCallRow.queue)))
            return self._cache[key]
