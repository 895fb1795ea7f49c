"""The alert queue's logic for pages and API alike (web/service.py's Workspace delegates here): filters, the
grouped view and its pages, status changes and assignment of one alert or of many at once, and the history of
every change.

Every change is written to the audit log, one entry per alert (action `alert_status` or `alert_assign`, with
from, to and the comment); the history shown on the call page and by the API is read back from there. A bulk
change is validated as a whole before anything is written: every id must be an alert of the viewer's tenant."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException

from infra.alert_queue import (GROUP_AT, GROUPABLE, AlertItem, Where, alerts_in_tenant, count_alerts, group_members,
                               list_alerts, queue_page)
from infra.store import ALERT_STATUSES
from web.auth import ACT_ON_ALERTS, ALERT_QUEUE, VIEW_ALERTS, Viewer, require

ANYONE, ME, NOBODY = "", "me", "none"  # the assignee filter's special values (else a user name)
ASSIGN = "assign"
BULK_ACTIONS = ("acknowledged", "resolved", "false_positive", "new", ASSIGN)
HISTORY_ACTIONS = {"alert_status": "status", "alert_assign": "assignee"}
MAX_COMMENT = 2000
MAX_BULK = 1000
PAGE_SIZE = 50  # rows of the queue per page (a group is one row)
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class AlertFilter:
    status: str = "new"  # or "all"
    assignee: str = ANYONE  # ANYONE, ME, NOBODY or a user name
    category: str = ""
    severity: str = ""


@dataclass(frozen=True)
class AlertGroup:
    """Same-rule low-severity alerts of one queue, shown as one row."""
    key: str  # "<rule_id>|<queue>": the expand link's value
    rule_id: str
    title: str
    category: str
    severity: str
    queue: str | None
    alerts: tuple[AlertItem, ...]  # its members in queue order, the first MAX_BULK of them
    size: int  # how many alerts it has, over every page
    calls: int  # of how many calls

    @property
    def ids(self) -> list[int]:
        return [a.id for a in self.alerts]


@dataclass(frozen=True)
class QueueView:
    rows: tuple  # AlertItem or AlertGroup, in display order: this page's
    total: int  # alerts matching the filters (grouped ones included)
    row_total: int = 0  # rows of the whole queue (a group is one row; the flat list: = total)
    offset: int = 0
    limit: int = PAGE_SIZE

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max((self.row_total + self.limit - 1) // self.limit, 1)


@dataclass(frozen=True)
class Change:
    alert_id: int
    before: str | None
    after: str | None


@dataclass(frozen=True)
class HistoryEntry:
    alert_id: int
    at: datetime  # naive UTC
    username: str
    role: str
    field: str  # "status" or "assignee"
    before: str | None
    after: str | None
    comment: str | None


def group_key(a: AlertItem) -> str:
    return f"{a.rule_id}|{a.queue or ''}"


def officers(ws, tenant: str) -> list[str]:
    """User names of the tenant's compliance officers (who alerts may be assigned to)."""
    return [u.username for u in ws.accounts.users(tenant) if u.role == "compliance_officer"]


def queue(ws, viewer: Viewer, f: AlertFilter, *, expand: str = "", group: bool = True, limit: int = PAGE_SIZE,
          offset: int = 0) -> QueueView:
    """One page of the queue (`limit` rows from `offset`, in a stable order: severity, then newest first);
    grouped, a group is one row and counts the alerts matching the filters on every page, not this one's."""
    require(viewer, ALERT_QUEUE)
    if f.status != "all" and f.status not in ALERT_STATUSES:
        raise HTTPException(422, f"status must be all or one of {', '.join(ALERT_STATUSES)}")
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise HTTPException(422, f"limit is 1 to {MAX_PAGE_SIZE}, offset 0 or more")
    assignee = viewer.user.username if f.assignee == ME else f.assignee
    where = Where(statuses=None if f.status == "all" else (f.status,), category=f.category or None,
                  severity=f.severity or None, assignee=None if assignee in (ANYONE, NOBODY) else assignee,
                  unassigned=assignee == NOBODY)
    tenant = viewer.user.tenant
    if not group:
        alerts = list_alerts(ws.engine, tenant, where=where, limit=limit, offset=offset)
        total = count_alerts(ws.engine, tenant, where)
        return QueueView(tuple(alerts), total, total, offset, limit)
    page = queue_page(ws.engine, tenant, where, groupable=GROUPABLE, at=GROUP_AT, expand=expand, limit=limit,
                      offset=offset)
    rows = []
    for slot in page.slots:
        a = slot.alert
        if not slot.size:
            rows.append(a)
            continue
        members = group_members(ws.engine, tenant, where, a, GROUPABLE, MAX_BULK)
        rows.append(AlertGroup(group_key(a), a.rule_id, a.title, a.category, a.severity, a.queue, tuple(members),
                               slot.size, slot.calls))
    return QueueView(tuple(rows), page.alerts, page.rows, offset, limit)


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise HTTPException(422, f"a comment has at most {MAX_COMMENT} characters")
    return comment


def _alerts(ws, viewer: Viewer, alert_ids) -> list[AlertItem]:
    """The viewer's tenant's alerts with these ids, all of them, or 404 (nothing is changed then)."""
    ids = sorted(set(alert_ids))
    if not ids:
        raise HTTPException(422, "select at least one alert")
    if len(ids) > MAX_BULK:
        raise HTTPException(422, f"at most {MAX_BULK} alerts at once")
    found = alerts_in_tenant(ws.engine, viewer.user.tenant, ids)
    if len(found) != len(ids):
        missing = len(ids) - len(found)
        raise HTTPException(404, "no such alert" if len(ids) == 1 else
                            f"{missing} of the {len(ids)} alerts do not exist; nothing was changed")
    return [found[i] for i in ids]


def set_status(ws, viewer: Viewer, alert_ids, status: str, comment: str | None) -> list[Change]:
    """Change the status of every alert in `alert_ids` (all or none); one audit entry per alert."""
    require(viewer, ACT_ON_ALERTS)
    if status not in ALERT_STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(ALERT_STATUSES)}")
    comment = _comment(comment)
    alerts = _alerts(ws, viewer, alert_ids)
    ws.store.update_alerts([a.id for a in alerts], status=status)
    for a in alerts:
        ws.accounts.audit(viewer.user, "alert_status", call_id=a.call_id, alert_id=a.id, ip=viewer.ip,
                          **{"from": a.status, "to": status, "comment": comment}, **_bulk(alerts))
    return [Change(a.id, a.status, status) for a in alerts]


def assign(ws, viewer: Viewer, alert_ids, assignee: str | None, comment: str | None) -> list[Change]:
    """Assign every alert in `alert_ids` to a compliance officer of the tenant ("me": the viewer; empty or
    "none": nobody), all or none; one audit entry per alert."""
    require(viewer, ACT_ON_ALERTS)
    target = (assignee or "").strip()
    target = viewer.user.username if target == ME else None if target in ("", NOBODY) else target
    if target is not None and target not in officers(ws, viewer.user.tenant):
        raise HTTPException(422, "alerts can be assigned to a compliance officer of this tenant only")
    comment = _comment(comment)
    alerts = _alerts(ws, viewer, alert_ids)
    ws.store.update_alerts([a.id for a in alerts], assign=True, assignee=target)
    for a in alerts:
        ws.accounts.audit(viewer.user, "alert_assign", call_id=a.call_id, alert_id=a.id, ip=viewer.ip,
                          **{"from": a.assignee, "to": target, "comment": comment}, **_bulk(alerts))
    return [Change(a.id, a.assignee, target) for a in alerts]


def bulk(ws, viewer: Viewer, alert_ids, action: str, assignee: str | None, comment: str | None) -> list[Change]:
    if action not in BULK_ACTIONS:
        raise HTTPException(422, f"action must be one of {', '.join(BULK_ACTIONS)}")
    if action == ASSIGN:
        return assign(ws, viewer, alert_ids, assignee, comment)
    return set_status(ws, viewer, alert_ids, action, comment)


def _bulk(alerts: list) -> dict:
    return {"bulk": len(alerts)} if len(alerts) > 1 else {}


def _entries(ws, tenant: str, **where) -> list[HistoryEntry]:
    out = []
    for action, field in HISTORY_ACTIONS.items():
        for e in ws.accounts.audit_log(tenant, action=action, limit=10_000, **where):
            out.append((e.id, HistoryEntry(e.alert_id, e.at, e.username, e.role, field, e.detail.get("from"),
                                           e.detail.get("to"), e.detail.get("comment"))))
    return [h for _, h in sorted(out, key=lambda p: p[0], reverse=True)]


def call_history(ws, viewer: Viewer, call_id: str) -> list[HistoryEntry]:
    """Every change to the call's alerts, newest first (for those who see alerts; else nothing)."""
    return _entries(ws, viewer.user.tenant, call_id=call_id) if viewer.can(VIEW_ALERTS) else []


def history(ws, viewer: Viewer, alert_id: int) -> list[HistoryEntry]:
    """Every change to one alert, newest first: who, when, what (status or assignee), from, to, comment."""
    require(viewer, VIEW_ALERTS)
    _alerts(ws, viewer, [alert_id])
    return _entries(ws, viewer.user.tenant, alert_id=alert_id)
