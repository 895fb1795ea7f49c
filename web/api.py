"""The JSON API under /api/: what the pages do, for other tools. Same session cookie as the pages (sign in
with POST /api/session); every write needs the session's CSRF token in the X-CSRF-Token header."""
from __future__ import annotations

from dataclasses import replace
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from infra.alert_queue import SEVERITIES
from infra.search import MARK_END, MARK_START, SORTS, CallFilter, CallItem
from infra.store import ALERT_STATUSES, DEFAULT_TENANT
from web import alert_api, audit, media_api
from web.alert_api import alert_out
from web.api_models import CallDetail, CallMeta, Facets, QuestionRef, Unredacted
from web.auth import TooManyFailures, Viewer, api_viewer, api_writer, audio_grant, client_ip
from web.service import call_filter

router = APIRouter(prefix="/api", tags=["workspace"])
router.include_router(alert_api.router)  # the alert queue: /api/alerts...
router.include_router(audit.api)  # the audit log and its CSV export: /api/audit...
router.include_router(media_api.router)  # the recordings, ranged: /api/audio/..., /api/unredacted-audio/...


class SignIn(BaseModel):
    username: str
    password: str
    tenant: str = DEFAULT_TENANT


class Me(BaseModel):
    username: str
    role: str
    tenant: str
    agent_id: str | None
    csrf_token: str


class CallList(BaseModel):
    items: list[CallItem] = Field(..., description="snippet: redacted excerpt around the search match, "
                                 "matches in [[...]]; utc_offset_min: the call's own clock")
    total: int
    page: int
    per_page: int


class Override(BaseModel):
    question_id: str
    answer: Literal["pass", "fail", "na"]
    comment: str | None = None


class Reason(BaseModel):
    reason: str = Field(..., description="why the unredacted transcript is needed (kept in the audit log)")


def _me(viewer: Viewer) -> Me:
    u = viewer.user
    return Me(username=u.username, role=u.role, tenant=u.tenant, agent_id=u.agent_id, csrf_token=viewer.csrf)


@router.post("/session", response_model=Me)
def sign_in(body: SignIn, request: Request):
    """Sign in: sets the session cookie and returns the CSRF token for writes. JSON only (a cross-site form
    cannot send it)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send JSON")
    ws = request.app.state.ws
    try:
        signed = ws.sessions.sign_in(body.tenant, body.username, body.password, client_ip(request))
    except TooManyFailures:
        raise HTTPException(429, "too many failed sign-ins for this user from this address; wait 15 minutes")
    if signed is None:
        raise HTTPException(401, "wrong user name or password")
    user, cookie, csrf = signed
    response = JSONResponse(Me(username=user.username, role=user.role, tenant=user.tenant, agent_id=user.agent_id,
                               csrf_token=csrf).model_dump())
    ws.sessions.set_session_cookie(request, response, cookie)
    return response


@router.delete("/session", status_code=204)
def sign_out(request: Request, viewer: Viewer = Depends(api_writer)):
    response = Response(status_code=204)
    request.app.state.ws.sessions.sign_out(viewer, response)
    return response


@router.get("/me", response_model=Me)
def me(viewer: Viewer = Depends(api_viewer)):
    return _me(viewer)


@router.get("/calls", response_model=CallList)
def calls(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(api_viewer)):
    """The viewer's calls (agents: their own), filtered, sorted, paged; `q` searches redacted transcripts."""
    page = request.app.state.ws.calls(viewer, f)
    items = [replace(i, snippet=(i.snippet or "").replace(MARK_START, "[[").replace(MARK_END, "]]") or None)
             for i in page.items]
    return CallList(items=items, total=page.total, page=page.page, per_page=page.per_page)


@router.get("/calls/facets", response_model=Facets)
def call_facets(request: Request, viewer: Viewer = Depends(api_viewer)):
    """Values the calls list's filters take (agents, queues, languages, directions, forms, questions, alert
    categories, statuses and severities, sort keys), from the viewer's calls (an agent's: their own)."""
    values = request.app.state.ws.facets(viewer)
    return Facets(**{k: v for k, v in values.items() if k != "questions"},
                  questions=[QuestionRef(id=q, text=t) for q, t in values["questions"]],
                  alert_statuses=list(ALERT_STATUSES), alert_severities=list(SEVERITIES), sorts=list(SORTS))


@router.get("/calls/{call_id:path}", response_model=CallDetail)
def call(request: Request, call_id: str, viewer: Viewer = Depends(api_viewer)):
    """A call: metadata, redacted transcript segments, scorecard (answers with evidence, explanation and the
    reviewer's override), alerts (not for agents), and the URL of the redacted recording."""
    view = request.app.state.ws.call(viewer, call_id)
    row = view["call"]
    meta = CallMeta(id=row.id, agent=row.agent, queue=row.queue, direction=row.direction, started_at=row.started_at,
                    utc_offset_min=row.utc_offset_min, language=row.language, duration=row.duration, state=row.state)
    return CallDetail(call=meta, transcript=view["segments"], scorecard=view["scorecard"],
                      alerts=[alert_out(a) for a in view["alerts"]],
                      audio_url=f"/api/audio/{quote(call_id, safe='/')}" if view["has_audio"] else None)


@router.post("/overrides/{call_id:path}", status_code=204)
def override(request: Request, call_id: str, body: Override, viewer: Viewer = Depends(api_writer)):
    request.app.state.ws.override(viewer, call_id, body.question_id, body.answer, body.comment)


@router.post("/unredacted/{call_id:path}", response_model=Unredacted)
def unredacted(request: Request, call_id: str, body: Reason, viewer: Viewer = Depends(api_writer)):
    """Compliance officers only: the unredacted transcript, after the view is written to the audit log, and the
    URL of the original recording (a grant bound to this session, valid 30 minutes)."""
    ws = request.app.state.ws
    segments = ws.unredacted_transcript(viewer, call_id, body.reason)
    grant = audio_grant(ws.sessions, viewer, call_id)
    return Unredacted(call_id=call_id, segments=segments,
                      audio_url=f"/api/unredacted-audio/{quote(call_id, safe='/')}?grant={grant}")
