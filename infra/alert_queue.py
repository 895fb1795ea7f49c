"""The alert queue's read queries on the results database, every one scoped by tenant (an alert belongs to the
tenant of its call): the queue with its filters (status, assignee, category, severity), critical and high
first; single alerts and sets of alerts by id; the compliance officers an alert may be assigned to."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from infra.store import AlertRow, CallRow

SEVERITIES = ("critical", "high", "medium", "low")  # most urgent first: the queue's order
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


def list_alerts(engine, tenant: str, *, statuses: tuple[str, ...] | None = ("new",), category: str | None = None,
                severity: str | None = None, call_id: str | None = None, assignee: str | None = None,
                unassigned: bool = False, ids: Iterable[int] | None = None,
                limit: int | None = 500) -> list[AlertItem]:
    """The tenant's alerts, critical first, then high, medium, low; newest first within a severity.
    `assignee`: only those assigned to that user; `unassigned`: only those assigned to nobody."""
    q = select(AlertRow, CallRow.agent, CallRow.queue).join(CallRow, CallRow.id == AlertRow.call_id) \
        .where(CallRow.tenant == tenant).order_by(_RANK, AlertRow.id.desc()).limit(limit)
    if statuses:
        q = q.where(AlertRow.status.in_(statuses))
    for col, value in ((AlertRow.category, category), (AlertRow.severity, severity), (AlertRow.call_id, call_id),
                       (AlertRow.assignee, assignee)):
        if value:
            q = q.where(col == value)
    if unassigned:
        q = q.where(AlertRow.assignee.is_(None))
    if ids is not None:
        q = q.where(AlertRow.id.in_(list(ids)))
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
    with Session(engine) as s:
        return list(s.scalars(select(AlertRow.category).distinct().join(CallRow, CallRow.id == AlertRow.call_id)
                              .where(CallRow.tenant == tenant).order_by(AlertRow.category)))
