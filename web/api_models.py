"""Response models of the workspace's JSON API for a call, the calls list's filter values and the audit log
(web/api.py, web/audit.py): what other tools integrate against, in the OpenAPI schema (/api/openapi.json).

A scorecard's fixed parts are typed here; fields the scoring stage adds later (kpis, sentiment, new answer
fields) pass through (`extra="allow"`), so a newer pipeline never makes the API drop data."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from web.alert_api import Alert

Answer = Literal["pass", "fail", "na"]


class CallMeta(BaseModel):
    id: str
    agent: str | None
    queue: str | None
    direction: str | None
    started_at: datetime | None = Field(..., description="UTC (naive)")
    utc_offset_min: int | None = Field(..., description="the call's own clock: minutes east of UTC")
    language: str | None
    duration: float | None = Field(..., description="seconds")
    state: str


class Segment(BaseModel):
    index: int
    start: float
    end: float
    role: str | None
    speaker: str | None
    text: str = Field(..., description="redacted: personal data replaced by placeholders such as [PHONE]")


class Evidence(BaseModel):
    model_config = ConfigDict(extra="allow")
    quote: str = Field(..., description="redacted")
    speaker: str | None = None
    role: str | None = None
    start: float | None = Field(None, description="seconds into the recording: seek the audio here")
    end: float | None = None
    rule_id: str | None = None
    detail: str | None = None


class ReviewerAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    answer: Answer
    reviewer: str
    comment: str | None
    at: datetime
    revisions: int = Field(..., description="how many times reviewers answered this question")


class ScoredAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    question_id: str
    section_id: str
    text: str
    answer: Answer = Field(..., description="the machine's answer (a reviewer's is in `override`)")
    weight: float
    effective_weight: float
    points: float
    auto_fail: bool
    critical: bool
    evidence: list[Evidence]
    explanation: str = Field("", description="for fail and N/A: what was looked for and where")
    override: ReviewerAnswer | None = Field(None, description="the latest reviewer answer, if any")


class AutoFailEvidence(BaseModel):
    question: str
    evidence: list[Evidence]


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="allow")
    call_id: str
    form_id: str
    form_version: str
    total: float | None = Field(..., description="the machine's total, 0-100")
    auto_failed: bool
    answers: list[ScoredAnswer]
    sections: list[dict[str, Any]]
    auto_fail_reasons: list[str] = []
    auto_fail_evidence: list[AutoFailEvidence] = Field([], description="what the agent said on auto-fail answers")
    reviewed_total: float | None = Field(None, description="the total with the reviewers' answers applied")
    reviewed_auto_failed: bool | None = None
    reviewed_changed: bool = False
    reviewed_by: list[str] = []
    acknowledgements: list[dict[str, Any]] = Field([], description="the agent's acknowledgements")
    disputes: list[dict[str, Any]] = Field([], description="the agent's disputes, with their resolutions")
    kpis: dict[str, Any] | None = None
    sentiment: dict[str, Any] | None = None


class CallDetail(BaseModel):
    call: CallMeta
    transcript: list[Segment] = Field(..., description="the redacted transcript")
    scorecard: Scorecard | None = Field(..., description="null while the viewer scores the call blind in a "
                                        "calibration session, or when it is not scored")
    alerts: list[Alert] = Field(..., description="empty for agents and blind calibration reviewers")
    audio_url: str | None = Field(..., description="the redacted recording (GET with Range), null when none")


class QuestionRef(BaseModel):
    id: str
    text: str


class Facets(BaseModel):
    """Values the calls list's filters take, from the viewer's calls (an agent's: their own)."""
    agents: list[str]
    queues: list[str]
    languages: list[str]
    directions: list[str]
    forms: list[str]
    questions: list[QuestionRef] = Field(..., description="for `failed_question`")
    alert_categories: list[str]
    alert_statuses: list[str]
    alert_severities: list[str]
    sorts: list[str] = Field(..., description="for `sort` (with `order` asc or desc)")


class AuditEntry(BaseModel):
    id: int
    at: datetime = Field(..., description="UTC (naive)")
    username: str
    role: str
    action: str = Field(..., description="e.g. unredacted_view, unredacted_denied, override, alert_status, login")
    call_id: str | None
    alert_id: int | None
    ip: str | None
    detail: dict[str, Any] = Field(..., description="reason, from/to status, comment, question ids")


class Unredacted(BaseModel):
    call_id: str
    segments: list[dict[str, Any]] = Field(..., description="the unredacted transcript: start, end, role, text")
    audio_url: str = Field(..., description="the original recording, with a grant bound to this session and call "
                           "(valid 30 minutes)")
