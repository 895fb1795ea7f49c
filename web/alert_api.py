"""The alert queue's JSON API (included by web/api.py under /api/): the queue, flat or grouped, with its
filters; status change and assignment of one alert; bulk actions (all or none); one alert's history; who
alerts may be assigned to. Writes need the session's CSRF token in X-CSRF-Token."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from web.alert_desk import ANYONE, MAX_BULK, MAX_PAGE_SIZE, PAGE_SIZE, AlertFilter, AlertGroup
from web.auth import Viewer, api_viewer, api_writer

router = APIRouter(tags=["alerts"])
Status = Literal["new", "acknowledged", "resolved", "false_positive"]


class Alert(BaseModel):
    id: int
    call_id: str
    agent: str | None
    queue: str | None
    category: str
    rule_id: str
    severity: str
    title: str
    status: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    explanation: str | None
    evidence: list[dict]


class AlertGroupOut(BaseModel):
    key: str = Field(..., description="pass as `expand` to list the group's alerts one by one")
    rule_id: str
    title: str
    category: str
    severity: str
    queue: str | None
    calls: int
    size: int = Field(..., description="alerts in the group")
    alert_ids: list[int] = Field(..., description=f"its alerts, the first {MAX_BULK} (queue order)")


class QueueRow(BaseModel):
    kind: Literal["alert", "group"]
    alert: Alert | None = None
    group: AlertGroupOut | None = None


class AlertQueue(BaseModel):
    total: int = Field(..., description="alerts matching the filters (grouped ones included)")
    row_total: int = Field(..., description="rows of the whole queue (a group is one row): page with limit/offset")
    limit: int
    offset: int
    rows: list[QueueRow]


class AlertStatusChange(BaseModel):
    status: Status
    comment: str | None = None


class AlertAssignment(BaseModel):
    assignee: str | None = Field(None, description='a compliance officer\'s user name, "me", or null for nobody')
    comment: str | None = None


class BulkAction(BaseModel):
    ids: list[int] = Field(..., min_length=1, max_length=MAX_BULK)
    action: Literal["acknowledged", "resolved", "false_positive", "new", "assign"]
    assignee: str | None = Field(None, description='with action "assign": user name, "me", or null for nobody')
    comment: str | None = None


class ChangeOut(BaseModel):
    id: int
    from_: str | None = Field(None, alias="from")
    to: str | None

    model_config = {"populate_by_name": True}


class HistoryItem(BaseModel):
    at: datetime
    username: str
    role: str
    field: Literal["status", "assignee"]
    from_: str | None = Field(None, alias="from")
    to: str | None
    comment: str | None

    model_config = {"populate_by_name": True}


def alert_out(a) -> Alert:
    return Alert(id=a.id, call_id=a.call_id, agent=a.agent, queue=a.queue, category=a.category, rule_id=a.rule_id,
                 severity=a.severity, title=a.title, status=a.status, assignee=a.assignee, created_at=a.created_at,
                 updated_at=a.updated_at, explanation=a.body.get("explanation"), evidence=a.body.get("evidence", []))


def _changes(changes) -> list[dict]:
    return [ChangeOut(id=c.alert_id, from_=c.before, to=c.after).model_dump(by_alias=True) for c in changes]


Limit = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="rows per page")
Offset = Query(0, ge=0, description="rows to skip (the order is stable: severity, then newest first)")


@router.get("/alerts", response_model=list[Alert])
def alerts(request: Request, response: Response, status: str = "new", assignee: str = ANYONE, category: str = "",
           severity: str = "", limit: int = Limit, offset: int = Offset, viewer: Viewer = Depends(api_viewer)):
    """The alert queue (compliance officers, admins), critical and high first, then newest first, `limit`
    alerts from `offset`; the X-Total-Count header says how many match. `status=all` for every status;
    `assignee`: empty for anyone, `me`, `none` (unassigned) or a user name."""
    f = AlertFilter(status=status, assignee=assignee, category=category, severity=severity)
    view = request.app.state.ws.alerts(viewer, f, group=False, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(view.total)
    return [alert_out(a) for a in view.rows]


@router.get("/alerts/queue", response_model=AlertQueue)
def alert_queue(request: Request, status: str = "new", assignee: str = ANYONE, category: str = "",
                severity: str = "", expand: str = "", limit: int = Limit, offset: int = Offset,
                viewer: Viewer = Depends(api_viewer)):
    """The queue as the page shows it, `limit` rows from `offset`: low/medium alerts of one rule and queue, 3
    or more among all that match (not only this page's), as one group row (critical and high never); `expand`
    a group's key to list its alerts."""
    f = AlertFilter(status=status, assignee=assignee, category=category, severity=severity)
    view = request.app.state.ws.alerts(viewer, f, expand=expand, limit=limit, offset=offset)
    rows = [QueueRow(kind="group", group=AlertGroupOut(key=r.key, rule_id=r.rule_id, title=r.title,
                                                       category=r.category, severity=r.severity, queue=r.queue,
                                                       calls=r.calls, size=r.size, alert_ids=r.ids))
            if isinstance(r, AlertGroup) else QueueRow(kind="alert", alert=alert_out(r)) for r in view.rows]
    return AlertQueue(total=view.total, row_total=view.row_total, limit=view.limit, offset=view.offset, rows=rows)


@router.get("/alerts/assignees", response_model=list[str])
def assignees(request: Request, viewer: Viewer = Depends(api_viewer)):
    """User names alerts may be assigned to (the tenant's compliance officers); empty unless you may act."""
    return request.app.state.ws.alert_assignees(viewer)


@router.post("/alerts/bulk", response_model=list[ChangeOut])
def bulk(request: Request, body: BulkAction, viewer: Viewer = Depends(api_writer)):
    """One action on several alerts with one comment: every id must be an alert of your tenant, else nothing
    changes (404). Each alert gets its own history entry. Returns [{id, from, to}]."""
    return _changes(request.app.state.ws.bulk_alerts(viewer, body.ids, body.action, body.assignee, body.comment))


@router.post("/alerts/{alert_id}/status", response_model=ChangeOut)
def alert_status(request: Request, alert_id: int, body: AlertStatusChange, viewer: Viewer = Depends(api_writer)):
    """Change the alert's status (audited, in its history); returns {id, from, to}."""
    before = request.app.state.ws.set_alert_status(viewer, alert_id, body.status, body.comment)
    return {"id": alert_id, "from": before, "to": body.status}


@router.post("/alerts/{alert_id}/assignee", response_model=ChangeOut)
def alert_assign(request: Request, alert_id: int, body: AlertAssignment, viewer: Viewer = Depends(api_writer)):
    """Assign the alert to a compliance officer of your tenant, to yourself ("me"), or to nobody (null)."""
    return _changes([request.app.state.ws.assign_alert(viewer, alert_id, body.assignee, body.comment)])[0]


@router.get("/alerts/{alert_id}/history", response_model=list[HistoryItem])
def alert_history(request: Request, alert_id: int, viewer: Viewer = Depends(api_viewer)):
    """Every change to the alert, newest first: who, when, status or assignee, from, to, comment."""
    return [HistoryItem(at=h.at, username=h.username, role=h.role, field=h.field, from_=h.before, to=h.after,
                        comment=h.comment).model_dump(by_alias=True)
            for h in request.app.state.ws.alert_history(viewer, alert_id)]
