"""The alert queue's pages (included by web/pages.py): the queue with its filters, grouped repeats and bulk
actions; one alert's status change and assignment. Every POST carries the session's CSRF token; every change
goes back to the page it came from (`back`, a local path only)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from infra.alert_queue import SEVERITIES, alert_categories
from infra.store import ALERT_STATUSES
from web.alert_desk import ANYONE, GROUP_AT, PAGE_SIZE, AlertFilter, AlertGroup, officers
from web.auth import Viewer, check_csrf, page_viewer, permissions

router = APIRouter(include_in_schema=False)


def _back(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/alerts"


@router.get("/alerts")
def alert_queue(request: Request, status: str = "new", assignee: str = ANYONE, category: str = "",
                severity: str = "", expand: str = "", page: int = 1, viewer: Viewer = Depends(page_viewer)):
    ws = request.app.state.ws
    f = AlertFilter(status=status, assignee=assignee, category=category, severity=severity)
    page = max(page, 1)
    view = ws.alerts(viewer, f, expand=expand, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    params = {k: v for k, v in (("status", status), ("assignee", assignee), ("category", category),
                                ("severity", severity), ("expand", expand)) if v}

    def url(**changes) -> str:
        return "/alerts?" + urlencode({k: v for k, v in {**params, **changes}.items() if v and v != 1})

    return request.app.state.templates.TemplateResponse(request, "alerts.html", {
        "viewer": viewer, "perms": permissions(viewer), "view": view, "f": f, "expand": expand,
        "back_url": url(page=view.page), "expand_url": lambda key: url(expand=key, page=view.page),
        "page_url": lambda n: url(page=n),
        "statuses": ALERT_STATUSES, "severities": SEVERITIES, "group_at": GROUP_AT, "is_group": _is_group,
        "categories": alert_categories(ws.engine, viewer.user.tenant), "alert_assignees": ws.alert_assignees(viewer),
        "officers": officers(ws, viewer.user.tenant)})


def _is_group(row) -> bool:
    return isinstance(row, AlertGroup)


@router.post("/alerts/bulk")
def alert_bulk(request: Request, ids: list[int] = Form([]), action: str = Form(...), assignee: str = Form(""),
               comment: str = Form(""), csrf_token: str = Form(""), back: str = Form("/alerts"),
               viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    request.app.state.ws.bulk_alerts(viewer, ids, action, assignee, comment)
    return RedirectResponse(_back(back), status_code=303)


@router.post("/alerts/{alert_id}/status")
def alert_status(request: Request, alert_id: int, status: str = Form(...), comment: str = Form(""),
                 csrf_token: str = Form(""), back: str = Form("/alerts"), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    request.app.state.ws.set_alert_status(viewer, alert_id, status, comment)
    return RedirectResponse(_back(back), status_code=303)


@router.post("/alerts/{alert_id}/assign")
def alert_assign(request: Request, alert_id: int, assignee: str = Form(""), assign_comment: str = Form(""),
                 csrf_token: str = Form(""), back: str = Form("/alerts"), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    request.app.state.ws.assign_alert(viewer, alert_id, assignee, assign_comment)
    return RedirectResponse(_back(back), status_code=303)
