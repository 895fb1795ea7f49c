"""The workspace's HTML pages: sign-in, calls list, call page, the recordings, unredacted material (the alert
queue: web/alert_pages.py; the audit log: web/audit.py). Every POST form carries the session's CSRF token;
everything shown goes through Jinja2's autoescape."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from infra.search import CallFilter
from infra.store import ALERT_STATUSES, DEFAULT_TENANT
from web import alert_pages, audit
from web.auth import UNREDACTED, TooManyFailures, Viewer, audio_grant, check_csrf, client_ip, page_viewer, require
from web.render import render as _render
from web.media import stream_object
from web.service import MIN_REASON, call_filter

router = APIRouter(include_in_schema=False)
router.include_router(alert_pages.router)  # the alert queue's pages
router.include_router(audit.pages)  # the audit log's page and CSV export


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/calls"


@router.get("/")
def home():
    return RedirectResponse("/calls", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    ws = request.app.state.ws
    token, cookie = ws.sessions.login_token(request)
    response = _render(request, "login.html", None, login_token=token, next=_safe_next(next), error=None)
    ws.sessions.set_login_cookie(request, response, cookie)
    return response


@router.post("/login")
def login(request: Request, username: str = Form(...), password: str = Form(...), csrf_token: str = Form(""),
          tenant: str = Form(DEFAULT_TENANT), next: str = Form("/calls")):
    ws = request.app.state.ws
    if not ws.sessions.check_login_token(request, csrf_token):
        raise HTTPException(403, "the sign-in form expired or did not come from this site; reload it")
    error, status = None, 200
    try:
        signed = ws.sessions.sign_in(tenant, username, password, client_ip(request))
        if signed is None:
            error, status = "Wrong user name or password.", 401
    except TooManyFailures:
        error, status = "Too many failed sign-ins for this user from this address; try again in 15 minutes.", 429
    if error:
        token, _ = ws.sessions.login_token(request)
        return _render(request, "login.html", None, status_code=status, login_token=token, next=_safe_next(next),
                       error=error)
    response = RedirectResponse(_safe_next(next), status_code=303)
    ws.sessions.set_session_cookie(request, response, signed[1])
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form(""), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    response = RedirectResponse("/login", status_code=303)
    request.app.state.ws.sessions.sign_out(viewer, response)
    return response


@router.get("/calls")
def calls(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(page_viewer)):
    result = request.app.state.ws.calls(viewer, f)
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    pages = max((result.total + result.per_page - 1) // result.per_page, 1)

    def page_url(n: int) -> str:
        return "/calls?" + urlencode({**params, "page": n})

    return _render(request, "calls.html", viewer, result=result, facets=request.app.state.ws.facets(viewer),
                   f=request.query_params, pages=pages, page_url=page_url)


@router.get("/calls/{call_id:path}")
def call_page(request: Request, call_id: str, viewer: Viewer = Depends(page_viewer)):
    view = request.app.state.ws.call(viewer, call_id)
    return _render(request, "call.html", viewer, **view, statuses=ALERT_STATUSES, min_reason=MIN_REASON)


@router.get("/audio/{call_id:path}")
def redacted_audio(request: Request, call_id: str, viewer: Viewer = Depends(page_viewer)):
    key = request.app.state.ws.redacted_audio_key(viewer, call_id)
    return stream_object(request.app.state.ws.source, key, request.headers.get("range"), "audio/wav")


@router.post("/overrides/{call_id:path}")
def override(request: Request, call_id: str, question_id: str = Form(...), answer: str = Form(...),
             comment: str = Form(""), csrf_token: str = Form(""), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    request.app.state.ws.override(viewer, call_id, question_id, answer, comment)
    return RedirectResponse(f"/calls/{call_id}#q-{question_id}", status_code=303)


@router.get("/unredacted/{call_id:path}")
def unredacted_form(request: Request, call_id: str, viewer: Viewer = Depends(page_viewer)):
    require(viewer, UNREDACTED)
    row = request.app.state.ws.call_row(viewer, call_id)
    return _render(request, "unredacted.html", viewer, call=row, segments=None, reason="", min_reason=MIN_REASON)


@router.post("/unredacted/{call_id:path}")
def unredacted(request: Request, call_id: str, reason: str = Form(""), csrf_token: str = Form(""),
               viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    ws = request.app.state.ws
    segments = ws.unredacted_transcript(viewer, call_id, reason)
    return _render(request, "unredacted.html", viewer, call=ws.call_row(viewer, call_id), segments=segments,
                   reason=reason, min_reason=MIN_REASON, grant=audio_grant(ws.sessions, viewer, call_id))


@router.get("/unredacted-audio/{call_id:path}")
def unredacted_audio(request: Request, call_id: str, grant: str = "", viewer: Viewer = Depends(page_viewer)):
    """The original recording, for the compliance officer who gave a reason in this session (see /unredacted)."""
    ws = request.app.state.ws
    key, media_type = ws.unredacted_recording(viewer, call_id, grant)
    return stream_object(ws.source, key, request.headers.get("range"), media_type)
