"""The workspace's read queries on the results database, every one scoped by tenant: calls with filters,
sorting, paging and full-text search over the REDACTED transcripts (SQLite FTS5, or Postgres full text with
the 'simple' configuration and a GIN index), a call's scorecard and overrides.

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

from sqlalchemy import Integer, String, and_, exists, func, inspect, or_, select, text
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from core.keys import redacted_transcript_key
from infra.review import ReviewRow
from infra.review import ensure_tables as ensure_review_tables
from infra.store import AlertRow, AnswerRow, Base, CallRow, OverrideRow, ScorecardRow

MARK_START, MARK_END = "\ue000", "\ue001"  # snippet highlight markers (private use: never in a transcript)
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af])")
SORTS = {"started": CallRow.started_at, "total": ScorecardRow.total, "id": CallRow.id,
         "duration": CallRow.duration}


class IndexedRow(Base):
    """Which version of a call's redacted transcript the full-text index holds, and (SQLite) the rowid of its
    `transcript_fts` row: a search probes the index by rowid instead of reading every hit's call id."""
    __tablename__ = "transcript_index"
    call_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(256))
    fts_rowid: Mapped[int | None] = mapped_column(Integer, nullable=True)


SMALL_HITS = 2000  # a search with at most this many hits sorts them; with more, walks calls in order and probes


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
    return _fts(search_phrases(q)) or None


def _fts(phrases: list[str]) -> str:
    return " ".join('"' + p.replace('"', '""') + '"' for p in phrases)


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
    form: str | None = None
    failed_question: str | None = None  # the reviewed answer where a reviewer gave one, else the machine's
    machine_answers: bool = False  # failed_question by the machine's answer only (overrides ignored)
    score_min: float | None = None
    score_max: float | None = None
    reviewed: bool | None = None  # a reviewer overrode or confirmed an answer
    alert_category: str | None = None
    alert_status: str | None = None
    alert_severity: str | None = None  # with category and status: one alert of the call matches all three
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
    utc_offset_min: int | None = None  # the call's own clock, from its sidecar
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
        self.dialect = engine.dialect.name
        self.enabled = self.dialect in ("sqlite", "postgresql")
        Base.metadata.create_all(engine, tables=[IndexedRow.__table__])
        with engine.begin() as c:
            if self.dialect == "sqlite":
                c.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5(call_id UNINDEXED, "
                               "tenant UNINDEXED, body, tokenize='unicode61 remove_diacritics 2')"))
            elif self.dialect == "postgresql":  # 'simple': no stemming, the same in every language
                c.execute(text("CREATE TABLE IF NOT EXISTS transcript_text (call_id VARCHAR(512) PRIMARY KEY, "
                               "tenant VARCHAR(64) NOT NULL, body TEXT NOT NULL, tsv tsvector GENERATED ALWAYS "
                               "AS (to_tsvector('simple', body)) STORED)"))
                c.execute(text("CREATE INDEX IF NOT EXISTS ix_transcript_text_tsv ON transcript_text USING GIN (tsv)"))
        self._map_rowids()
        with engine.begin() as c:  # the calls list's orders and its agent filter; the index sync's version check
            c.execute(text("DROP INDEX IF EXISTS ix_calls_tenant_started"))  # superseded by the one with the id
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_calls_tenant_started_id ON calls (tenant, started_at, id)"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_calls_tenant_agent ON calls (tenant, agent)"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_scorecards_total ON scorecards (total, call_id)"))
            # covering: reading scored_at would otherwise walk every scorecard body's overflow pages
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_scorecards_scored ON scorecards (call_id, scored_at)"))

    def _map_rowids(self) -> None:
        """An older database: add `transcript_index.fts_rowid`, filled from `transcript_fts` in one pass."""
        with self.engine.begin() as c:
            if "fts_rowid" not in {col["name"] for col in inspect(c).get_columns("transcript_index")}:
                c.execute(text("ALTER TABLE transcript_index ADD COLUMN fts_rowid INTEGER"))
            c.execute(text("CREATE INDEX IF NOT EXISTS ix_transcript_index_fts ON transcript_index "
                           "(fts_rowid, tenant)"))
            missing = self.dialect == "sqlite" and c.execute(text(
                "SELECT 1 FROM transcript_index WHERE fts_rowid IS NULL LIMIT 1")).first()
            pairs = c.execute(text("SELECT rowid AS r, call_id AS c FROM transcript_fts")).mappings().all() \
                if missing else []
            if pairs:
                c.execute(text("UPDATE transcript_index SET fts_rowid = :r WHERE call_id = :c"), list(map(dict, pairs)))

    def sync(self, tenant: str, source) -> int:
        """Index the redacted transcripts of the tenant's done calls that changed; returns how many."""
        if not self.enabled:
            return 0
        with Session(self.engine) as s:
            rows = s.execute(select(CallRow.id, CallRow.etag, CallRow.processed_at, ScorecardRow.scored_at,
                                    IndexedRow.version, IndexedRow.tenant)
                             .outerjoin(ScorecardRow, ScorecardRow.call_id == CallRow.id)
                             .outerjoin(IndexedRow, IndexedRow.call_id == CallRow.id)
                             .where(CallRow.tenant == tenant, CallRow.state == "done")).all()
            stale = [(cid, f"{etag}|{done}|{scored}") for cid, etag, done, scored, have, of in rows
                     if have != f"{etag}|{done}|{scored}" or of != tenant]  # a call moved: its tenant too
            for call_id, version in stale:
                raw = source.read(redacted_transcript_key(call_id))
                body = ""
                if raw is not None:
                    segments = json.loads(raw.decode("utf-8")).get("segments", ())
                    body = _spaced("\n".join(seg.get("text", "") for seg in segments))
                table = "transcript_fts" if self.dialect == "sqlite" else "transcript_text"
                s.execute(text(f"DELETE FROM {table} WHERE call_id = :c"), {"c": call_id})
                added = s.execute(text(f"INSERT INTO {table} (call_id, tenant, body) VALUES (:c, :t, :b)"),
                                  {"c": call_id, "t": tenant, "b": body})
                s.merge(IndexedRow(call_id=call_id, tenant=tenant, version=version,
                                   fts_rowid=added.lastrowid if self.dialect == "sqlite" else None))
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
    alert_conds = [col == v for col, v in ((AlertRow.category, f.alert_category), (AlertRow.status, f.alert_status),
                                           (AlertRow.severity, f.alert_severity)) if v]
    if alert_conds:
        conds.append(exists().where(AlertRow.call_id == CallRow.id, *alert_conds))
    if f.form:
        conds.append(ScorecardRow.form_id == f.form)
    if f.score_min is not None:
        conds.append(ScorecardRow.total >= f.score_min)
    if f.score_max is not None:
        conds.append(ScorecardRow.total <= f.score_max)
    if f.failed_question:
        conds.append(_machine_fails(f.failed_question) if f.machine_answers else _fails(f.failed_question))
    if f.reviewed is not None:
        ensure_review_tables(engine)
        conds.append(_reviewed() if f.reviewed else ~_reviewed())
    phrases = search_phrases(f.q) if f.q else []
    if f.q and not phrases:
        return CallPage([], 0, f.page, f.per_page)
    hits = _hits(engine.dialect.name, tenant, phrases) if phrases else None
    fts = hits is not None and engine.dialect.name == "sqlite"  # hits: transcript_fts rowids, not call ids
    order = SORTS.get(f.sort, CallRow.started_at)
    # the scorecard is joined only where a filter or the order needs it: counting 100,000 calls is 10x faster
    card = any(v is not None for v in (f.auto_fail, f.form, f.score_min, f.score_max))

    def scoped(q, *, card_join: bool = card, join_hits: bool = True, loose_tenant: bool = False):
        """`loose_tenant`: the tenant check cannot drive the query (SQLite then walks the order's index); so too
        where SQLite's hits are joined, else it could probe the full-text index once per call of the tenant."""
        loose_tenant = loose_tenant or (fts and join_hits)
        if card_join:
            q = q.outerjoin(ScorecardRow, ScorecardRow.call_id == CallRow.id)
        if fts and join_hits:
            q = q.join(IndexedRow, IndexedRow.call_id == CallRow.id).join(hits, hits.c.rowid == IndexedRow.fts_rowid)
        elif hits is not None and join_hits:
            q = q.join(hits, hits.c.call_id == CallRow.id)
        return q.where((CallRow.tenant.concat("") == tenant) if loose_tenant else conds[0], *conds[1:])

    direction = (lambda c: c.desc()) if f.descending else (lambda c: c.asc())
    page, per_page = max(f.page, 1), min(max(f.per_page, 1), 200)
    offset = (page - 1) * per_page
    cols = [CallRow.id, CallRow.agent, CallRow.queue, CallRow.direction, CallRow.started_at, CallRow.language,
            CallRow.duration, CallRow.state, ScorecardRow.total, ScorecardRow.auto_failed, _alert_count(),
            CallRow.utc_offset_min]
    with Session(engine) as s:
        if fts and len(conds) == 1 and not card:  # a search alone: its hits of the tenant (driven by the hits)
            total = s.scalar(select(func.count()).select_from(hits)
                             .join(IndexedRow, IndexedRow.fts_rowid == hits.c.rowid)
                             .where(IndexedRow.tenant.concat("") == tenant)) or 0
        else:
            total = s.scalar(scoped(select(func.count()).select_from(CallRow))) or 0
        if order is ScorecardRow.total:
            ids = _by_score(s, scoped, direction, card, offset, per_page,
                            drive=not (only_agent or f.agent or f.date_from or f.date_to))
        else:
            q = select(CallRow.id)
            if fts and total > SMALL_HITS:  # many hits: walk the calls in order, probe each, stop when full
                q = scoped(q.where(exists().where(IndexedRow.call_id == CallRow.id,
                                                  IndexedRow.fts_rowid.in_(select(hits.c.rowid)))), join_hits=False)
            else:  # the default order: an index walk on (tenant, started_at, id)
                q = scoped(q)
            ids = list(s.scalars(q.order_by(direction(order), direction(CallRow.id)).limit(per_page).offset(offset)))
        rows = {r[0]: r for r in s.execute(select(*cols).outerjoin(ScorecardRow, ScorecardRow.call_id == CallRow.id)
                                           .where(CallRow.id.in_(ids)))} if ids else {}
        snippets = _snippets(s, phrases, tenant, ids) if phrases else {}
    items = [CallItem(*rows[i], snippet=snippets.get(i)) for i in ids]
    return CallPage(items, total, page, per_page)


def _by_score(s: Session, scoped, direction, card: bool, offset: int, limit: int, *, drive: bool) -> list[str]:
    """A page of calls by score, in either direction, calls without a score last: first the scored ones along
    the `scorecards (total, call_id)` index (`drive`: the tenant check is kept from driving the query, SQLite
    then stops after the page), then the unscored ones by id (none where a scorecard filter is set)."""
    def scored(q):
        return scoped(q.select_from(ScorecardRow).join(CallRow, CallRow.id == ScorecardRow.call_id), card_join=False,
                      loose_tenant=drive).where(ScorecardRow.total.is_not(None))

    page = scored(select(CallRow.id)).order_by(direction(ScorecardRow.total), direction(ScorecardRow.call_id))
    ids = list(s.scalars(page.limit(limit).offset(offset)))
    if len(ids) == limit or card:
        return ids
    n_scored = offset + len(ids) if ids or not offset else s.scalar(scored(select(func.count())))
    unscored = scoped(select(CallRow.id), card_join=False).where(  # the set from the (total, call_id) index
        CallRow.id.not_in(select(ScorecardRow.call_id).where(ScorecardRow.total.is_not(None))))
    return ids + list(s.scalars(unscored.order_by(direction(CallRow.id)).limit(limit - len(ids))
                                .offset(max(0, offset - n_scored))))


def _machine_fails(question_id: str):
    """The machine's answer to the question is fail (whatever a reviewer said since)."""
    return exists().where(AnswerRow.call_id == CallRow.id, AnswerRow.question_id == question_id,
                          AnswerRow.answer == "fail")


def _fails(question_id: str):
    """The call's answer to the question is fail: the latest reviewer answer where there is one, else the
    machine's."""
    later = aliased(OverrideRow)
    human_fail = exists().where(OverrideRow.call_id == CallRow.id, OverrideRow.question_id == question_id,
                                OverrideRow.human_answer == "fail",
                                ~exists().where(later.call_id == CallRow.id, later.question_id == question_id,
                                                later.id > OverrideRow.id))
    machine_fail = _machine_fails(question_id)
    overridden = exists().where(OverrideRow.call_id == CallRow.id, OverrideRow.question_id == question_id)
    return or_(human_fail, and_(machine_fail, ~overridden))


def _reviewed():
    """A reviewer overrode an answer or confirmed the call (Mark reviewed, a settled dispute)."""
    return or_(exists().where(OverrideRow.call_id == CallRow.id),
               exists().where(ReviewRow.call_id == CallRow.id, ReviewRow.tenant == CallRow.tenant))


def search_phrases(q: str) -> list[str]:
    """A user's search words as phrases (CJK characters spaced as indexed), all of them required."""
    phrases = [" ".join(_spaced(w).split()) for w in q.split()]
    return [p for p in phrases if p and re.search(r"\w", p)]


def _pg_query(phrases: list[str]) -> tuple[str, dict]:
    """A tsquery of `phrases` (each a phrase of its words, all required), as SQL with bound parameters."""
    parts = " && ".join(f"phraseto_tsquery('simple', :p{i})" for i in range(len(phrases)))
    return f"({parts})", {f"p{i}": p for i, p in enumerate(phrases)}


def _hits(dialect: str, tenant: str, phrases: list[str]):
    """The hits as a subquery: SQLite, the `transcript_fts` rowids (the tenant is checked on the call: reading
    each hit's call id and tenant from the index would cost more than the rest of a search); Postgres, call ids."""
    if dialect == "sqlite":
        return text("SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH :m") \
            .bindparams(m=_fts(phrases)).columns(rowid=Integer).subquery("hits")
    if dialect == "postgresql":
        tsq, params = _pg_query(phrases)
        return text(f"SELECT call_id FROM transcript_text WHERE tenant = :t AND tsv @@ {tsq}") \
            .bindparams(t=tenant, **params).columns(call_id=String).subquery("hits")
    raise ValueError(f"full-text search needs SQLite FTS5 or Postgres, not {dialect}")


def _snippets(s: Session, phrases: list[str], tenant: str, call_ids: list[str]) -> dict[str, str]:
    """The matching excerpt of each call on the page (computed for the page only, not for every hit)."""
    if not call_ids:
        return {}
    if s.bind.dialect.name != "postgresql":  # by rowid: a call id or tenant test would read every hit's row
        rowids = dict(s.execute(select(IndexedRow.fts_rowid, IndexedRow.call_id).where(  # the ids are the tenant's
            IndexedRow.call_id.in_(call_ids), IndexedRow.fts_rowid.is_not(None))).all())
        q = text(f"SELECT rowid, snippet(transcript_fts, 2, :a, :b, '…', 12) FROM transcript_fts WHERE "
                 f"transcript_fts MATCH :m AND rowid IN ({', '.join(str(int(r)) for r in rowids)})")
        found = s.execute(q, {"a": MARK_START, "b": MARK_END, "m": _fts(phrases)}) if rowids else ()
        return {rowids[r]: unspaced(snip) for r, snip in found}
    tsq, params = _pg_query(phrases)
    marks = ", ".join(f":c{i}" for i in range(len(call_ids)))
    q = text(f"SELECT call_id, ts_headline('simple', body, {tsq}, :opts) FROM transcript_text "
             f"WHERE tenant = :t AND call_id IN ({marks})")
    params.update({f"c{i}": c for i, c in enumerate(call_ids)}, t=tenant, opts=f'StartSel="{MARK_START}", '
                  f'StopSel="{MARK_END}", MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter="…"')
    return {cid: unspaced(snip) for cid, snip in s.execute(q, params)}


def facets(engine, tenant: str, only_agent: str | None = None) -> dict:
    """Values for the filter menus: distinct agents, queues, languages, directions, forms, alert categories of
    the tenant's calls, and each form's questions (id, text) from its latest scorecard."""
    out = {}
    with Session(engine) as s:
        for name, col in (("agents", CallRow.agent), ("queues", CallRow.queue), ("languages", CallRow.language),
                          ("directions", CallRow.direction)):
            q = select(col).distinct().where(CallRow.tenant == tenant, col.is_not(None)).order_by(col)
            if only_agent is not None:
                q = q.where(CallRow.agent == only_agent)
            out[name] = [v for v in s.scalars(q)]
        scoped = (CallRow.tenant == tenant, *([CallRow.agent == only_agent] if only_agent is not None else []))
        latest = (select(ScorecardRow.form_id, func.max(ScorecardRow.call_id).label("call_id"))
                  .join(CallRow, CallRow.id == ScorecardRow.call_id).where(*scoped)
                  .group_by(ScorecardRow.form_id).order_by(ScorecardRow.form_id))
        out["forms"], out["questions"] = [], []
        for form_id, call_id in s.execute(latest).all():
            out["forms"].append(form_id)
            body = json.loads(s.scalar(select(ScorecardRow.body).where(ScorecardRow.call_id == call_id)))
            out["questions"] += [(a["question_id"], a.get("text") or a["question_id"]) for a in body["answers"]
                                 if a["question_id"] not in {q for q, _ in out["questions"]}]
        out["alert_categories"] = list(s.scalars(
            select(AlertRow.category).distinct().join(CallRow, CallRow.id == AlertRow.call_id).where(*scoped)
            .order_by(AlertRow.category)))
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
