"""Review queues by sampling and calibration sessions: pages and the JSON API (/api/sampling/...,
/api/calibration/...). A QA lead sets the sampling rules and generates the period's queues; each reviewer
sees their queue with a progress count. In calibration a lead picks calls and reviewers, each reviewer scores
blind (never shown the machine's or another reviewer's answers), and the lead sees per-question agreement.
The calibration API's routes and typed responses are in web/calibration_api.py.

Rules, queues and sessions live in `infra.sampling` / `infra.calibration` (tenant-scoped); the agreement maths
in `core.agreement`. Audit entries hold ids and counts only."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from infra.calibration import AlreadySubmitted, CalibrationStore, NotInSession
from infra.sampling import SamplingRules, SamplingStore, period_of
from infra.search import CallFilter, list_calls
from web.auth import QA_LEAD, REVIEW_QUEUE, Viewer, api_viewer, api_writer, check_csrf, page_viewer, require
from web.render import render as _render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["sampling and calibration"])
RECENT_CALLS = 100  # scored calls offered when a lead makes a calibration session


# shared by pages and API
def _stores(request: Request) -> tuple[SamplingStore, CalibrationStore]:
    ws = request.app.state.ws
    return ws.sampling, ws.calibration


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _day(value: str | None) -> date:
    if not value:
        return _today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, "dates are YYYY-MM-DD") from None


def _reviewer_names(request: Request, viewer: Viewer) -> list[str]:
    return [u.username for u in request.app.state.ws.accounts.users(viewer.user.tenant) if u.role in REVIEW_QUEUE]


def _failed(exc: Exception) -> HTTPException:
    if isinstance(exc, NotInSession):
        return HTTPException(404, str(exc))
    if isinstance(exc, AlreadySubmitted):
        return HTTPException(409, str(exc))
    if isinstance(exc, ValidationError):
        return HTTPException(422, "invalid: " + ", ".join(".".join(str(p) for p in e["loc"]) or "rules"
                                                          for e in exc.errors()))
    return HTTPException(422, str(exc))


def save_rules(request: Request, viewer: Viewer, rules: SamplingRules) -> None:
    require(viewer, QA_LEAD)
    unknown = sorted(set(rules.reviewers) - set(_reviewer_names(request, viewer)))
    if unknown:
        raise HTTPException(422, f"not a reviewer of this tenant: {unknown[0]}")
    _stores(request)[0].save_rules(viewer.user.tenant, rules, viewer.user.username)
    request.app.state.ws.accounts.audit(viewer.user, "sampling_rules", ip=viewer.ip, **rules.model_dump())


def generate(request: Request, viewer: Viewer, day: date):
    require(viewer, QA_LEAD)
    try:
        period, picks = _stores(request)[0].generate(viewer.user.tenant, day)
    except ValueError as e:
        raise _failed(e) from None
    request.app.state.ws.accounts.audit(viewer.user, "sampling_generate", ip=viewer.ip, period=period.key,
                                        queued=len(picks))
    return period, picks


def _default_period(request: Request, viewer: Viewer, reviewer: str | None = None) -> str:
    store = _stores(request)[0]
    return next(iter(store.periods(viewer.user.tenant, reviewer)), None) or \
        period_of(_today(), store.rules(viewer.user.tenant).period).key


def my_queue(request: Request, viewer: Viewer, period: str | None):
    require(viewer, REVIEW_QUEUE)
    store = _stores(request)[0]
    period = period or _default_period(request, viewer, viewer.user.username)
    items = store.items(viewer.user.tenant, period=period, reviewer=viewer.user.username)
    return period, items, sum(i.done_at is not None for i in items)


def _calibration_reader(viewer: Viewer) -> None:
    require(viewer, QA_LEAD | REVIEW_QUEUE)


def _session(request: Request, viewer: Viewer, session_id: int):
    """The session, if the viewer may see it: a lead any of the tenant's, a reviewer those they are in."""
    _calibration_reader(viewer)
    try:
        info = _stores(request)[1].session(viewer.user.tenant, session_id)
    except NotInSession as e:
        raise _failed(e) from None
    if not viewer.can(QA_LEAD) and viewer.user.username not in info.reviewers:
        raise HTTPException(404, "no such calibration session")
    return info


def create_calibration(request: Request, viewer: Viewer, title: str, call_ids: list[str], reviewers: list[str]) -> int:
    require(viewer, QA_LEAD)
    unknown = sorted(set(reviewers) - set(_reviewer_names(request, viewer)))
    if unknown:
        raise HTTPException(422, f"not a reviewer of this tenant: {unknown[0]}")
    try:
        sid = _stores(request)[1].create(viewer.user.tenant, title, viewer.user.username, call_ids, reviewers)
    except (ValueError, NotInSession) as e:
        raise _failed(e) from None
    request.app.state.ws.accounts.audit(viewer.user, "calibration_create", ip=viewer.ip, session_id=sid,
                                        calls=list(dict.fromkeys(call_ids)), reviewers=sorted(set(reviewers)))
    return sid


def blind(request: Request, viewer: Viewer, session_id: int, call_id: str):
    """(questions without machine answers, the viewer's own answers if submitted)."""
    _calibration_reader(viewer)
    store, tenant = _stores(request)[1], viewer.user.tenant
    try:
        questions = store.blind_questions(tenant, session_id, call_id, viewer.user.username)
    except NotInSession as e:
        raise _failed(e) from None
    return questions, store.own_answers(tenant, session_id, call_id, viewer.user.username)


def submit(request: Request, viewer: Viewer, session_id: int, call_id: str, answers: dict[str, str]) -> None:
    _calibration_reader(viewer)
    try:
        _stores(request)[1].submit(viewer.user.tenant, session_id, call_id, viewer.user.username, answers)
    except (ValueError, NotInSession) as e:  # AlreadySubmitted is a ValueError
        raise _failed(e) from None
    request.app.state.ws.accounts.audit(viewer.user, "calibration_submit", call_id=call_id, ip=viewer.ip,
                                        session_id=session_id)


def results(request: Request, viewer: Viewer, session_id: int):
    require(viewer, QA_LEAD)
    info = _session(request, viewer, session_id)
    store = _stores(request)[1]
    rows = store.results(viewer.user.tenant, session_id)
    return info, rows, store.trend(viewer.user.tenant, {(r.form_id, r.question_id) for r in rows})


def _recent_scored(request: Request, viewer: Viewer):
    page = list_calls(request.app.state.ws.engine, viewer.user.tenant, CallFilter(per_page=RECENT_CALLS))
    return [c for c in page.items if c.auto_failed is not None]


# pages
def _rules_from_form(form) -> SamplingRules:
    fields = ("calls_per_agent", "period", "weight_low_score", "weight_alert", "weight_new_agent",
              "weight_auto_fail", "new_agent_days")
    values = {k: form.get(k) for k in fields if form.get(k) not in (None, "")}
    values["include_disputed"] = bool(form.get("include_disputed"))
    values["reviewers"] = form.getlist("reviewers")
    try:
        return SamplingRules.model_validate(values)
    except ValidationError as e:
        raise _failed(e) from None


@pages.get("/sampling")
def sampling_page(request: Request, period: str | None = None, viewer: Viewer = Depends(page_viewer)):
    require(viewer, QA_LEAD)
    store, tenant = _stores(request)[0], viewer.user.tenant
    period = period or _default_period(request, viewer)
    return _render(request, "sampling.html", viewer, rules=store.rules(tenant), period=period,
                   progress=store.progress(tenant, period), periods=store.periods(tenant),
                   items=store.items(tenant, period=period), reviewers=_reviewer_names(request, viewer),
                   today=_today().isoformat())


@pages.post("/sampling/rules")
async def sampling_rules(request: Request, viewer: Viewer = Depends(page_viewer)):
    form = await request.form()
    check_csrf(viewer, form.get("csrf_token"))
    rules = _rules_from_form(form)
    await run_in_threadpool(save_rules, request, viewer, rules)
    return RedirectResponse("/sampling", status_code=303)


@pages.post("/sampling/generate")
def sampling_generate(request: Request, day: str = Form(""), csrf_token: str = Form(""),
                      viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    period, _ = generate(request, viewer, _day(day))
    return RedirectResponse(f"/sampling?period={period.key}", status_code=303)


@pages.get("/review")
def review_queue_page(request: Request, period: str | None = None, viewer: Viewer = Depends(page_viewer)):
    period, items, done = my_queue(request, viewer, period)
    return _render(request, "review_queue.html", viewer, period=period, items=items, done=done,
                   periods=_stores(request)[0].periods(viewer.user.tenant, viewer.user.username))


@pages.get("/calibration")
def calibration_page(request: Request, viewer: Viewer = Depends(page_viewer)):
    _calibration_reader(viewer)
    store, tenant, lead = _stores(request)[1], viewer.user.tenant, viewer.can(QA_LEAD)
    return _render(request, "calibration.html", viewer, lead=lead,
                   mine=store.sessions(tenant, reviewer=viewer.user.username),
                   sessions=store.sessions(tenant) if lead else [],
                   calls=_recent_scored(request, viewer) if lead else [],
                   reviewers=_reviewer_names(request, viewer) if lead else [])


@pages.post("/calibration")
async def calibration_create(request: Request, viewer: Viewer = Depends(page_viewer)):
    form = await request.form()
    check_csrf(viewer, form.get("csrf_token"))
    calls, people = [str(c) for c in form.getlist("call_ids")], [str(r) for r in form.getlist("reviewers")]
    sid = await run_in_threadpool(create_calibration, request, viewer, str(form.get("title", "")), calls, people)
    return RedirectResponse(f"/calibration/{sid}", status_code=303)


@pages.get("/calibration/{session_id}")
def calibration_session_page(request: Request, session_id: int, viewer: Viewer = Depends(page_viewer)):
    info = _session(request, viewer, session_id)
    return _render(request, "calibration_session.html", viewer, s=info, lead=viewer.can(QA_LEAD),
                   mine=info.submitted.get(viewer.user.username))


@pages.get("/calibration/{session_id}/results")
def calibration_results_page(request: Request, session_id: int, viewer: Viewer = Depends(page_viewer)):
    info, rows, trend = results(request, viewer, session_id)
    return _render(request, "calibration_results.html", viewer, s=info, rows=rows, trend=trend)


@pages.get("/calibration/{session_id}/score/{call_id:path}")
def calibration_score_page(request: Request, session_id: int, call_id: str, viewer: Viewer = Depends(page_viewer)):
    info = _session(request, viewer, session_id)
    questions, own = blind(request, viewer, session_id, call_id)
    view = request.app.state.ws.call(viewer, call_id)  # only the transcript and audio reach the template
    return _render(request, "calibration_score.html", viewer, s=info, call=view["call"], segments=view["segments"],
                   has_audio=view["has_audio"], questions=questions, own=own)


@pages.post("/calibration/{session_id}/score/{call_id:path}")
async def calibration_score(request: Request, session_id: int, call_id: str, viewer: Viewer = Depends(page_viewer)):
    form = await request.form()
    check_csrf(viewer, form.get("csrf_token"))
    answers = {k[len("answer-"):]: str(v) for k, v in form.items() if k.startswith("answer-")}
    await run_in_threadpool(submit, request, viewer, session_id, call_id, answers)
    return RedirectResponse(f"/calibration/{session_id}", status_code=303)


# API
class Generate(BaseModel):
    day: date | None = Field(None, description="a day of the period to sample; default today (UTC)")


class PickOut(BaseModel):
    call_id: str
    reviewer: str
    reason: str


class Generated(BaseModel):
    period: str
    queued: list[PickOut]


class ReviewerProgress(BaseModel):
    reviewer: str
    done: int
    total: int


class QueueItemOut(BaseModel):
    call_id: str
    reviewer: str
    reason: str
    period: str
    assigned_at: datetime
    done_at: datetime | None


class Queue(BaseModel):
    period: str
    done: int
    total: int
    items: list[QueueItemOut]


class NewCalibration(BaseModel):
    title: str = Field(..., max_length=200)
    call_ids: list[str] = Field(..., min_length=1)
    reviewers: list[str] = Field(..., min_length=1)


class BlindAnswers(BaseModel):
    answers: dict[str, Literal["pass", "fail", "na"]]


def _item_out(i) -> QueueItemOut:
    return QueueItemOut(call_id=i.call_id, reviewer=i.reviewer, reason=i.reason, period=i.period,
                        assigned_at=i.assigned_at, done_at=i.done_at)


@api.get("/sampling/rules", response_model=SamplingRules)
def api_rules(request: Request, viewer: Viewer = Depends(api_viewer)):
    require(viewer, QA_LEAD)
    return _stores(request)[0].rules(viewer.user.tenant)


@api.put("/sampling/rules", response_model=SamplingRules)
def api_save_rules(request: Request, body: SamplingRules, viewer: Viewer = Depends(api_writer)):
    save_rules(request, viewer, body)
    return body


@api.post("/sampling/generate", response_model=Generated)
def api_generate(request: Request, body: Generate, viewer: Viewer = Depends(api_writer)):
    period, picks = generate(request, viewer, body.day or _today())
    return Generated(period=period.key, queued=[PickOut(call_id=p.call_id, reviewer=p.reviewer, reason=p.reason)
                                                for p in picks])


@api.get("/sampling/progress", response_model=list[ReviewerProgress])
def api_progress(request: Request, period: str | None = None, viewer: Viewer = Depends(api_viewer)):
    require(viewer, QA_LEAD)
    period = period or _default_period(request, viewer)
    return [ReviewerProgress(**p.__dict__) for p in _stores(request)[0].progress(viewer.user.tenant, period)]


@api.get("/sampling/queue", response_model=Queue)
def api_queue(request: Request, period: str | None = None, viewer: Viewer = Depends(api_viewer)):
    """The signed-in reviewer's queue for a period (default: their latest)."""
    period, items, done = my_queue(request, viewer, period)
    return Queue(period=period, done=done, total=len(items), items=[_item_out(i) for i in items])


router = APIRouter()
router.include_router(pages)
router.include_router(api)
