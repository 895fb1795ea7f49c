"""The alert queue's read queries on the results database, every one scoped by tenant (an alert belongs to the
tenant of its call): the queue with its filters (status, assignee, category, severity), critical and high
first; one page of the grouped queue (`queue_page`); single alerts and sets of alerts by id."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable

from sqlalchemy import and_, case, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from infra.store import AlertRow, CallRow

SEVERITIES = ("critical", "high", "medium", "low")  # most urgent first: the queue's order
GROUP_AT = 3  # this many same-rule low/medium alerts of one queue collapse into one group row
GROUPABLE = ("medium", "low")  # critical and high alerts are never grouped
_RANK = case({s: i for i, s in enumerate(SEVERITIES)}, value=AlertRow.severity, else_=len(SEVERITIES))


@dataclass(frozen=True)
class AlertItem:
    id: int
    call_id: str
    agent: str | None
    queue: str | None
    category: str
    severity: str
    title: str
    status: str
    created_at: datetime
    updated_at: datetime
    body: dict  # stored alert dict, evidence redacted
    rule_id: str = ""
    assignee: str | None = None  # user name of the compliance officer it is assigned to


def _item(a: AlertRow, agent: str | None, queue: str | None) -> AlertItem:
    return AlertItem(a.id, a.call_id, agent, queue, a.category, a.severity, a.title, a.status, a.created_at,
                     a.updated_at, json.loads(a.body), a.rule_id, a.assignee)


@dataclass(frozen=True)
class Where:
    """The queue's filters (None / False: any)."""
    statuses: tuple[str, ...] | None = ("new",)
    category: str | None = None
    severity: str | None = None
    call_id: str | None = None
    assignee: str | None = None  # only those assigned to that user
    unassigned: bool = False  # only those assigned to nobody
    rule_id: str | None = None
    queue: str | None = None  # with rule_id: one group's members ("" for calls without a queue)
    call_from: datetime | None = None  # calls started (else processed) at or after (naive UTC; the static export)
    call_to: datetime | None = None  # ... at or before

    def conds(self, tenant: str, *, by_id: bool = False) -> list:
        """`by_id`: the query picks alerts by id, so the tenant check must not drive it (SQLite would otherwise
        walk every call of the tenant: seconds at 100,000 calls)."""
        out = [(CallRow.tenant.concat("") if by_id else CallRow.tenant) == tenant]
        if self.statuses:
            out.append(AlertRow.status.in_(self.statuses))
        for col, value in ((AlertRow.category, self.category), (AlertRow.severity, self.severity),
                           (AlertRow.call_id, self.call_id), (AlertRow.assignee, self.assignee),
                           (AlertRow.rule_id, self.rule_id)):
            if value:
                out.append(col == value)
        if self.queue is not None:
            out.append(func.coalesce(CallRow.queue, "") == self.queue)
        if self.unassigned:
            out.append(AlertRow.assignee.is_(None))
        when = func.coalesce(CallRow.started_at, CallRow.processed_at)
        if self.call_from is not None:
            out.append(when >= self.call_from)
        if self.call_to is not None:
            out.append(when <= self.call_to)
        return out


def list_alerts(engine, tenant: str, *, statuses: tuple[str, ...] | None = ("new",), category: str | None = None,
                severity: str | None = None, call_id: str | None = None, assignee: str | None = None,
                unassigned: bool = False, ids: Iterable[int] | None = None,
                limit: int | None = 500, offset: int = 0, where: Where | None = None) -> list[AlertItem]:
    """The tenant's alerts, critical first, then high, medium, low; newest first within a severity.
    `assignee`: only those assigned to that user; `unassigned`: only those assigned to nobody; `where`: all
    the filters at once (instead of the keywords)."""
    w = where or Where(statuses, category, severity, call_id, assignee, unassigned)
    q = select(AlertRow, CallRow.agent, CallRow.queue).join(CallRow, CallRow.id == AlertRow.call_id) \
        .where(*w.conds(tenant, by_id=ids is not None)).order_by(_RANK, AlertRow.id.desc()).limit(limit) \
        .offset(offset or None)
    if ids is not None:
        q = q.where(AlertRow.id.in_(list(ids)))
    with Session(engine) as s:
        return [_item(a, agent, queue) for a, agent, queue in s.execute(q)]


def count_alerts(engine, tenant: str, where: Where) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(AlertRow).join(CallRow, CallRow.id == AlertRow.call_id)
                        .where(*where.conds(tenant))) or 0


@dataclass(frozen=True)
class QueueSlot:
    """One row of the grouped queue: an alert, or (`size` > 0) the newest member of a group of `size` alerts
    of its rule and queue, of which `calls` distinct calls."""
    alert: AlertItem
    size: int = 0
    calls: int = 0


@dataclass(frozen=True)
class QueuePage:
    slots: list[QueueSlot]
    rows: int  # rows of the whole grouped queue (a group is one row)
    alerts: int  # alerts matching the filters, grouped ones included


def queue_page(engine, tenant: str, where: Where, *, groupable: tuple[str, ...], at: int, expand: str = "",
               limit: int = 50, offset: int = 0) -> QueuePage:
    """One page of the queue as rows, in a stable order (severity rank, then newest first): alerts of a
    `groupable` severity, `at` or more of one rule and queue, are one row in place of their first (unless
    "<rule_id>|<queue>" is `expand`). Grouping is over every matching alert, not the page's only."""
    ranked, grouped, shown = _ranked(tenant, where, groupable, at, expand)
    with Session(engine) as s:
        rows, alerts = s.execute(select(func.count().filter(shown), func.count()).select_from(ranked)).one()
        page = s.execute(select(ranked.c.id, case((grouped, ranked.c.size), else_=0)).where(shown)
                         .order_by(ranked.c.rank, ranked.c.id.desc()).limit(limit).offset(offset)).all()
    return QueuePage(_slots(engine, tenant, where, groupable, page), rows or 0, alerts or 0)


def queue_groups(engine, tenant: str, where: Where, *, groupable: tuple[str, ...], at: int) -> list[QueueSlot]:
    """Only the group rows of the whole queue (`queue_page`'s rows with `size` > 0), in queue order: what the
    static export lists beside every alert."""
    ranked, grouped, _ = _ranked(tenant, where, groupable, at, "")
    with Session(engine) as s:
        page = s.execute(select(ranked.c.id, ranked.c.size).where(grouped, ranked.c.n == 1)
                         .order_by(ranked.c.rank, ranked.c.id.desc())).all()
    return _slots(engine, tenant, where, groupable, page)


def _ranked(tenant: str, where: Where, groupable: tuple[str, ...], at: int, expand: str):
    """The matching alerts with their rank, place and size in their group; (subquery, grouped, shown)."""
    queue = func.coalesce(CallRow.queue, "")
    group_of = case((AlertRow.severity.in_(groupable), literal(0)), else_=AlertRow.id)  # non-groupable: alone
    rule, _, exp_queue = expand.partition("|")
    keep_apart = and_(AlertRow.rule_id == rule, queue == exp_queue) if expand else literal(False)
    part = (group_of, AlertRow.rule_id, queue)
    ranked = (select(AlertRow.id.label("id"), _RANK.label("rank"),
                     func.row_number().over(partition_by=part, order_by=(_RANK, AlertRow.id.desc())).label("n"),
                     func.count().over(partition_by=part).label("size"),
                     and_(AlertRow.severity.in_(groupable), not_(keep_apart)).label("may_group"))
              .join(CallRow, CallRow.id == AlertRow.call_id).where(*where.conds(tenant))).subquery()
    grouped = and_(ranked.c.may_group, ranked.c.size >= at)
    return ranked, grouped, or_(not_(grouped), ranked.c.n == 1)


def _slots(engine, tenant: str, where: Where, groupable: tuple[str, ...], page) -> list[QueueSlot]:
    """(alert id, group size or 0) rows as queue slots (a group's distinct calls counted)."""
    items = alerts_in_tenant(engine, tenant, [i for i, _ in page])
    slots = []
    with Session(engine) as s:
        for i, size in page:
            a = items[i]
            calls = 0
            if size:
                calls = s.scalar(select(func.count(AlertRow.call_id.distinct())).join(
                    CallRow, CallRow.id == AlertRow.call_id).where(*_members(tenant, where, a, groupable)))
            slots.append(QueueSlot(a, size, calls or 0))
    return slots


def _members(tenant: str, where: Where, a: AlertItem, groupable: tuple[str, ...]) -> list:
    return [*replace(where, rule_id=a.rule_id, queue=a.queue or "").conds(tenant), AlertRow.severity.in_(groupable)]


def group_members(engine, tenant: str, where: Where, first: AlertItem, groupable: tuple[str, ...],
                  limit: int) -> list[AlertItem]:
    """The first `limit` members (queue order) of the group `first` heads: the alerts matching `where` of its
    rule and queue and a groupable severity."""
    q = select(AlertRow, CallRow.agent, CallRow.queue).join(CallRow, CallRow.id == AlertRow.call_id) \
        .where(*_members(tenant, where, first, groupable)).order_by(_RANK, AlertRow.id.desc()).limit(limit)
    with Session(engine) as s:
        return [_item(a, agent, queue) for a, agent, queue in s.execute(q)]


def alert_in_tenant(engine, tenant: str, alert_id: int) -> AlertItem | None:
    found = list_alerts(engine, tenant, statuses=None, ids=(alert_id,), limit=1)
    return found[0] if found else None


def alerts_in_tenant(engine, tenant: str, alert_ids: Iterable[int]) -> dict[int, AlertItem]:
    """id -> alert for those of `alert_ids` that are the tenant's (the others are simply absent)."""
    ids = sorted(set(alert_ids))
    out: dict[int, AlertItem] = {}
    for start in range(0, len(ids), 500):  # keep the IN list within every driver's parameter limit
        out.update((a.id, a) for a in list_alerts(engine, tenant, statuses=None, ids=ids[start:start + 500],
                                                  limit=None))
    return out


def alert_categories(engine, tenant: str) -> list[str]:
    """The categories of the tenant's alerts: each category (from its index) kept if one alert of it is the
    tenant's, rather than joining every alert to its call."""
    cats = select(AlertRow.category).distinct().subquery()
    mine = select(AlertRow.id).join(CallRow, CallRow.id == AlertRow.call_id) \
        .where(AlertRow.category == cats.c.category, CallRow.tenant.concat("") == tenant)
    with Session(engine) as s:
        return list(s.scalars(select(cats.c.category).where(mine.exists()).order_by(cats.c.category)))
