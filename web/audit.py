"""The append-only audit log for admins: the page (/admin/audit) with its CSV export (/admin/audit.csv), and
the same in the JSON API (/api/audit, /api/audit.csv), every read scoped by the admin's tenant. The log itself
is infra.accounts' (the database refuses UPDATE and DELETE of it)."""
from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from web.api_models import AuditEntry
from web.auth import READ_AUDIT, Viewer, api_viewer, page_viewer, require
from web.render import render as _render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["audit"])
CSV_COLUMNS = ("id", "at_utc", "user", "role", "action", "call_id", "alert_id", "ip", "detail")
CSV_DOC = {200: {"description": "the audit log as CSV, newest first; columns " + ", ".join(CSV_COLUMNS) +
                 " (detail: JSON); cells that a spreadsheet would run as a formula start with a quote",
                 "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _entries(request: Request, viewer: Viewer, *, action: str | None = None, call_id: str | None = None,
             alert_id: int | None = None, limit: int = 500):
    require(viewer, READ_AUDIT)
    return request.app.state.ws.accounts.audit_log(viewer.user.tenant, action=action or None,
                                                   call_id=call_id or None, alert_id=alert_id, limit=limit)


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(entries) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for e in entries:
        w.writerow([_cell(v) for v in (e.id, e.at.isoformat(), e.username, e.role, e.action, e.call_id or "",
                                       e.alert_id or "", e.ip or "", json.dumps(e.detail, ensure_ascii=False))])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="callqa-audit.csv"'})


# pages
@pages.get("/admin/audit")
def audit_page(request: Request, action: str = "", viewer: Viewer = Depends(page_viewer)):
    entries = _entries(request, viewer, action=action)
    return _render(request, "audit.html", viewer, entries=entries, action=action)


@pages.get("/admin/audit.csv")
def audit_csv(request: Request, viewer: Viewer = Depends(page_viewer)):
    return csv_response(_entries(request, viewer, limit=1_000_000))


# API
@api.get("/audit", response_model=list[AuditEntry])
def api_audit(request: Request, action: str | None = None, call_id: str | None = None, alert_id: int | None = None,
              limit: int = Query(500, ge=1, le=10_000), viewer: Viewer = Depends(api_viewer)):
    """Admins: the tenant's audit log, newest first (who opened unredacted material, with the reason; reviews,
    alert changes, sign-ins), filtered by action, call or alert."""
    return [AuditEntry(**e.__dict__) for e in _entries(request, viewer, action=action, call_id=call_id,
                                                       alert_id=alert_id, limit=limit)]


@api.get("/audit.csv", response_class=Response, responses=CSV_DOC)
def api_audit_csv(request: Request, action: str | None = None, call_id: str | None = None,
                  viewer: Viewer = Depends(api_viewer)):
    """Admins: the tenant's whole audit log (or one action's, one call's) as a CSV download."""
    return csv_response(_entries(request, viewer, action=action, call_id=call_id, limit=1_000_000))
