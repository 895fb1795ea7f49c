"""Report data: the results DB and the redacted transcripts turned into typed, PII-free rows (reports/model.py).

Transcript text comes only from `redacted/transcripts/<id>.json`. Scorecards and alerts are stored through
the redaction boundary (pipeline.analysis) with their evidence masked (`"redacted": true`); only scorecards
stored before it existed are redacted here (`redact_text`) before anything else sees them. The scorecard's
per-utterance sentiment is read for its times and scores only. One tenant's calls only.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.redact import redact_text
from core.keys import redacted_transcript_key
from core.models import Transcript
from infra.storage import RecordingSource
from infra.store import DEFAULT_TENANT, AlertRow, CallDetails, CallRow, ReportCacheRow, ResultsStore, ScorecardRow
from reports.cache import digest, from_summary
from reports.model import (SEVERITY_RANK, AlertItem, CallInfo, CallReport, EvidenceRef,  # noqa: F401 (re-exported)
                           QuestionResult, ReportData, ReportError, Scored, SectionResult, SentimentPoint,
                           TranscriptLine, anchor_for)


def _naive_utc(d: date | datetime | None, *, end_of_day: bool = False) -> datetime | None:
    if d is None:
        return None
    if not isinstance(d, datetime):
        return datetime.combine(d, time.max if end_of_day else time.min)
    return d.astimezone(timezone.utc).replace(tzinfo=None) if d.tzinfo else d


def _call_info(c: CallDetails) -> CallInfo:
    when = c.started_at or c.processed_at
    if when is None:
        raise ReportError(f"call {c.id!r} is done but has neither a start time nor a processing time")
    return CallInfo(c.id, c.agent or "(no agent)", c.queue or "(no queue)", c.direction or "unknown",
                    c.language or "unknown", c.duration, when, c.started_at is not None)


def _segment_at(segments, start: float | None):
    if start is None:
        return None
    for s in segments:
        if s.start - 0.05 <= start < max(s.end, s.start + 0.05):
            return s
    return None


def _evidence(raw: list[dict], language: str, segments, anchors: dict[int, str], *,
              quote_redacted: bool) -> tuple[EvidenceRef, ...]:
    out = []
    for e in raw:
        quote = e.get("quote") or ""
        seg = _segment_at(segments, e.get("start"))
        start, end = e.get("start"), e.get("end")
        detail = e.get("detail") or ""
        out.append(EvidenceRef(quote if quote_redacted else redact_text(quote, language),
                               detail if quote_redacted else redact_text(detail, language), e.get("role") or "unknown",
                               None if start is None else round(start, 2), None if end is None else round(end, 2),
                               anchors[id(seg)] if seg is not None else None))
    return tuple(out)


def _fmt_seconds(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} s"


def _kpis(k: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    rows = [("Duration", _fmt_seconds(k.get("duration_seconds"))),
            ("Speech", _fmt_seconds(k.get("speech_seconds")))]
    for role in ("agent", "customer"):
        r = k.get(role) or {}
        ratio = r.get("talk_ratio")
        wpm = r.get("words_per_minute")
        unit = "chars" if k.get("rate_unit") == "characters" else "words"
        rows.append((f"{role.title()} talk", f"{_fmt_seconds(r.get('talk_seconds'))}"
                     f" ({'n/a' if ratio is None else f'{ratio:.0%}'})"))
        rows.append((f"{role.title()} rate", "n/a" if wpm is None else f"{wpm:.0f} {unit}/min"))
        rows.append((f"{role.title()} interruptions", str(r.get("interruptions", 0))))
    rows += [("Silence", _fmt_seconds(k.get("silence_seconds"))),
             ("Longest silence", _fmt_seconds(k.get("longest_silence_seconds"))),
             ("Dead air", _fmt_seconds(k.get("dead_air_seconds"))),
             ("Overtalk", _fmt_seconds(k.get("overtalk_seconds"))),
             ("Hold", f"{_fmt_seconds(k.get('hold_seconds'))} in {len(k.get('holds') or [])} hold(s)"),
             ("First agent response", _fmt_seconds(k.get("time_to_first_agent_response")))]
    return tuple(rows)


def _scored(body: dict, language: str, segments, anchors: dict[int, str]) -> Scored:
    questions = tuple(
        QuestionResult(a["question_id"], a["section_id"], a["text"], a["answer"], a["points"],
                       a["effective_weight"], a["auto_fail"], a["critical"], a["rule_id"],
                       _evidence(a.get("evidence") or [], language, segments, anchors,
                                 quote_redacted=bool(body.get("redacted"))), a.get("explanation") or "")
        for a in body["answers"])
    sections = tuple(SectionResult(s["section_id"], s["title"], s["score"], s["points"], s["effective_weight"])
                     for s in body["sections"])
    sent = body.get("sentiment") or {}
    points = tuple(SentimentPoint(u["start"], u["role"], u["sentiment"]["score"]) for u in sent.get("utterances", ()))
    customer = next((t for t in sent.get("trajectories", ()) if t["role"] == "customer"), None)
    delta = customer["end_mean"] - customer["start_mean"] if customer else None
    return Scored(body["form_id"], body["form_version"], body["total"], body["auto_failed"],
                  tuple(body.get("auto_fail_reasons", ())), tuple(body.get("critical_failures", ())),
                  sections, questions, points, sent.get("outcome", "unknown"), delta,
                  _kpis(body.get("kpis") or {}))


def _highlight(text: str, quotes: list[str]) -> tuple[tuple[str, bool], ...]:
    """Split `text` around the first occurrence of each quote; a quote not found verbatim marks nothing."""
    spans = []
    for q in quotes:
        q = q.strip()
        i = text.find(q) if q else -1
        if i >= 0:
            spans.append((i, i + len(q)))
    spans.sort()
    parts, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        if a > pos:
            parts.append((text[pos:a], False))
        parts.append((text[a:b], True))
        pos = b
    if pos < len(text):
        parts.append((text[pos:], False))
    return tuple(parts)


def _transcript_lines(segments, anchors, evidence: list[EvidenceRef]) -> tuple[TranscriptLine, ...]:
    by_anchor: dict[str, list[str]] = {}
    for e in evidence:
        if e.anchor:
            by_anchor.setdefault(e.anchor, []).append(e.quote)
    return tuple(TranscriptLine(anchors[id(s)], s.start, s.end, s.speaker or "?", s.role or "unknown",
                                _highlight(s.text.strip(), by_anchor.get(anchors[id(s)], [])),
                                anchors[id(s)] in by_anchor)
                 for s in segments)


def _anchors(segments) -> dict[int, str]:
    out, used = {}, set()
    for s in segments:
        a, n = anchor_for(s.start), 2
        while a in used:
            a, n = f"{anchor_for(s.start)}-{n}", n + 1
        used.add(a)
        out[id(s)] = a
    return out


def _stored_results(store: ResultsStore, tenant: str) -> tuple[list[CallDetails], dict[str, tuple],
                                                               dict[str, list[tuple]]]:
    """What a call's digest is made of, without parsing anything: the tenant's processed calls' rows; call id ->
    (scored_at, form id, version, total, auto_failed) of its stored scorecard (rewritten, with a new
    `scored_at`, whenever the call is scored again); call id -> [(alert id, status, created_at, body)]."""
    c = CallRow
    with Session(store.engine) as s:
        details = [CallDetails(*r) for r in s.execute(
            select(c.id, c.state, c.agent, c.queue, c.direction, c.started_at, c.processed_at, c.language,
                   c.duration).where(c.state == "done", c.tenant == tenant).order_by(c.id))]
        cards = {r[0]: tuple(r[1:]) for r in s.execute(
            select(ScorecardRow.call_id, ScorecardRow.scored_at, ScorecardRow.form_id, ScorecardRow.form_version,
                   ScorecardRow.total, ScorecardRow.auto_failed))}
        alerts: dict[str, list[tuple]] = {}
        for row in s.execute(select(AlertRow.call_id, AlertRow.id, AlertRow.status, AlertRow.created_at,
                                    AlertRow.body).order_by(AlertRow.id)):
            alerts.setdefault(row[0], []).append(tuple(row[1:]))
    return details, cards, alerts


def _report_cache(store: ResultsStore) -> dict[str, tuple[str, str]]:
    """call id -> (digest, summary) of the last build (`ResultsStore.report_cache`, read without the ORM)."""
    with Session(store.engine) as s:
        return {r[0]: (r[1], r[2]) for r in s.execute(
            select(ReportCacheRow.call_id, ReportCacheRow.digest, ReportCacheRow.summary))}


def _bodies(store: ResultsStore, call_ids: list[str]) -> dict[str, str]:
    """The stored scorecard bodies (JSON text) of the calls rendered again."""
    out: dict[str, str] = {}
    with Session(store.engine) as s:
        for i in range(0, len(call_ids), 500):
            out.update(s.execute(select(ScorecardRow.call_id, ScorecardRow.body)
                                 .where(ScorecardRow.call_id.in_(call_ids[i:i + 500]))).all())
    return out


def gather(store: ResultsStore, source: RecordingSource, *, since: date | datetime | None = None,
           until: date | datetime | None = None, now: datetime | None = None, incremental: bool = False,
           page_missing=None, reviewed: dict | None = None, tenant: str = DEFAULT_TENANT) -> ReportData:
    """Every processed call of `tenant` whose date falls in [since, until] (a bare `until` date includes that day).
    `incremental`: a call whose results are unchanged since the last build (same digest in the results DB's
    report cache, and `page_missing(page)` false) is taken from the cache (brief scorecard and alerts, its
    rendered parts), its transcript not read and its stored results not parsed; only the others are in
    `fresh`. `reviewed`: reviewers' answers by call (`reports.shared.reviewed_answers`), part of a call's
    digest (its scorecards.csv lines show them)."""
    lo, hi = _naive_utc(since), _naive_utc(until, end_of_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ReportError(f"since ({lo:%Y-%m-%d %H:%M}) is after until ({hi:%Y-%m-%d %H:%M})")
    all_details, cards, raw_alerts = _stored_results(store, tenant)
    cached = _report_cache(store) if incremental else {}
    reviewed = reviewed or {}
    calls, alerts, fresh, digests, todo = [], [], set(), {}, []
    for details in all_details:
        info = _call_info(details)
        if (lo is not None and info.when < lo) or (hi is not None and info.when > hi):
            continue
        call_alerts_raw = raw_alerts.get(info.call_id, ())
        call_digest = digest(details, cards.get(info.call_id), call_alerts_raw, reviewed.get(info.call_id))
        hit = cached.get(info.call_id)
        if hit is not None and hit[0] == call_digest and not (page_missing and page_missing(info.page)):
            try:
                call, briefs = from_summary(hit[1], info)
            except (ValueError, KeyError, TypeError, IndexError):
                pass  # a summary written by another version: render the call again
            else:
                calls.append(call)
                alerts += briefs
                continue
        fresh.add(info.call_id)
        digests[info.call_id] = call_digest
        todo.append(info)
    bodies = _bodies(store, [i.call_id for i in todo if i.call_id in cards])
    for info in todo:
        body = bodies.get(info.call_id)
        lang = info.language or "en"  # redact_text masks with the language profile's PII rules, else English
        raw = source.read(redacted_transcript_key(info.call_id))
        segments = Transcript.from_json(raw.decode("utf-8")).segments if raw is not None else ()
        anchors = _anchors(segments)
        scored = _scored(json.loads(body), lang, segments, anchors) if body is not None else None
        call_alerts = []
        for alert_id, status, created_at, alert_body in raw_alerts.get(info.call_id, ()):
            a = json.loads(alert_body)
            call_alerts.append(AlertItem(alert_id, info, a["category"], a["severity"], a["rule_id"], a["title"],
                                         status, created_at,
                                         _evidence(a.get("evidence") or [], lang, segments, anchors,
                                                   quote_redacted=True)))
        alerts += call_alerts
        evidence = [e for q in (scored.questions if scored else ()) for e in q.evidence]
        evidence += [e for a in call_alerts for e in a.evidence]
        transcript = _transcript_lines(segments, anchors, evidence) if raw is not None else None
        calls.append(CallReport(info, scored, transcript))
    calls.sort(key=lambda c: (c.info.when, c.info.call_id))
    return ReportData(tuple(calls), tuple(sorted(alerts, key=lambda a: a.sort_key)), lo, hi,
                      now or datetime.now(timezone.utc).replace(tzinfo=None),
                      frozenset(fresh) if incremental else None, digests, tenant)

