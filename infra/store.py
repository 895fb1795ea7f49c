"""Results database (SQLAlchemy): calls, their processing state, and every failure with its reason.

SQLite by default, Postgres (or anything SQLAlchemy speaks) by URL. The state machine is what makes
re-runs safe: a call done at an etag is never processed again; a new etag is a new version; a transient
failure is retried on the next run; a quarantined recording waits until its object changes.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Literal

from sqlalchemy import create_engine, delete, event, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import ResultsDatabaseError, UnknownRecordError
from core.models import Call
from infra.tables import (  # noqa: F401  (re-exported: the tables are imported from here across infra/ and web/)
    ALERT_STATUSES, DEFAULT_TENANT, STAGES, AlertRow, AnswerRow, Base, CallRow, ContactRow, FailureRow, OverrideRow,
    ReportCacheRow, ReportChartRow, ScorecardRow, StageRow, _now)

State = Literal["processing", "done", "failed", "quarantined"]
LEASE = timedelta(minutes=10)  # a claim not renewed for this long belongs to a crashed (killed) worker



@dataclass(frozen=True)
class CallRecord:
    id: str
    object_key: str
    etag: str
    state: State
    attempts: int
    language: str | None
    duration: float | None
    error_code: str | None
    error_message: str | None
    transcript_key: str | None
    warnings: tuple[str, ...]
    agent: str | None
    queue: str | None


@dataclass(frozen=True)
class CallDetails:
    """What reports need about a call beyond its processing state (read-only view)."""
    id: str
    state: State
    agent: str | None
    queue: str | None
    direction: str
    started_at: datetime | None  # naive UTC
    processed_at: datetime | None  # naive UTC
    language: str | None
    duration: float | None


@dataclass(frozen=True)
class StoredScorecard:
    call_id: str
    total: float | None
    auto_failed: bool
    body: dict
    scored_at: datetime  # naive UTC


@dataclass(frozen=True)
class StoredAlert:
    id: int
    call_id: str
    status: str
    created_at: datetime  # naive UTC
    body: dict  # alert dict with redacted evidence, as stored


def _record(r: CallRow) -> CallRecord:
    return CallRecord(id=r.id, object_key=r.object_key, etag=r.etag, state=r.state, attempts=r.attempts,
                      language=r.language, duration=r.duration, error_code=r.error_code,
                      error_message=r.error_message, transcript_key=r.transcript_key,
                      warnings=tuple(json.loads(r.warnings or "[]")), agent=r.agent, queue=r.queue)


_DB_PROBLEMS = (  # (text in the driver's message, what to tell the operator)
    ("readonly database", "the results database is read-only (file or folder permissions, or a read-only "
                          "mount/replica); make it writable for the service user"),
    ("read-only transaction", "the results database is a read-only server or replica; point --db at the primary"),
    ("database is locked", "the results database stayed locked by another writer; run again"),
    ("database or disk is full", "the results database's disk is full; free space and run again"),
    ("no space left", "the results database's disk is full; free space and run again"),
)


def _coded_database_error(ctx) -> None:
    """SQLAlchemy `handle_error` hook: a known database condition becomes E203 with a fix, instead of a raw
    traceback whose text quotes the statement and its parameters."""
    text = str(ctx.original_exception).lower()
    for needle, advice in _DB_PROBLEMS:
        if needle in text:
            raise ResultsDatabaseError(advice) from None


SCHEMA_LOCK = 4242001  # PostgreSQL advisory lock key: one schema change at a time across workers (infra.accounts too)


def _create_schema(engine) -> None:
    """Tables, added columns and backfills. On PostgreSQL under a transaction-level advisory lock: two workers
    starting at once on a fresh or just-upgraded database would otherwise both create a table and one would
    fail on pg_type's unique index."""
    if engine.dialect.name != "postgresql":
        Base.metadata.create_all(engine)
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")  # released at commit
            Base.metadata.create_all(conn)
    _add_columns(engine)
    _backfill_answers(engine)


class ResultsStore:
    def __init__(self, url: str = "sqlite:///callqa.db", *, lease: timedelta = LEASE):
        self.lease = lease
        kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, **kwargs)
        event.listen(self.engine, "handle_error", _coded_database_error)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", lambda c, _: c.execute("PRAGMA journal_mode=WAL"))
        _create_schema(self.engine)
        if url.startswith("sqlite") and (db := self.engine.url.database) not in (None, "", ":memory:"):
            for f in (Path(db), Path(db + "-wal"), Path(db + "-shm")):
                if f.exists():
                    f.chmod(0o600)  # results and overrides: the service user only
        self._lock = threading.Lock()  # SQLite serialises writers anyway; this avoids busy retries

    def needs_processing(self, call_id: str, etag: str) -> bool:
        with Session(self.engine) as s:
            row = s.get(CallRow, call_id)
            return self._claimable(row, etag)

    def _claimable(self, row: CallRow | None, etag: str) -> bool:
        if row is None or row.etag != etag:
            return True
        if row.state == "failed":
            return True
        if row.state == "processing":
            return row.updated_at < _now() - self.lease  # the lease lapsed: its worker is gone
        return False  # done or quarantined at this etag

    def renew(self, call_id: str) -> bool:
        """Renew the claim on a call being processed (the heartbeat); False when it is no longer ours."""
        with self._lock, Session(self.engine) as s:
            row = s.get(CallRow, call_id)
            if row is None or row.state != "processing":
                return False
            row.updated_at = _now()
            s.commit()
            return True

    def claim(self, call: Call) -> bool:
        """Atomically mark the call as being processed; False if it is done or someone else holds it."""
        with self._lock, Session(self.engine) as s:
            row = s.get(CallRow, call.id)
            if not self._claimable(row, call.etag):
                return False
            values = dict(object_key=call.object_key, etag=call.etag, agent=call.agent, queue=call.queue,
                          direction=call.direction, started_at=_naive(call.started_at),
                          utc_offset_min=_offset_minutes(call.started_at),
                          language=call.language, size_bytes=call.size_bytes, tenant=call.tenant,
                          state="processing",
                          error_code=None, error_message=None, updated_at=_now())
            if row is None:
                s.add(CallRow(id=call.id, attempts=1, **values))
                try:
                    s.commit()
                except IntegrityError:  # another worker inserted it first
                    return False
                return True
            # Conditional update: only succeeds if nobody changed the row since we read it.
            res = s.execute(update(CallRow).where(CallRow.id == call.id, CallRow.state == row.state,
                                                  CallRow.updated_at == row.updated_at)
                            .values(attempts=(row.attempts + 1) if row.etag == call.etag else 1, **values))
            s.commit()
            return res.rowcount == 1

    def mark_done(self, call_id: str, *, transcript_key: str, language: str, duration: float,
                  warnings: tuple[str, ...] = ()) -> None:
        with self._lock, Session(self.engine) as s:
            s.execute(update(CallRow).where(CallRow.id == call_id).values(
                state="done", transcript_key=transcript_key, language=language, duration=duration,
                warnings=json.dumps(list(warnings), ensure_ascii=False), error_code=None,
                error_message=None, updated_at=_now(), processed_at=_now()))
            s.commit()

    def mark_failed(self, call_id: str, etag: str, *, code: str, message: str, quarantined: bool,
                    duration: float | None = None) -> None:
        state: State = "quarantined" if quarantined else "failed"
        with self._lock, Session(self.engine) as s:
            s.execute(update(CallRow).where(CallRow.id == call_id).values(
                state=state, error_code=code, error_message=message, updated_at=_now(),
                **({"duration": duration} if duration is not None else {})))
            s.add(FailureRow(call_id=call_id, etag=etag, code=code, message=message, transient=not quarantined))
            s.commit()

    def mark_stage(self, call_id: str, stage: str, etag: str, version: str) -> None:
        """Record that `stage` of the call's version `etag` is complete (written after its results are)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        with self._lock, Session(self.engine) as s:
            s.merge(StageRow(call_id=call_id, stage=stage, etag=etag, version=version, done_at=_now()))
            s.commit()

    def mark_reported(self, versions: dict[str, str]) -> None:
        """Record the `reported` stage (call id -> version of its rendered page) for each call's current etag."""
        if not versions:
            return
        with self._lock, Session(self.engine) as s:
            etags = dict(s.execute(select(CallRow.id, CallRow.etag).where(CallRow.id.in_(list(versions)))).all())
            for call_id, etag in etags.items():
                s.merge(StageRow(call_id=call_id, stage="reported", etag=etag, version=versions[call_id],
                                 done_at=_now()))
            s.commit()

    def stages(self, call_id: str, etag: str | None = None) -> dict[str, tuple[str, datetime]]:
        """stage -> (version, when) of the call's completed stages (of version `etag` when given)."""
        with Session(self.engine) as s:
            q = select(StageRow).where(StageRow.call_id == call_id)
            if etag is not None:
                q = q.where(StageRow.etag == etag)
            return {r.stage: (r.version, r.done_at) for r in s.scalars(q)}

    def get(self, call_id: str) -> CallRecord | None:
        with Session(self.engine) as s:
            row = s.get(CallRow, call_id)
            return _record(row) if row else None

    def calls(self, state: State | None = None) -> list[CallRecord]:
        with Session(self.engine) as s:
            q = select(CallRow).order_by(CallRow.id)
            if state:
                q = q.where(CallRow.state == state)
            return [_record(r) for r in s.scalars(q)]

    def save_scorecard(self, call_id: str, *, form_id: str, form_version: str, total: float | None,
                       auto_failed: bool, body: str) -> None:
        with self._lock, Session(self.engine) as s:
            s.merge(ScorecardRow(call_id=call_id, form_id=form_id, form_version=form_version, total=total,
                                 auto_failed=auto_failed, body=body, scored_at=_now()))
            s.execute(delete(AnswerRow).where(AnswerRow.call_id == call_id))
            s.add_all(AnswerRow(call_id=call_id, question_id=a["question_id"], answer=a["answer"])
                      for a in json.loads(body).get("answers", ()))
            s.commit()

    def scorecard(self, call_id: str) -> dict | None:
        with Session(self.engine) as s:
            row = s.get(ScorecardRow, call_id)
            return json.loads(row.body) if row else None

    def add_override(self, call_id: str, question_id: str, human_answer: str, reviewer: str,
                     comment: str | None = None) -> None:
        if human_answer not in ("pass", "fail", "na"):
            raise ValueError(f"human_answer must be pass, fail or na, not {human_answer!r}")
        card = self.scorecard(call_id)
        if card is None:
            raise UnknownRecordError(f"no scorecard for call {call_id!r} in this results database")
        if question_id not in (known := [a["question_id"] for a in card["answers"]]):
            raise UnknownRecordError(f"call {call_id!r} has no scored question {question_id!r}; its questions: "
                                     f"{', '.join(known)}")
        with self._lock, Session(self.engine) as s:
            s.add(OverrideRow(call_id=call_id, form_id=card["form_id"], question_id=question_id,
                              human_answer=human_answer, reviewer=reviewer, comment=comment))
            s.commit()

    def machine_human_agreement(self) -> tuple[int, int]:
        """(questions with a human answer, of which the machine agreed) over the latest override each."""
        with Session(self.engine) as s:
            latest: dict[tuple[str, str], str] = {}
            for o in s.scalars(select(OverrideRow).order_by(OverrideRow.id)):
                latest[(o.call_id, o.question_id)] = o.human_answer
            machine = {}
            for row in s.scalars(select(ScorecardRow)):
                for a in json.loads(row.body)["answers"]:
                    machine[(row.call_id, a["question_id"])] = a["answer"]
        pairs = [(machine[k], h) for k, h in latest.items() if k in machine]
        return len(pairs), sum(m == h for m, h in pairs)

    def replace_alerts(self, call_id: str, alerts: list[dict]) -> list[int]:
        """Store a call's alerts from a (re-)check. Alerts a reviewer already handled (or assigned) are kept;
        untouched ones ("new", nobody's) from an earlier check are replaced, so a re-check never duplicates them."""
        with self._lock, Session(self.engine) as s:
            for old in s.scalars(select(AlertRow).where(AlertRow.call_id == call_id, AlertRow.status == "new",
                                                        AlertRow.assignee.is_(None))):
                s.delete(old)
            handled = {(r.rule_id, r.rule_version) for r in
                       s.scalars(select(AlertRow).where(AlertRow.call_id == call_id))}
            rows = [AlertRow(call_id=call_id, category=a["category"], rule_id=a["rule_id"],
                             rule_version=a["rule_version"], severity=a["severity"], title=a["title"],
                             body=json.dumps(a, ensure_ascii=False))
                    for a in alerts if (a["rule_id"], a["rule_version"]) not in handled]
            s.add_all(rows)
            s.commit()
            return [r.id for r in rows]

    def alerts(self, status: str | None = None) -> list[dict]:
        with Session(self.engine) as s:
            q = select(AlertRow).order_by(AlertRow.id)
            if status:
                q = q.where(AlertRow.status == status)
            return [{**json.loads(r.body), "id": r.id, "status": r.status} for r in s.scalars(q)]

    def set_alert_status(self, alert_id: int, status: str) -> None:
        self.update_alerts([alert_id], status=status)

    def update_alerts(self, alert_ids, *, status: str | None = None, assign: bool = False,
                      assignee: str | None = None) -> None:
        """Set the status (unless None) and, with `assign`, the assignee (None: nobody) of every alert in
        `alert_ids` in one transaction: all of them or none (ValueError when one does not exist)."""
        if status is not None and status not in ALERT_STATUSES:
            raise ValueError(f"status must be one of {ALERT_STATUSES}, not {status!r}")
        ids = sorted(set(alert_ids))
        values = {"updated_at": _now(), **({"status": status} if status else {}),
                  **({"assignee": assignee} if assign else {})}
        with self._lock, Session(self.engine) as s:
            res = s.execute(update(AlertRow).where(AlertRow.id.in_(ids)).values(**values))
            if res.rowcount != len(ids):
                s.rollback()
                raise ValueError(f"{len(ids) - res.rowcount} of the {len(ids)} alerts do not exist")
            s.commit()

    def record_contact(self, call_id: str, customer_id: str, topic: str | None, started_at: datetime) -> None:
        """Remember (or update, on a re-check) that this customer called at `started_at` about `topic`."""
        with self._lock, Session(self.engine) as s:
            s.merge(ContactRow(call_id=call_id, customer_id=customer_id, topic=topic, started_at=_naive(started_at)))
            s.commit()

    def contact_history(self, customer_id: str, *, exclude_call: str | None = None
                        ) -> list[tuple[str, datetime, str | None]]:
        """(customer_id, started_at UTC-naive, topic) of the customer's recorded calls, oldest first."""
        with Session(self.engine) as s:
            q = select(ContactRow).where(ContactRow.customer_id == customer_id).order_by(ContactRow.started_at)
            return [(r.customer_id, r.started_at, r.topic) for r in s.scalars(q) if r.call_id != exclude_call]

    def report_cache(self) -> dict[str, tuple[str, str]]:
        """call id -> (digest, summary JSON) of the last report build."""
        with Session(self.engine) as s:
            return {r.call_id: (r.digest, r.summary) for r in s.scalars(select(ReportCacheRow))}

    def save_report_cache(self, entries: dict[str, tuple[str, str]]) -> None:
        with self._lock, Session(self.engine) as s:
            for call_id, (digest, summary) in entries.items():
                s.merge(ReportCacheRow(call_id=call_id, digest=digest, summary=summary))
            s.commit()

    def report_charts(self) -> dict[str, str]:
        """digest -> SVG of the charts the last report build drew or reused."""
        with Session(self.engine) as s:
            return dict(s.execute(select(ReportChartRow.digest, ReportChartRow.svg)).all())

    def save_report_charts(self, charts: dict[str, str]) -> None:
        """Keep exactly `charts` (digest -> SVG): those of this build."""
        with self._lock, Session(self.engine) as s:
            have = set(s.scalars(select(ReportChartRow.digest)))
            if stale := have - set(charts):
                s.execute(delete(ReportChartRow).where(ReportChartRow.digest.in_(list(stale))))
            s.add_all(ReportChartRow(digest=k, svg=v) for k, v in charts.items() if k not in have)
            s.commit()

    def call_details(self) -> list[CallDetails]:
        with Session(self.engine) as s:
            return [CallDetails(r.id, r.state, r.agent, r.queue, r.direction, r.started_at, r.processed_at,
                                r.language, r.duration)
                    for r in s.scalars(select(CallRow).order_by(CallRow.id))]

    def scorecards(self) -> list[StoredScorecard]:
        with Session(self.engine) as s:
            return [StoredScorecard(r.call_id, r.total, r.auto_failed, json.loads(r.body), r.scored_at)
                    for r in s.scalars(select(ScorecardRow).order_by(ScorecardRow.call_id))]

    def alert_records(self) -> list[StoredAlert]:
        with Session(self.engine) as s:
            return [StoredAlert(r.id, r.call_id, r.status, r.created_at, json.loads(r.body))
                    for r in s.scalars(select(AlertRow).order_by(AlertRow.id))]

    def failures(self, call_id: str) -> list[tuple[str, str, bool]]:
        with Session(self.engine) as s:
            q = select(FailureRow).where(FailureRow.call_id == call_id).order_by(FailureRow.id)
            return [(f.code, f.message, f.transient) for f in s.scalars(q)]


def _add_columns(engine) -> None:
    """Additive migration of a database made by an older callqa: columns added since are created with their
    defaults (`calls.tenant`: every existing call belongs to the default tenant)."""
    have = {c["name"] for c in inspect(engine).get_columns("calls")}
    if "tenant" not in have:
        with engine.begin() as c:
            c.execute(text(f"ALTER TABLE calls ADD COLUMN tenant VARCHAR(64) NOT NULL DEFAULT '{DEFAULT_TENANT}'"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_calls_tenant ON calls (tenant)"))
    if "utc_offset_min" not in have:
        with engine.begin() as c:
            c.execute(text("ALTER TABLE calls ADD COLUMN utc_offset_min INTEGER"))
    if "assignee" not in {c["name"] for c in inspect(engine).get_columns("alerts")}:  # alerts.assignee: nobody
        with engine.begin() as c:
            c.execute(text("ALTER TABLE alerts ADD COLUMN assignee VARCHAR(128)"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_alerts_assignee ON alerts (assignee)"))


def _backfill_answers(engine) -> None:
    """Scorecards stored before `scorecard_answers` existed get their answer rows once."""
    with Session(engine) as s:
        if s.scalar(select(AnswerRow.call_id).limit(1)) is not None or \
                s.scalar(select(ScorecardRow.call_id).limit(1)) is None:
            return
        for call_id, body in s.execute(select(ScorecardRow.call_id, ScorecardRow.body)):
            s.add_all(AnswerRow(call_id=call_id, question_id=a["question_id"], answer=a["answer"])
                      for a in json.loads(body).get("answers", ()))
        s.commit()


def _offset_minutes(dt: datetime | None) -> int | None:
    offset = dt.utcoffset() if dt is not None else None
    return None if offset is None else int(offset.total_seconds() // 60)


def _naive(dt: datetime | None) -> datetime | None:
    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)
