"""Sign-in, sessions, CSRF and roles.

A session is a row in the results database (`infra.accounts`); the browser holds only its id, signed with
itsdangerous, in an HttpOnly, SameSite=Strict cookie, Secure by default (see `cookie_is_secure`: only a plain-HTTP
request to a loopback address of this server, as in the demo, gets it without). Every state-changing
request carries the session's CSRF token: a hidden `csrf_token` field in forms, the `X-CSRF-Token` header in
API calls. The sign-in form has its own token (a signed pre-session cookie). Failed sign-ins are counted per
user name and address: after `MAX_FAILURES` within `FAILURE_WINDOW`, sign-in is refused until they age out.
"""
from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from infra.accounts import User

SESSION_COOKIE, LOGIN_COOKIE = "callqa_session", "callqa_login"
SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(minutes=15)

# who may do what (agents additionally see only calls whose `agent` field is their agent id)
VIEW_ALERTS = {"qa_reviewer", "qa_lead", "compliance_officer", "coach", "admin"}  # alerts on the call page
ALERT_QUEUE = {"compliance_officer", "admin"}
ACT_ON_ALERTS = {"compliance_officer"}
OVERRIDE = {"qa_reviewer", "qa_lead", "admin"}
REVIEW_QUEUE = {"qa_reviewer", "qa_lead"}  # a sampled queue of calls to review; blind calibration scoring
QA_LEAD = {"qa_lead", "admin"}  # sampling rules, calibration sessions, the disputes queue
RESPOND_TO_SCORECARD = {"agent"}  # acknowledge a scorecard of one's own call, dispute an answer
COACHING = {"coach", "admin"}  # per-agent picks, coaching assignments
DASHBOARD = {"qa_reviewer", "qa_lead", "compliance_officer", "coach", "admin"}
UNREDACTED = {"compliance_officer"}
READ_AUDIT = {"admin"}

@dataclass(frozen=True)
class Viewer:
    user: User
    csrf: str
    sid: str
    ip: str

    def can(self, roles: set[str]) -> bool:
        return self.user.role in roles


class LoginRequired(Exception):
    """A page needs a signed-in user: answered with a redirect to the sign-in page."""


class TooManyFailures(Exception):
    pass


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (with or without a port or brackets)."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # 127.0.0.1:8000, localhost:8000
        host = host.split(":", 1)[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_is_secure(request: Request, forced: bool | None) -> bool:
    """Whether the cookies of this response get `Secure`. `forced` True (`--secure-cookies`) or False
    (`--insecure-cookies`) decides; otherwise Secure unless the request came over plain HTTP to a loopback
    address of this server under a loopback host name: a server bound to 127.0.0.1/localhost/::1 (the demo, a
    developer's machine), where no cookie crosses a network. A TLS proxy in front (X-Forwarded-Proto https,
    trusted from loopback by uvicorn) or any other address or host name gets Secure."""
    if forced is not None:
        return forced
    server = request.scope.get("server") or (None, None)
    return not (request.url.scheme == "http" and is_loopback(server[0])
                and is_loopback(request.headers.get("host") or server[0]))


class Sessions:
    def __init__(self, accounts, secret_key: str, *, secure: bool | None = None):
        """`secure`: True: cookies always Secure; False: never (plain HTTP on a trusted network); None: by
        request (`cookie_is_secure`)."""
        self.accounts, self.secure = accounts, secure
        self._session = URLSafeTimedSerializer(secret_key, salt="callqa-session")
        self._login = URLSafeTimedSerializer(secret_key, salt="callqa-login")
        self._grant = URLSafeTimedSerializer(secret_key, salt="callqa-unredacted-audio")

    def _cookie_args(self, request: Request, max_age: int) -> dict:
        return dict(max_age=max_age, httponly=True, samesite="strict", path="/",
                    secure=cookie_is_secure(request, self.secure))

    # the sign-in form's own CSRF token
    def login_token(self, request: Request) -> tuple[str, str | None]:
        """(token for the form, signed cookie to set or None when the browser has a valid one already)."""
        try:
            return self._login.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=3600), None
        except BadSignature:
            token = secrets.token_urlsafe(32)
            return token, self._login.dumps(token)

    def set_login_cookie(self, request: Request, response, signed: str | None) -> None:
        if signed:
            response.set_cookie(LOGIN_COOKIE, signed, **self._cookie_args(request, 3600))

    def check_login_token(self, request: Request, token: str) -> bool:
        try:
            expected = self._login.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=3600)
        except BadSignature:
            return False
        return bool(token) and secrets.compare_digest(expected, token)

    # sign in and out
    def sign_in(self, tenant: str, username: str, password: str, ip: str) -> tuple[User, str, str] | None:
        """(user, signed session cookie value, CSRF token), or None for a wrong name or password; TooManyFailures when the
        name and address have failed too often lately."""
        username = username.strip()
        if self.accounts.recent_failures(tenant, username, ip, FAILURE_WINDOW) >= MAX_FAILURES:
            raise TooManyFailures()
        user = self.accounts.authenticate(tenant, username, password)
        if user is None:
            self.accounts.record_failure(tenant, username, ip)
            return None
        self.accounts.clear_failures(tenant, username, ip)
        sid, csrf = self.accounts.new_session(user, SESSION_LIFETIME)
        self.accounts.audit(user, "login", ip=ip)
        return user, self._session.dumps(sid), csrf

    def set_session_cookie(self, request: Request, response, signed: str) -> None:
        response.set_cookie(SESSION_COOKIE, signed,
                            **self._cookie_args(request, int(SESSION_LIFETIME.total_seconds())))
        response.delete_cookie(LOGIN_COOKIE, path="/")

    def sign_out(self, viewer: Viewer, response) -> None:
        self.accounts.end_session(viewer.sid)
        self.accounts.audit(viewer.user, "logout", ip=viewer.ip)
        response.delete_cookie(SESSION_COOKIE, path="/")

    def viewer(self, request: Request) -> Viewer | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            sid = self._session.loads(raw, max_age=int(SESSION_LIFETIME.total_seconds()))
        except BadSignature:
            return None
        found = self.accounts.session(sid)
        if found is None:
            return None
        user, csrf = found
        return Viewer(user, csrf, sid, client_ip(request))


GRANT_LIFETIME = timedelta(minutes=30)


def audio_grant(sessions: Sessions, viewer: Viewer, call_id: str) -> str:
    """A token for the unredacted recording of one call, bound to this session, given after the audited
    reason: the player's many range requests carry it instead of a reason each."""
    return sessions._grant.dumps({"sid": viewer.sid, "call": call_id})


def check_audio_grant(sessions: Sessions, viewer: Viewer, call_id: str, token: str) -> None:
    try:
        grant = sessions._grant.loads(token or "", max_age=int(GRANT_LIFETIME.total_seconds()))
    except BadSignature:
        raise HTTPException(403, "open the unredacted view with a reason first (or again: the grant expired)") \
            from None
    if grant != {"sid": viewer.sid, "call": call_id}:
        raise HTTPException(403, "this grant is for another session or call")


def permissions(viewer: Viewer | None) -> dict:
    """What the pages offer the viewer (the service checks again on every request)."""
    if viewer is None:
        return {}
    return {"alert_queue": viewer.can(ALERT_QUEUE), "act_on_alerts": viewer.can(ACT_ON_ALERTS),
            "override": viewer.can(OVERRIDE), "unredacted": viewer.can(UNREDACTED), "audit": viewer.can(READ_AUDIT),
            "review_queue": viewer.can(REVIEW_QUEUE), "qa_lead": viewer.can(QA_LEAD),
            "respond": viewer.can(RESPOND_TO_SCORECARD), "coaching": viewer.can(COACHING),
            "dashboard": viewer.can(DASHBOARD), "agent": viewer.user.role == "agent"}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_csrf(viewer: Viewer, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, viewer.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")


def require(viewer: Viewer, roles: set[str]) -> None:
    if viewer.user.role not in roles:
        raise HTTPException(403, "your role may not do this")


def page_viewer(request: Request) -> Viewer:
    """FastAPI dependency for pages: the signed-in user, else a redirect to the sign-in page."""
    viewer = request.app.state.ws.sessions.viewer(request)
    if viewer is None:
        raise LoginRequired()
    return viewer


def api_viewer(request: Request) -> Viewer:
    """FastAPI dependency for the API: the signed-in user (session cookie), else 401."""
    viewer = request.app.state.ws.sessions.viewer(request)
    if viewer is None:
        raise HTTPException(401, "sign in first (POST /api/session)")
    return viewer


def api_writer(request: Request) -> Viewer:
    """The API's writes: a signed-in user whose request carries the session's CSRF token as X-CSRF-Token."""
    viewer = api_viewer(request)
    check_csrf(viewer, request.headers.get("x-csrf-token"))
    return viewer
