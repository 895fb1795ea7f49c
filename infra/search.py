"""The workspace's read queries on the results database, every one scoped by tenant: calls with filters,
sorting, paging and full-text search over the REDACTED transcripts (SQLite FTS5), a call's scorecard,
overrides and alerts, the alert queue.

The full-text index is kept beside the calls: `TranscriptIndex.sync` reads the redacted transcript
(`redacted/transcripts/`, never `transcripts/`) of every done call whose version (etag, processing and
scoring times) changed since it was indexed. Chinese has no spaces between words: CJK characters are indexed
one by one and a query's CJK run becomes a phrase of characters, so any substring matches.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, exists, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.keys import redacted_transcript_key
from infra.store import AlertRow, Base, CallRow, OverrideRow, ScorecardRow

MARK_START, MARK_END = "\ue000", "\ue001"  # snippet highlight markers (private use: never in a transcript)
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af])")
SORTS = {"started": CallRow.started_at, "total": ScorecardRow.total, "id": CallRow.id,
         "duration": CallRow.duration}


class IndexedRow(Base):
    """Which version of a call's redacted transcript the full-text index holds."""
    __tablename__ = "transcript_index"
    call_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(256))


_WIDE = r"\u3000-\u303f\uff00-\uffef\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_SPACE_BEFORE_WIDE = re.compile(rf" +(?=[\ue000\ue001]?[{_WIDE}])")
_SPACE_AFTER_WIDE = re.compile(rf"(?<=[{_WIDE}])([\ue000\ue001]?) +")


def _spaced(s: str) -> str:
    return _CJK.sub(r" \1 ", s)


def unspaced(s: str) -> str:
    """A snippet of indexed text without the spaces indexing put around CJK characters."""
    return _SPACE_AFTER_WIDE.sub(r"\1", _SPACE_BEFORE_WIDE.sub("", s))


def fts_query(q: str) -> str | None:
    """A user's search words as an FTS5 query: every word (or CJK run) a quoted phrase, all of them required.
    Quotes are doubled, so no FTS operator in the input has any effect."""
    phrases = [" ".join(_spaced(w).split()) for w in q.split()]
    phrases = ['"' + p.replace('"', '""') + '"' for p in phrases if p and re.search(r"\w", p)]
    return " ".join(phrases) or None


@dataclass(frozen=True)
class CallFilter:
    q: str | None = None
    agent: str | None = None
    queue: str | None = None
    language: str | None = None
    direction: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    auto_fail: bool | None = None
    has_alert: bool | None = None
    sort: str = "started"
    descending: bool = True
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class CallItem:
    id: str
    agent: str | None
    queue: str | None
    direction: str
    started_at: datetime | None
    language: str | None
    duration: float | None
    state: str
    total: float | None
    auto_failed: bool | None
    alerts: int
    snippet: str | None = None  # redacted, with MARK_START/MARK_END around the matches


@dataclass(frozen=True)
class CallPage:
    items: list[CallItem]
    total: int
    page: int
    per_page: int


class TranscriptIndex:
    def __init__(self, engine):
        self.engine = engine
        self.enabled = engine.dialect.name == "sqlite"
        Base.metadata.create_all(engine, tables=[IndexedRow.__table__])
        if self.enabled:
            with engine.begin() as c:
                c.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5(call_id UNINDEXED, "
                               "tenant UNINDEXED, body, tokenize='unicode61 remove_diacritics 2')"))
        with engine.begin() as c:  # the calls list's default order and its agent filter
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_calls_tenant_started ON calls (tenant, started_at)"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_calls_tenant_agent ON calls (tenant, agent)"))

    def sync(self, tenant: str, source) -> int:
        """Index the redacted transcripts of the tenant's done calls that changed; returns how many."""
        if not self.enabled:
            return 0
        with Session(self.engine) as s:
            rows = s.execute(select(CallRow.id, CallRow.etag, CallRow.processed_at, ScorecardRow.scored_at,
                                    IndexedRow.version)
                             .outerjoin(ScorecardRow, ScorecardRow.call_id == CallRow.id)
                             .outerjoin(IndexedRow, IndexedRow.call_id == CallRow.id)
                             .where(CallRow.tenant == tenant, CallRow.state == "done")).all()
            stale = [(cid, f"{etag}|{done}|{scored}") for cid, etag, done, scored, have in rows
                     if have != f"{etag}|{done}|{scored}"]
            for call_id, version in stale:
                raw = source.read(redacted_transcript_key(call_id))
                body = ""
                if raw is not None:
                    segments = json.loads(raw.decode("utf-8")).get("segments", ())
                    body = _spaced("\n".join(seg.get("text", "") for seg in segments))
                s.execute(text("DELETE FROM transcript_fts WHERE call_id = :c"), {"c": call_id})
                s.execute(text("INSERT INTO transcript_fts (call_id, tenant, body) VALUES (:c, :t, :b)"),
                          {"c": call_id, "t": tenant, "b": body})
                s.merge(IndexedRow(call_id=call_id, tenant=tenant, version=version))
            s.commit()
        return len(stale)


def _alert_count():
    return select(func.count()).select_from(AlertRow).where(AlertRow.call_id == CallRow.id).scalar_subquery()


def list_calls(engine, tenant: str, f: CallFilter, *, only_agent: str | None = None) -> CallPage:
    """One page of the tenant's calls; `only_agent`: restrict to calls whose agent field is that id."""
    conds = [CallRow.tenant == tenant]
    if only_agent is not None:
        conds.append(CallRow.agent == only_agent)
    for col, value in ((CallRow.agent, f.agent), (CallRow.queue, f.queue), (CallRow.language, f.language),
                       (CallRow.direction, f.direction)):
        if value:
            conds.append(col == value)
    if f.date_from:
        conds.append(CallRow.started_at >= datetime.combine(f.date_from, datetime.min.time()))
    if f.date_to:
        conds.append(CallRow.started_at < datetime.combine(f.date_to + timedelta(days=1), datetime.min.time()))
    if f.auto_fail is not None:
        conds.append(ScorecardRow.auto_failed == f.auto_fail)
    has = exists().where(AlertRow.call_id == CallRow.id)
    if f.has_alert is not None:
        conds.append(has if f.has_alert else ~has)
    match = fts_query(f.q) if f.q else None
    if f.q and match is None:
        return CallPage([], 0, f.page, f.per_page)
    if match and engine.dialect.name != "sqlite":
        raise ValueError("full-text search needs SQLite FTS5 for now (Postgres full text is not built yet)")
    hits = None
    if match:
        hits = text("SELECT call_id FROM transcript_fts WHERE transcript_fts MATCH :m AND tenant = :t") \
            .bindparams(m=match, t=tenant).columns(call_id=String).subquery("hits")
    cols = [CallRow.id, CallRow.agent, CallRow.queue, CallRow.direction, CallRow.started_at, CallRow.language,
            CallRow.duration, CallRow.state, ScorecardRow.total, ScorecardRow.auto_failed, _alert_count()]

    def scoped(q):
        q = q.outerjoin(ScorecardRow, ScorecardRow.call_id == CallRow.id)
        if hits is not None:
            q = q.join(hits, hits.c.call_id == CallRow.id)
        return q.where(and_(*conds))

    order = SORTS.get(f.sort, CallRow.started_at)
    page, per_page = max(f.page, 1), min(max(f.per_page, 1), 200)
    with Session(engine) as s:
        total = s.scalar(scoped(select(func.count()).select_from(CallRow)))
        rows = s.execute(scoped(select(*cols)).order_by(order.desc() if f.descending else order.asc(), CallRow.id)
                         .limit(per_page).offset((page - 1) * per_page)).all()
        snippets = _snippets(s, match, tenant, [r[0] for r in rows]) if match else {}
    items = [CallItem(*r, snippet=snippets.get(r[0])) for r in rows]
    return CallPage(items, total or 0, page, per_page)


def _snippets(s: Session, match: str, tenant: str, call_ids: list[str]) -> dict[str, str]:
    """The matching excerpt of each call on the page (computed for the page only, not for every hit)."""
    if not call_ids:
        return {}
    marks = ", ".join(f":c{i}" for i in range(len(call_ids)))
    q = text(f"SELECT call_id, snippet(transcript_fts, 2, :a, :b, '…', 12) FROM transcript_fts WHERE "
             f"transcript_fts MATCH :m AND tenant = :t AND call_id IN ({marks})")
    params = {"a": MARK_START, "b": MARK_END, "m": match, "t": tenant, **{f"c{i}": c for i, c in enumerate(call_ids)}}
    return {cid: unspaced(snip) for cid, snip in s.execute(q, params)}


def facets(engine, tenant: str, only_agent: str | None = None) -> dict:
    """Distinct agents, queues, languages and directions of the tenant's calls (for the filter menus)."""
    out = {}
    with Session(engine) as s:
        for name, col in (("agents", CallRow.agent), ("queues", CallRow.queue), ("languages", CallRow.language),
                          ("directions", CallRow.direction)):
            q = select(col).distinct().where(CallRow.tenant == tenant, col.is_not(None)).order_by(col)
            if only_agent is not None:
                q = q.where(CallRow.agent == only_agent)
            out[name] = [v for v in s.scalars(q)]
    return out


def get_call(engine, tenant: str, call_id: str) -> CallRow | None:
    """The call row if it belongs to the tenant (detached: read its columns only)."""
    with Session(engine) as s:
        row = s.scalar(select(CallRow).where(CallRow.tenant == tenant, CallRow.id == call_id))
        if row is not None:
            s.expunge(row)
        return row


def call_scorecard(engine, tenant: str, call_id: str) -> dict | None:
    with Session(engine) as s:
        body = s.scalar(select(ScorecardRow.body).join(CallRow, CallRow.id == ScorecardRow.call_id)
                        .where(CallRow.tenant == tenant, CallRow.id == call_id))
        return json.loads(body) if body else None


def call_overrides(engine, tenant: str, call_id: str) -> dict[str, dict]:
    """question id -> the latest reviewer answer (answer, reviewer, comment, at, count of earlier ones)."""
    out: dict[str, dict] = {}
    with Session(engine) as s:
        q = select(OverrideRow).join(CallRow, CallRow.id == OverrideRow.call_id) \
            .where(CallRow.tenant == tenant, OverrideRow.call_id == call_id).order_by(OverrideRow.id)
        for o in s.scalars(q):
            earlier = out.get(o.question_id, {}).get("revisions", 0)
            out[o.question_id] = {"answer": o.human_answer, "reviewer": o.reviewer, "comment": o.comment,
                                  "at": o.at, "revisions": earlier + 1}
    return out


@dataclass(frozen=True)
class AlertItem:
    id: int
    call_id: str
    agent: str | None
    queue: str | None
    category: str
    severity: str
    title: str
    status: str
    created_at: datetime
    updated_at: datetime
    body: dict  # stored alert dict, evidence redacted


def list_alerts(engine, tenant: str, *, statuses: tuple[str, ...] | None = ("new",), category: str | None = None,
                severity: str | None = None, call_id: str | None = None, limit: int = 500) -> list[AlertItem]:
    q = select(AlertRow, CallRow.agent, CallRow.queue).join(CallRow, CallRow.id == AlertRow.call_id) \
        .where(CallRow.tenant == tenant).order_by(AlertRow.id.desc()).limit(limit)
    if statuses:
        q = q.where(AlertRow.status.in_(statuses))
    for col, value in ((AlertRow.category, category), (AlertRow.severity, severity), (AlertRow.call_id, call_id)):
        if value:
            q = q.where(col == value)
    with Session(engine) as s:
        return [AlertItem(a.id, a.call_id, agent, queue, a.category, a.severity, a.title, a.status, a.created_at,
                          a.updated_at, json.loads(a.body)) for a, agent, queue in s.execute(q)]


def alert_in_tenant(engine, tenant: str, alert_id: int) -> AlertItem | None:
    with Session(engine) as s:
        r = s.execute(select(AlertRow, CallRow.agent, CallRow.queue).join(CallRow, CallRow.id == AlertRow.call_id)
                      .where(CallRow.tenant == tenant, AlertRow.id == alert_id)).first()
        if r is None:
            return None
        a, agent, queue = r
        return AlertItem(a.id, a.call_id, agent, queue, a.category, a.severity, a.title, a.status, a.created_at,
                         a.updated_at, json.loads(a.body))
