"""Report data: the results DB and the redacted transcripts turned into typed, PII-free rows.

Transcript text comes only from `redacted/transcripts/<id>.json`. Scorecards and alerts are stored through
the redaction boundary (pipeline.analysis) with their evidence masked (`"redacted": true`); only scorecards
stored before it existed are redacted here (`redact_text`) before anything else sees them. The scorecard's
per-utterance sentiment is read for its times and scores only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from datetime import date, datetime, time, timezone
from typing import Any

from pydantic import TypeAdapter

from compliance.redact import redact_text
from core.keys import redacted_transcript_key
from core.errors import CallQAError
from core.models import Transcript
from infra.storage import RecordingSource
from infra.store import CallDetails, ResultsStore

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class ReportError(CallQAError):
    """Reports cannot be built: the message says what is missing or inconsistent."""

    code = "E160"


@dataclass(frozen=True)
class CallInfo:
    call_id: str
    agent: str  # "(no agent)" when the metadata named none
    queue: str  # "(no queue)" likewise
    direction: str
    language: str
    duration: float | None
    when: datetime  # naive UTC: when the call started, or when it was processed if that is unknown
    when_is_start: bool

    @property
    def date_label(self) -> str:
        return self.when.strftime("%Y-%m-%d %H:%M") + ("" if self.when_is_start else " (processed)")

    @property
    def page(self) -> str:
        """The page's path below the reports folder (a file name: the call id as it is)."""
        return f"calls/{self.call_id}.html"

    @property
    def href(self) -> str:
        """The page as a link: a call id with '#', '?' or '%' (they come from object keys) stays one path."""
        return quote(self.page)


@dataclass(frozen=True)
class EvidenceRef:
    quote: str  # redacted
    detail: str  # what the rule found, redacted too (a regex rule reports the text it matched)
    role: str
    start: float | None
    end: float | None
    anchor: str | None  # id of the transcript line holding it, when there is a redacted transcript


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    section_id: str
    text: str
    answer: str  # pass / fail / na
    points: float
    effective_weight: float
    auto_fail: bool
    critical: bool
    rule_id: str
    evidence: tuple[EvidenceRef, ...]
    explanation: str = ""  # fail / N/A: what was looked for and where (form text, no transcript)


@dataclass(frozen=True)
class SectionResult:
    section_id: str
    title: str
    score: float | None
    points: float
    effective_weight: float


@dataclass(frozen=True)
class TranscriptLine:
    anchor: str  # element id, "t=<start>"
    start: float
    end: float
    speaker: str
    role: str
    parts: tuple[tuple[str, bool], ...]  # (text, highlighted) pieces of the redacted text
    is_evidence: bool


@dataclass(frozen=True)
class SentimentPoint:
    start: float
    role: str
    score: float


@dataclass(frozen=True)
class Scored:
    form_id: str
    form_version: str
    total: float | None
    auto_failed: bool
    auto_fail_reasons: tuple[str, ...]
    critical_failures: tuple[str, ...]
    sections: tuple[SectionResult, ...]
    questions: tuple[QuestionResult, ...]
    sentiment: tuple[SentimentPoint, ...]
    sentiment_outcome: str  # improved / worsened / stable / unknown
    customer_delta: float | None
    kpis: tuple[tuple[str, str], ...]  # (label, formatted value)


@dataclass(frozen=True)
class CallReport:
    info: CallInfo
    scored: Scored | None  # None: done but no form applied
    transcript: tuple[TranscriptLine, ...] | None  # None: no redacted transcript stored


@dataclass(frozen=True)
class AlertItem:
    alert_id: int
    call: CallInfo
    category: str
    severity: str
    rule_id: str
    title: str
    status: str
    created_at: datetime
    evidence: tuple[EvidenceRef, ...]

    @property
    def link(self) -> str:
        first = next((e.anchor for e in self.evidence if e.anchor), None)
        return self.call.href + (f"#{first}" if first else "")

    @property
    def sort_key(self) -> tuple:
        return SEVERITY_RANK.get(self.severity, 9), -self.call.when.timestamp(), self.alert_id


@dataclass(frozen=True)
class ReportData:
    calls: tuple[CallReport, ...]
    alerts: tuple[AlertItem, ...]  # by severity, then newest call first
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    fresh: frozenset[str] | None = None  # calls whose results changed since the last build; None: all
    cache: dict[str, tuple[str, str]] | None = None  # (digest, summary) to store for the fresh calls


def anchor_for(seconds: float) -> str:
    return f"t={seconds:.2f}"


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


def gather(store: ResultsStore, source: RecordingSource, *, since: date | datetime | None = None,
           until: date | datetime | None = None, now: datetime | None = None, incremental: bool = False,
           page_missing=None) -> ReportData:
    """Every processed call whose date falls in [since, until] (a bare `until` date includes that day).
    `incremental`: a call whose results are unchanged since the last build (same digest in the results DB's
    report cache, and `page_missing(page)` false) is taken from the cache, its transcript not read; only the
    others are in `fresh`."""
    lo, hi = _naive_utc(since), _naive_utc(until, end_of_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ReportError(f"since ({lo:%Y-%m-%d %H:%M}) is after until ({hi:%Y-%m-%d %H:%M})")
    cards = {c.call_id: c for c in store.scorecards()}
    raw_alerts: dict[str, list] = {}
    for a in store.alert_records():
        raw_alerts.setdefault(a.call_id, []).append(a)
    cached = store.report_cache() if incremental else {}
    calls, alerts, fresh, new_cache = [], [], set(), {}
    for details in store.call_details():
        if details.state != "done":
            continue
        info = _call_info(details)
        if (lo is not None and info.when < lo) or (hi is not None and info.when > hi):
            continue
        card = cards.get(info.call_id)
        digest = _digest(details, card, raw_alerts.get(info.call_id, ()))
        hit = cached.get(info.call_id)
        if hit is not None and hit[0] == digest and not (page_missing and page_missing(info.page)):
            scored, call_alerts = _from_summary(hit[1], info)
            calls.append(CallReport(info, scored, None))
            alerts += call_alerts
            continue
        fresh.add(info.call_id)
        lang = info.language or "en"  # redact_text masks with the language profile's PII rules, else English
        raw = source.read(redacted_transcript_key(info.call_id))
        segments = Transcript.from_json(raw.decode("utf-8")).segments if raw is not None else ()
        anchors = _anchors(segments)
        scored = _scored(card.body, lang, segments, anchors) if card is not None else None
        call_alerts = [AlertItem(a.id, info, a.body["category"], a.body["severity"], a.body["rule_id"],
                                 a.body["title"], a.status, a.created_at,
                                 _evidence(a.body.get("evidence") or [], lang, segments, anchors, quote_redacted=True))
                       for a in raw_alerts.get(info.call_id, ())]
        alerts += call_alerts
        evidence = [e for q in (scored.questions if scored else ()) for e in q.evidence]
        evidence += [e for a in call_alerts for e in a.evidence]
        transcript = _transcript_lines(segments, anchors, evidence) if raw is not None else None
        calls.append(CallReport(info, scored, transcript))
        new_cache[info.call_id] = (digest, _to_summary(scored, call_alerts))
    calls.sort(key=lambda c: (c.info.when, c.info.call_id))
    return ReportData(tuple(calls), tuple(sorted(alerts, key=lambda a: a.sort_key)), lo, hi,
                      now or datetime.now(timezone.utc).replace(tzinfo=None),
                      frozenset(fresh) if incremental else None, new_cache)


# --- incremental builds: what a call's report is derived from, and what the last build derived ----------
_TEMPLATES_DIGEST: str | None = None


def _templates_digest() -> str:
    """Report code and templates: a new version re-renders every call."""
    global _TEMPLATES_DIGEST
    if _TEMPLATES_DIGEST is None:
        h = hashlib.sha256()
        root = Path(__file__).parent
        for f in sorted([*root.glob("*.py"), *(root / "templates").glob("*")]):
            h.update(f.name.encode() + f.read_bytes())
        _TEMPLATES_DIGEST = h.hexdigest()
    return _TEMPLATES_DIGEST


def _digest(details, card, call_alerts) -> str:
    h = hashlib.sha256(_templates_digest().encode())
    h.update(repr(dataclasses.astuple(details)).encode())
    h.update(json.dumps(card.body if card is not None else None, sort_keys=True, default=str).encode())
    for a in call_alerts:
        h.update(json.dumps([a.id, a.status, str(a.created_at), a.body], sort_keys=True, default=str).encode())
    return h.hexdigest()


_SCORED = TypeAdapter(Scored | None)
_ALERTS = TypeAdapter(list[dict])


def _to_summary(scored: Scored | None, call_alerts: list[AlertItem]) -> str:
    """Derived (redacted) data of a call without its transcript: what aggregate pages need."""
    items = [{k: v for k, v in dataclasses.asdict(a).items() if k != "call"} for a in call_alerts]
    return json.dumps({"scored": _SCORED.dump_python(scored, mode="json"),
                       "alerts": _ALERTS.dump_python(items, mode="json")}, ensure_ascii=False)


_EVIDENCE = TypeAdapter(tuple[EvidenceRef, ...])


def _from_summary(summary: str, info: CallInfo) -> tuple[Scored | None, list[AlertItem]]:
    d = json.loads(summary)
    alerts = [AlertItem(a["alert_id"], info, a["category"], a["severity"], a["rule_id"], a["title"], a["status"],
                        datetime.fromisoformat(a["created_at"]), _EVIDENCE.validate_python(a["evidence"]))
              for a in d["alerts"]]
    return _SCORED.validate_python(d["scored"]), alerts
