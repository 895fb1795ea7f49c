"""QA review in the workspace: a reviewer marks a call reviewed (overrides are `Workspace.override`), an agent
acknowledges the scorecard of their own call or disputes one answer, a QA lead settles disputes in a queue,
and scorecards are exported (CSV/JSON) with the machine's and the reviewed answer side by side.

Pages (forms with the session's CSRF token) and the JSON API under /api/ (X-CSRF-Token on writes) share the
functions below, which do every check of role, ownership and tenant and write every audit entry. Audit
details hold ids, answers and the users' own comments, never transcript text; an export's filters are not
audited (a search may hold what someone typed).
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from infra import review
from infra.review import Dispute
from infra.search import CallFilter, call_scorecard
from reports.pages import csv_cell
from web.auth import (OVERRIDE, QA_LEAD, RESPOND_TO_SCORECARD, Viewer, api_viewer, api_writer, check_csrf,
                      page_viewer, require)
from web.render import render as _render
from web.service import call_filter

EXPORT = {"qa_reviewer", "qa_lead", "admin", "coach"}  # scorecard exports (not agents: one row per question)
MIN_COMMENT, MAX_COMMENT = 10, 2000  # characters of a dispute's or a resolution's comment
EXPORT_PAGE = 200  # calls per list_calls page while an export pages through all of them

router = APIRouter()
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["review"])


class NewDispute(BaseModel):
    call_id: str
    question_id: str
    comment: str = Field(..., description=f"why the answer is wrong (at least {MIN_COMMENT} characters)")


class Resolution(BaseModel):
    status: Literal["upheld", "rejected"]
    comment: str = Field(..., description=f"the lead's reason (at least {MIN_COMMENT} characters)")
    answer: Literal["pass", "fail", "na"] | None = Field(
        None, description="upheld only: set this reviewer answer on the disputed question (recomputes the total)")


@dataclass(frozen=True)
class QueuedDispute(Dispute):
    """A dispute in the leads' queue, with what a lead needs beside it: the call's agent id, the question's text
    on the form, the machine's answer and the reviewed one (the latest reviewer answer, else the machine's)."""
    agent: str | None = None
    question: str = ""
    machine_answer: str | None = None
    reviewed_answer: str | None = None


class Acknowledged(BaseModel):
    call_id: str
    new: bool = Field(..., description="false when this agent had acknowledged the scorecard already")


class ExportRow(BaseModel):
    call_id: str
    agent: str | None
    queue: str | None
    started_at: datetime | None
    language: str | None
    form_id: str
    form_version: str
    section_id: str
    question_id: str
    question: str
    machine_answer: str
    reviewed_answer: str = Field(..., description="the latest reviewer answer, else the machine's")
    overridden: bool
    reviewer: str | None = Field(None, description="who gave the latest reviewer answer to this question")
    comment: str | None = Field(None, description="their comment")
    machine_total: float | None
    reviewed_total: float | None
    machine_auto_failed: bool
    reviewed_auto_failed: bool
    reviewed_by: list[str] = Field(..., description="everyone who reviewed the call")


class ScorecardExport(BaseModel):
    calls: int
    rows: list[ExportRow]


EXPORT_COLUMNS = list(ExportRow.model_fields)


# --- what the pages and the API do ---------------------------------------------------------------------------
def _scored_call(ws, viewer: Viewer, call_id: str) -> dict:
    """The call's machine scorecard after the tenant and ownership checks (404 / 403)."""
    ws.call_row(viewer, call_id)
    card = call_scorecard(ws.engine, viewer.user.tenant, call_id)
    if card is None:
        raise HTTPException(404, "this call has no scorecard")
    return card


def _comment(text: str | None, what: str) -> str:
    text = " ".join((text or "").split())
    if not MIN_COMMENT <= len(text) <= MAX_COMMENT:
        raise HTTPException(422, f"{what} needs {MIN_COMMENT} to {MAX_COMMENT} characters")
    return text


def mark_reviewed(ws, viewer: Viewer, call_id: str) -> None:
    """A reviewer confirms the call's answers as reviewed (the machine's where they set none)."""
    require(viewer, OVERRIDE)
    _scored_call(ws, viewer, call_id)
    review.record_review(ws.engine, viewer.user.tenant, call_id, viewer.user.username, kind="confirmed")
    ws.accounts.audit(viewer.user, "mark_reviewed", call_id=call_id, ip=viewer.ip)


def acknowledge(ws, viewer: Viewer, call_id: str) -> bool:
    """The agent acknowledges their own call's scorecard; False (nothing written) when they had already."""
    require(viewer, RESPOND_TO_SCORECARD)
    _scored_call(ws, viewer, call_id)
    tenant, me = viewer.user.tenant, viewer.user.username
    if any(a.agent_username == me for a in review.acknowledgements(ws.engine, tenant, call_id)):
        return False
    review.acknowledge(ws.engine, tenant, call_id, me)
    ws.accounts.audit(viewer.user, "scorecard_acknowledged", call_id=call_id, ip=viewer.ip)
    return True


def open_dispute(ws, viewer: Viewer, call_id: str, question_id: str, comment: str | None) -> review.Dispute:
    """The agent disputes one answer of their own call's scorecard; one open dispute per question."""
    require(viewer, RESPOND_TO_SCORECARD)
    card = _scored_call(ws, viewer, call_id)
    if question_id not in {a["question_id"] for a in card["answers"]}:
        raise HTTPException(404, "no such scored question on this call")
    comment = _comment(comment, "a dispute's comment")
    tenant = viewer.user.tenant
    if any(d.question_id == question_id for d in review.disputes(ws.engine, tenant, status="open", call_id=call_id)):
        raise HTTPException(409, "this answer is disputed already and waits for a QA lead")
    dispute_id = review.open_dispute(ws.engine, tenant, call_id, question_id, viewer.user.username, comment)
    ws.accounts.audit(viewer.user, "dispute_opened", call_id=call_id, ip=viewer.ip, dispute_id=dispute_id,
                      question_id=question_id, comment=comment)
    return review.dispute(ws.engine, tenant, dispute_id)


def resolve(ws, viewer: Viewer, dispute_id: int, status: str, comment: str | None,
            answer: str | None = None) -> review.Dispute:
    """A QA lead upholds or rejects an open dispute; upheld with `answer` also sets that reviewer answer."""
    require(viewer, QA_LEAD)
    if status not in ("upheld", "rejected"):
        raise HTTPException(422, "a dispute is resolved as upheld or rejected")
    answer = answer or None
    if answer is not None and (status != "upheld" or answer not in ("pass", "fail", "na")):
        raise HTTPException(422, "an answer (pass, fail or na) goes only with upheld")
    comment = _comment(comment, "a resolution's comment")
    tenant = viewer.user.tenant
    d = review.dispute(ws.engine, tenant, dispute_id)
    if d is None:
        raise HTTPException(404, "no such dispute")
    card = _scored_call(ws, viewer, d.call_id)
    if answer is not None and d.question_id not in {a["question_id"] for a in card["answers"]}:
        raise HTTPException(409, "the call was re-scored without the disputed question; resolve without an answer")
    if not review.resolve_dispute(ws.engine, tenant, dispute_id, status, viewer.user.username, comment, answer):
        raise HTTPException(409, "this dispute is resolved already")
    if answer is not None:
        ws.override(viewer, d.call_id, d.question_id, answer, comment)  # audited; writes a review row
    else:
        review.record_review(ws.engine, tenant, d.call_id, viewer.user.username, kind="dispute_resolution")
    ws.accounts.audit(viewer.user, "dispute_resolved", call_id=d.call_id, ip=viewer.ip, dispute_id=dispute_id,
                      question_id=d.question_id, status=status, answer=answer, comment=comment)
    return review.dispute(ws.engine, tenant, dispute_id)


def dispute_queue(ws, viewer: Viewer, status: str = "open") -> list[QueuedDispute]:
    """The tenant's disputes (`status` open, upheld, rejected or all) with each question's text and answers."""
    require(viewer, QA_LEAD)
    if status != "all" and status not in review.DISPUTE_STATUSES:
        raise HTTPException(422, f"status must be all or one of {', '.join(review.DISPUTE_STATUSES)}")
    found = review.disputes(ws.engine, viewer.user.tenant, status=None if status == "all" else status)
    cards = review.reviewed_scorecards(ws.engine, viewer.user.tenant, sorted({d.call_id for d in found}))
    out = []
    for d in found:
        card, _, totals = cards.get(d.call_id, ({"answers": []}, {}, None))
        q = next((a for a in card["answers"] if a["question_id"] == d.question_id), None)
        reviewed = next((a.answer for a in totals.answers if a.question_id == d.question_id), None) if totals else None
        row = ws.call_row(viewer, d.call_id) if q else None
        out.append(QueuedDispute(**asdict(d), agent=row.agent if row else None, question=q["text"] if q else "",
                                 machine_answer=q["answer"] if q else None, reviewed_answer=reviewed))
    return out


def export(ws, viewer: Viewer, f: CallFilter, fmt: str) -> ScorecardExport:
    """Every call the filter selects (all pages), one row per question, machine and reviewed answer."""
    require(viewer, EXPORT)
    items, page = [], 1
    while True:
        found = ws.calls(viewer, replace(f, page=page, per_page=EXPORT_PAGE))
        items += found.items
        if not found.items or page * EXPORT_PAGE >= found.total:
            break
        page += 1
    tenant = viewer.user.tenant
    cards = review.reviewed_scorecards(ws.engine, tenant, [i.id for i in items])
    reviewers = review.reviewers_by_call(ws.engine, tenant, list(cards))
    rows = []
    for item in items:
        if item.id not in cards:
            continue
        card, overrides, totals = cards[item.id]
        by = sorted(reviewers.get(item.id, set()) | {o.reviewer for o in overrides.values()})
        for a in card["answers"]:
            o = overrides.get(a["question_id"])
            rows.append(ExportRow(
                call_id=item.id, agent=item.agent, queue=item.queue, started_at=item.started_at,
                language=item.language, form_id=card["form_id"], form_version=card["form_version"],
                section_id=a["section_id"], question_id=a["question_id"], question=a.get("text", ""),
                machine_answer=a["answer"], reviewed_answer=o.answer if o else a["answer"], overridden=o is not None,
                reviewer=o.reviewer if o else None, comment=o.comment if o else None, machine_total=card["total"],
                reviewed_total=totals.total, machine_auto_failed=bool(card["auto_failed"]),
                reviewed_auto_failed=totals.auto_failed, reviewed_by=by))
    ws.accounts.audit(viewer.user, "export_scorecards", ip=viewer.ip, format=fmt, calls=len(cards), rows=len(rows))
    return ScorecardExport(calls=len(cards), rows=rows)


def _csv(result: ScorecardExport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    for r in result.rows:
        values = r.model_dump()
        values["reviewed_by"] = "; ".join(r.reviewed_by)
        values["started_at"] = r.started_at.isoformat() if r.started_at else ""
        w.writerow(["" if v is None else csv_cell(str(v).lower() if isinstance(v, bool) else v)
                    for v in (values[c] for c in EXPORT_COLUMNS)])
    return buf.getvalue()


def _download(body: str, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- pages ---------------------------------------------------------------------------------------------------


def _back_to_call(call_id: str, anchor: str = "scorecard") -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(f"/calls/{quote(call_id, safe='/')}#{anchor}", status_code=303)


@pages.post("/reviewed/{call_id:path}")
def mark_reviewed_form(request: Request, call_id: str, csrf_token: str = Form(""),
                       viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    mark_reviewed(request.app.state.ws, viewer, call_id)
    return _back_to_call(call_id)


@pages.post("/acknowledge/{call_id:path}")
def acknowledge_form(request: Request, call_id: str, csrf_token: str = Form(""),
                     viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    acknowledge(request.app.state.ws, viewer, call_id)
    return _back_to_call(call_id, "responses")


@pages.post("/dispute/{call_id:path}")
def dispute_form(request: Request, call_id: str, question_id: str = Form(...), comment: str = Form(""),
                 csrf_token: str = Form(""), viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    open_dispute(request.app.state.ws, viewer, call_id, question_id, comment)
    return _back_to_call(call_id, "responses")


@pages.get("/disputes")
def disputes_page(request: Request, status: str = "open", viewer: Viewer = Depends(page_viewer)):
    found = dispute_queue(request.app.state.ws, viewer, status)
    return _render(request, "disputes.html", viewer, disputes=found, status=status,
                   statuses=review.DISPUTE_STATUSES, min_comment=MIN_COMMENT)


@pages.post("/disputes/{dispute_id}/resolve")
def resolve_form(request: Request, dispute_id: int, status: str = Form(...), comment: str = Form(""),
                 answer: str = Form(""), back: str = Form("open"), csrf_token: str = Form(""),
                 viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    resolve(request.app.state.ws, viewer, dispute_id, status, comment, answer or None)
    back = back if back == "all" or back in review.DISPUTE_STATUSES else "open"
    return RedirectResponse(f"/disputes?status={back}", status_code=303)


@pages.get("/exports")
def exports_page(request: Request, viewer: Viewer = Depends(page_viewer)):
    require(viewer, EXPORT)
    return _render(request, "review_exports.html", viewer, facets=request.app.state.ws.facets(viewer),
                   f=request.query_params)


@pages.get("/exports/scorecards.csv")
def export_csv_page(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(page_viewer)):
    return _download(_csv(export(request.app.state.ws, viewer, f, "csv")), "text/csv; charset=utf-8",
                     "callqa-scorecards.csv")


@pages.get("/exports/scorecards.json")
def export_json_page(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(page_viewer)):
    result = export(request.app.state.ws, viewer, f, "json")
    return _download(result.model_dump_json(indent=1), "application/json", "callqa-scorecards.json")


# --- API -----------------------------------------------------------------------------------------------------
@api.post("/reviewed/{call_id:path}", status_code=204)
def mark_reviewed_api(request: Request, call_id: str, viewer: Viewer = Depends(api_writer)):
    """Confirm the call as reviewed (reviewers, QA leads, admins); it then shows "reviewed by" you."""
    mark_reviewed(request.app.state.ws, viewer, call_id)


@api.post("/acknowledge/{call_id:path}", response_model=Acknowledged)
def acknowledge_api(request: Request, call_id: str, viewer: Viewer = Depends(api_writer)):
    """Agents: acknowledge the scorecard of one of your calls."""
    return Acknowledged(call_id=call_id, new=acknowledge(request.app.state.ws, viewer, call_id))


@api.post("/disputes", response_model=Dispute, status_code=201)
def dispute_api(request: Request, body: NewDispute, viewer: Viewer = Depends(api_writer)):
    """Agents: dispute one answer of your call's scorecard, with a comment; it goes to the QA leads' queue."""
    d = open_dispute(request.app.state.ws, viewer, body.call_id, body.question_id, body.comment)
    return d


@api.get("/disputes", response_model=list[QueuedDispute])
def disputes_api(request: Request, status: str = "open", viewer: Viewer = Depends(api_viewer)):
    """QA leads: the disputes queue (`status` open by default; upheld, rejected or all)."""
    return dispute_queue(request.app.state.ws, viewer, status)


@api.post("/disputes/{dispute_id}/resolve", response_model=Dispute)
def resolve_api(request: Request, dispute_id: int, body: Resolution, viewer: Viewer = Depends(api_writer)):
    """QA leads: uphold (optionally setting the reviewer answer) or reject an open dispute."""
    d = resolve(request.app.state.ws, viewer, dispute_id, body.status, body.comment, body.answer)
    return d


@api.get("/exports/scorecards.json", response_model=ScorecardExport)
def export_json_api(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(api_viewer)):
    """Scorecards of every call the calls-list filters select: one row per question, machine and reviewed
    answer, the reviewer and comment, machine and reviewed total."""
    return export(request.app.state.ws, viewer, f, "json")


@api.get("/exports/scorecards.csv", response_class=Response)
def export_csv_api(request: Request, f: CallFilter = Depends(call_filter), viewer: Viewer = Depends(api_viewer)):
    """The same rows as CSV (cells a spreadsheet would run as formulas are quoted)."""
    return _download(_csv(export(request.app.state.ws, viewer, f, "csv")), "text/csv; charset=utf-8",
                     "callqa-scorecards.csv")


router.include_router(pages)
router.include_router(api)
