"""The reviewers' workspace: a FastAPI app with server-rendered pages (Jinja2, autoescaped) and a JSON API
under /api/ (OpenAPI schema at /api/openapi.json), on the results database and object store the pipeline
writes. `callqa serve` runs it with uvicorn.

Nothing here logs a query string (searches may hold what a user typed), a request body or a response: the
request log is method, path, status and time (`callqa.web`); uvicorn's own access log is off in `serve`.
"""
from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from infra.accounts import AccountStore
from infra.search import MARK_END, MARK_START, TranscriptIndex
from infra.store import DEFAULT_TENANT, ResultsStore
from web import clock
from web.auth import LoginRequired, Sessions, permissions
from web.service import Workspace

HERE = Path(__file__).parent
log = logging.getLogger("callqa.web")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _highlight(snippet: str | None) -> Markup:
    """A search snippet, escaped, with its match markers turned into <mark>."""
    text = str(escape(snippet or ""))
    return Markup(text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["highlight"] = _highlight
    env.filters["clock"] = _clock
    env.filters["urlpart"] = lambda s: quote(str(s), safe="/")
    env.filters["calltime"] = clock.in_call_zone  # {{ c.started_at | calltime(c.utc_offset_min, viewer zone) }}
    env.filters["usertime"] = clock.in_user_zone
    return Jinja2Templates(env=env)


def create_app(store: ResultsStore, source, *, secret_key: str | None = None, secure_cookies: bool = False,
               insecure_cookies: bool = False, sync_on_start: bool = True) -> FastAPI:
    """The app on `store` (results DB) and `source` (object store). Without `secret_key` a random one is made:
    sessions then end when the process does (set CALLQA_WEB_SECRET to keep them across restarts).

    Cookies are Secure unless a request comes over plain HTTP to a loopback address (a server bound to
    127.0.0.1/localhost/::1, as the demo's; web.auth.cookie_is_secure); `secure_cookies` makes them Secure
    always, `insecure_cookies` never (plain HTTP on a trusted network, at your own risk)."""
    from web import account, api, calibration_api, coaching, dashboard, pages, review, sampling

    if secure_cookies and insecure_cookies:
        raise ValueError("secure_cookies and insecure_cookies exclude each other")
    accounts = AccountStore(store.engine)
    secure = True if secure_cookies else False if insecure_cookies else None
    ws = Workspace(store, source, accounts, Sessions(accounts, secret_key or secrets.token_urlsafe(48),
                                                     secure=secure), TranscriptIndex(store.engine))
    if sync_on_start:
        ws.sync_index(DEFAULT_TENANT, force=True)
    app = FastAPI(title="callqa workspace", version="0.1.0", openapi_url="/api/openapi.json", docs_url=None,
                  redoc_url=None, description="Calls, scorecards and alerts of the reviewers' workspace. Sign in "
                  "with POST /api/session; send the returned csrf_token as X-CSRF-Token on every write.")
    app.state.ws = ws
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, api, account, review, sampling, calibration_api, coaching, dashboard):
        app.include_router(module.router)

    @app.middleware("http")
    async def _headers_and_log(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        log.info("%s %s %s %.0fms", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - t0) * 1000)
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        target = request.url.path if request.method == "GET" else "/calls"
        return RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        return _error_page(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        where = ["/".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        detail = "invalid or missing: " + ", ".join(where)  # field names only, never the values sent
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=422)
        return _error_page(request, 422, detail)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        return _error_page(request, 500, "internal error")

    return app


def _error_page(request: Request, status: int, detail: str, headers=None) -> HTMLResponse:
    viewer = request.app.state.ws.sessions.viewer(request)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"viewer": viewer, "perms": permissions(viewer), "status": status, "detail": detail},
        status_code=status,
        headers=headers)
