"""The results database's tables (SQLAlchemy ORM), shared by every module under infra/ through `Base`:
calls and their state, failures, scorecards and their answers, reviewer overrides, alerts, completed stages,
contacts across calls, the report cache and its charts. `infra.store.ResultsStore` is what writes them."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_TENANT = "default"  # every call, user and audit entry belongs to a tenant (one client company)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class CallRow(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    object_key: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16), default="unknown")
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    utc_offset_min: Mapped[int | None] = mapped_column(Integer)  # the call's own clock (sidecar's offset)
    language: Mapped[str | None] = mapped_column(String(16))  # detected or forced
    duration: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(8))
    error_message: Mapped[str | None] = mapped_column(Text)
    transcript_key: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, server_default=DEFAULT_TENANT,
                                        index=True)


class FailureRow(Base):
    __tablename__ = "failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    etag: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    transient: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class ScorecardRow(Base):
    """The machine's latest scorecard for a call (replaced on re-scoring; overrides are kept apart)."""
    __tablename__ = "scorecards"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(128))
    form_version: Mapped[str] = mapped_column(String(32))
    total: Mapped[float | None] = mapped_column(Float)
    auto_failed: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)  # the scorecard JSON, as written to object storage
    scored_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class AnswerRow(Base):
    """One machine answer of a stored scorecard, beside its JSON body, so lists can filter by question
    ("calls that failed greeting") without parsing every body. Rewritten with the scorecard."""
    __tablename__ = "scorecard_answers"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    answer: Mapped[str] = mapped_column(String(8))  # pass / fail / na
    __table_args__ = (Index("ix_scorecard_answers_question", "question_id", "answer"),)


class OverrideRow(Base):
    """A reviewer's answer to one question, stored beside the machine's, never replacing it."""
    __tablename__ = "overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(128))
    question_id: Mapped[str] = mapped_column(String(128))
    human_answer: Mapped[str] = mapped_column(String(8))  # pass / fail / na
    reviewer: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class AlertRow(Base):
    """A compliance/reputation alert for reviewers; its status is theirs to change."""
    __tablename__ = "alerts"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are links in reports: never reuse one
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    rule_version: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # alert JSON with evidence (redacted quotes)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    assignee: Mapped[str | None] = mapped_column(String(128), index=True)  # a compliance officer's user name


class StageRow(Base):
    """A stage a call's current version (etag) has completed, with the version of what produced it: a run
    after a crash resumes from the first incomplete stage (a stored transcript is never transcribed again)."""
    __tablename__ = "call_stages"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)  # one of STAGES
    etag: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(256))
    done_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


STAGES = ("transcribed", "analysed", "redacted", "reported")


class ContactRow(Base):
    """Who called when about what, for checks across calls (repeated contact). One row per call and customer
    key; the customer id is the caller's pseudonymous id from the metadata sidecar."""
    __tablename__ = "contacts"
    call_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(256), index=True)
    topic: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[datetime] = mapped_column(DateTime)


class ReportCacheRow(Base):
    """What the last report build derived from a call (redacted, no transcript text), with the digest of the
    results it came from: a build re-reads and re-renders only calls whose digest changed."""
    __tablename__ = "report_cache"
    call_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)


class ReportChartRow(Base):
    """A chart of the aggregate report pages (SVG) by the digest of its inputs and of the report code: a build
    draws only the charts whose data changed. Holds the last build's charts only."""
    __tablename__ = "report_charts"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    svg: Mapped[str] = mapped_column(Text)


ALERT_STATUSES = ("new", "acknowledged", "resolved", "false_positive")
