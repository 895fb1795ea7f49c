"""Coaching pages and API. `/coaching` (coaches, admins): per-agent picks from the scorecards (lowest totals,
most-failed questions with example calls, best examples), a form to assign a call to its agent with a note and
due date, and every assignment with its completion. `/my/coaching` (agents): their own assignments, each
linking to the call page (redacted audio and transcript), with an acknowledge button and optional comment.
The logic and its checks are in web/coaching_service.py."""
from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from web import coaching_service as svc
from web.auth import Viewer, api_viewer, api_writer, check_csrf, page_viewer, permissions

router = APIRouter()


def _page(request: Request, name: str, viewer: Viewer, **context):
    ctx = {"viewer": viewer, "perms": permissions(viewer), "today": svc.today(), **context}
    return request.app.state.templates.TemplateResponse(request, name, ctx)


# pages
@router.get("/coaching", include_in_schema=False)
def coaching_page(request: Request, agent: str = "", call: str = "", viewer: Viewer = Depends(page_viewer)):
    ws = request.app.state.ws
    return _page(request, "coaching.html", viewer, picks=svc.picks(ws, viewer, agent), agent=agent,
                 assignments=svc.assignments(ws, viewer, agent), call=call)


@router.post("/coaching/assign", include_in_schema=False)
def coaching_assign(request: Request, call_id: str = Form(...), note: str = Form(""), due: str = Form(""),
                    csrf_token: str = Form(""), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    made = svc.assign(request.app.state.ws, viewer, call_id, note, due)
    return RedirectResponse(f"/coaching#assignment-{made.id}", status_code=303)


@router.get("/my/coaching", include_in_schema=False)
def my_coaching_page(request: Request, viewer: Viewer = Depends(page_viewer)):
    return _page(request, "my_coaching.html", viewer, assignments=svc.mine(request.app.state.ws, viewer))


@router.post("/my/coaching/{assignment_id}/ack", include_in_schema=False)
def my_coaching_ack(request: Request, assignment_id: int, comment: str = Form(""), csrf_token: str = Form(""),
                    viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    svc.acknowledge(request.app.state.ws, viewer, assignment_id, comment)
    return RedirectResponse(f"/my/coaching#assignment-{assignment_id}", status_code=303)


# API
class PickOut(BaseModel):
    call_id: str
    total: float | None
    auto_failed: bool


class FailedQuestionOut(BaseModel):
    question_id: str
    text: str
    fails: int
    asked: int
    examples: list[str] = Field(..., description="call ids, lowest total first")


class AgentPicksOut(BaseModel):
    agent: str
    calls: int
    average: float | None
    lowest: list[PickOut]
    failed_questions: list[FailedQuestionOut]
    best: list[PickOut]


class NewAssignment(BaseModel):
    call_id: str
    note: str = ""
    due: date | None = Field(None, description="YYYY-MM-DD, today or later")


class Acknowledgement(BaseModel):
    comment: str | None = None


class AssignmentOut(BaseModel):
    id: int
    call_id: str
    agent: str
    coach: str
    note: str
    due: date | None
    created_at: datetime
    acknowledged_at: datetime | None
    agent_comment: str | None
    state: str = Field(..., description="open, overdue (past due, not acknowledged) or done (acknowledged)")
    call_url: str


def _out(a) -> AssignmentOut:
    return AssignmentOut(**a.__dict__, state=a.state(svc.today()), call_url="/calls/" + quote(a.call_id, safe="/"))


def _picks_out(p) -> AgentPicksOut:
    return AgentPicksOut(agent=p.agent, calls=p.calls, average=p.average,
                         lowest=[PickOut(**x.__dict__) for x in p.lowest],
                         failed_questions=[FailedQuestionOut(**{**q.__dict__, "examples": list(q.examples)})
                                           for q in p.failed_questions],
                         best=[PickOut(**x.__dict__) for x in p.best])


@router.get("/api/coaching/picks", response_model=list[AgentPicksOut], tags=["coaching"])
def api_picks(request: Request, agent: str = "", viewer: Viewer = Depends(api_viewer)):
    """Coaches, admins: per agent, the lowest-scoring calls, most-failed questions and best examples."""
    return [_picks_out(p) for p in svc.picks(request.app.state.ws, viewer, agent)]


@router.get("/api/coaching/assignments", response_model=list[AssignmentOut], tags=["coaching"])
def api_assignments(request: Request, agent: str = "", viewer: Viewer = Depends(api_viewer)):
    """Coaches, admins: every assignment of the tenant (or of one agent) with its completion."""
    return [_out(a) for a in svc.assignments(request.app.state.ws, viewer, agent)]


@router.post("/api/coaching/assignments", response_model=AssignmentOut, status_code=201, tags=["coaching"])
def api_assign(request: Request, body: NewAssignment, viewer: Viewer = Depends(api_writer)):
    """Assign a call to its agent (the call's `agent`) with a note and a due date."""
    return _out(svc.assign(request.app.state.ws, viewer, body.call_id, body.note, body.due))


@router.get("/api/coaching/assignments/{assignment_id}", response_model=AssignmentOut, tags=["coaching"])
def api_assignment(request: Request, assignment_id: int, viewer: Viewer = Depends(api_viewer)):
    """One assignment: coaches and admins any of the tenant's, an agent only their own."""
    return _out(svc.get(request.app.state.ws, viewer, assignment_id))


@router.get("/api/my/coaching", response_model=list[AssignmentOut], tags=["coaching"])
def api_mine(request: Request, viewer: Viewer = Depends(api_viewer)):
    """Agents: their own coaching assignments, open ones first."""
    return [_out(a) for a in svc.mine(request.app.state.ws, viewer)]


@router.post("/api/my/coaching/{assignment_id}/ack", response_model=AssignmentOut, tags=["coaching"])
def api_ack(request: Request, assignment_id: int, body: Acknowledgement, viewer: Viewer = Depends(api_writer)):
    """Agents: acknowledge one of their own assignments (once), with an optional comment."""
    return _out(svc.acknowledge(request.app.state.ws, viewer, assignment_id, body.comment))
