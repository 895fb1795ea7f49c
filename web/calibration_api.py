"""Calibration sessions in the JSON API (/api/calibration/...), with typed responses: the sessions a viewer may
see, a new session (QA leads), a call's questions to score blind and the blind answers, and the per-question
agreement between reviewers and with the machine (percent and kappa) with its trend over earlier sessions.
The checks (role, tenant, membership) are web/sampling.py's, shared with the pages."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from web.auth import QA_LEAD, Viewer, api_viewer, api_writer
from web.sampling import (BlindAnswers, NewCalibration, _calibration_reader, _session, _stores, blind,
                          create_calibration, results, submit)

router = APIRouter(prefix="/api", tags=["sampling and calibration"])


class CalibrationSession(BaseModel):
    id: int
    title: str
    created_by: str
    created_at: datetime = Field(..., description="UTC")
    calls: list[str]
    reviewers: list[str]
    submitted: dict[str, list[str]] = Field(..., description="reviewer -> call ids they have scored (a lead sees "
                                            "every reviewer's, a reviewer only their own)")


class Created(BaseModel):
    id: int


class AgreementOut(BaseModel):
    items: int = Field(..., description="calls at least one reviewer answered")
    raters: int
    reviewer_percent: float | None = Field(..., description="pairwise agreement between reviewers, 0-1")
    reviewer_kappa: float | None = Field(..., description="mean pairwise Cohen's kappa")
    fleiss_kappa: float | None = Field(..., description="only with more than two reviewers")
    machine_percent: float | None = Field(..., description="reviewers' answers equal to the machine's, 0-1")
    machine_kappa: float | None = Field(..., description="mean over reviewers of Cohen's kappa with the machine")


class TrendPointOut(AgreementOut):
    session_id: int
    created_at: datetime


class QuestionAgreement(AgreementOut):
    form_id: str
    question_id: str
    text: str
    trend: list[TrendPointOut] = Field(..., description="the same question in every session so far, oldest first")


class CalibrationResults(BaseModel):
    session: CalibrationSession
    questions: list[QuestionAgreement]


class BlindQuestion(BaseModel):
    question_id: str
    text: str


class BlindForm(BaseModel):
    call_id: str
    questions: list[BlindQuestion] = Field(..., description="no machine answers: the reviewer scores blind")
    my_answers: dict[str, str] | None = Field(..., description="question id -> pass/fail/na once submitted")


def session_out(info, viewer: Viewer) -> CalibrationSession:
    lead = viewer.can(QA_LEAD)
    return CalibrationSession(id=info.id, title=info.title, created_by=info.created_by, created_at=info.created_at,
                              calls=list(info.calls), reviewers=list(info.reviewers),
                              submitted={r: sorted(c) for r, c in info.submitted.items()
                                         if lead or r == viewer.user.username})


@router.get("/calibration", response_model=list[CalibrationSession])
def api_calibrations(request: Request, viewer: Viewer = Depends(api_viewer)):
    """Sessions: a lead's, all of the tenant's; a reviewer's, those they are in."""
    _calibration_reader(viewer)
    store = _stores(request)[1]
    found = store.sessions(viewer.user.tenant, reviewer=None if viewer.can(QA_LEAD) else viewer.user.username)
    return [session_out(i, viewer) for i in found]


@router.post("/calibration", status_code=201, response_model=Created)
def api_create_calibration(request: Request, body: NewCalibration, viewer: Viewer = Depends(api_writer)):
    """QA leads: a session over scored calls of the tenant, for reviewers of the tenant."""
    return Created(id=create_calibration(request, viewer, body.title, body.call_ids, body.reviewers))


@router.get("/calibration/{session_id}", response_model=CalibrationSession)
def api_calibration(request: Request, session_id: int, viewer: Viewer = Depends(api_viewer)):
    return session_out(_session(request, viewer, session_id), viewer)


@router.get("/calibration/{session_id}/results", response_model=CalibrationResults)
def api_calibration_results(request: Request, session_id: int, viewer: Viewer = Depends(api_viewer)):
    """QA leads: per-question agreement of the session, and each question's trend over sessions."""
    info, rows, trend = results(request, viewer, session_id)
    return CalibrationResults(session=session_out(info, viewer), questions=[
        QuestionAgreement(form_id=r.form_id, question_id=r.question_id, text=r.text, **r.agreement.__dict__,
                          trend=[TrendPointOut(session_id=p.session_id, created_at=p.created_at,
                                               **p.agreement.__dict__)
                                 for p in trend.get((r.form_id, r.question_id), [])])
        for r in rows])


@router.get("/calibration/{session_id}/calls/{call_id:path}", response_model=BlindForm)
def api_blind(request: Request, session_id: int, call_id: str, viewer: Viewer = Depends(api_viewer)):
    """The call's questions to answer blind (no machine answers), and the viewer's own answers once in."""
    questions, own = blind(request, viewer, session_id, call_id)
    return BlindForm(call_id=call_id, questions=[BlindQuestion(question_id=q.question_id, text=q.text)
                                                 for q in questions], my_answers=own or None)


@router.post("/calibration/{session_id}/calls/{call_id:path}", status_code=204)
def api_submit(request: Request, session_id: int, call_id: str, body: BlindAnswers,
               viewer: Viewer = Depends(api_writer)):
    """The viewer's blind answers to every question of the call (final)."""
    submit(request, viewer, session_id, call_id, dict(body.answers))
