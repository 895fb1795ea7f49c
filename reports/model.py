"""The export's typed, PII-free rows (what `reports.data.gather` reads and the pages render). Transcript text
and evidence quotes in here are redacted; a scorecard's per-utterance sentiment carries times and scores only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

from core.errors import CallQAError
from infra.store import DEFAULT_TENANT

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

    @functools.cached_property
    def page(self) -> str:
        """The page's path below the reports folder (a file name: the call id as it is)."""
        return f"calls/{self.call_id}.html"

    @functools.cached_property
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


class ScoredBrief(NamedTuple):
    """What the aggregate pages (the dashboard's score histogram, the coaching trend) read of a scorecard kept
    in the report cache; the same names as `Scored`. Every other aggregate comes from the workspace's queries
    (reports/shared.py)."""
    total: float | None
    auto_failed: bool


@dataclass(frozen=True)
class CallParts:
    """A call's share of the aggregate pages and exports, rendered once when its results change and kept
    in the report cache: the aggregate files are these parts joined, in order."""
    index_row: str  # its <tr> in index.html
    alert_rows: tuple[tuple[int, str, str], ...]  # (alert id, <tr> in alerts.html, line of alerts.csv)
    scorecard_json: str | None  # its element of scorecards.json (indented as in the list); None: not scored
    scorecard_csv: str  # its lines of scorecards.csv (reviewed answers included)


@dataclass(frozen=True)
class CallReport:
    info: CallInfo
    scored: Scored | ScoredBrief | None  # None: done but no form applied; brief: from the report cache
    transcript: tuple[TranscriptLine, ...] | None  # None: no redacted transcript stored (or not read)
    parts: CallParts | None = None  # from the report cache; None: rendered in this build


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


class AlertBrief(NamedTuple):
    """An alert of a call taken from the report cache: what the aggregate pages count and sort by (its row
    is in the call's `CallParts`)."""
    alert_id: int
    call: CallInfo
    category: str
    severity: str

    @property
    def sort_key(self) -> tuple:
        return SEVERITY_RANK.get(self.severity, 9), -self.call.when.timestamp(), self.alert_id


@dataclass(frozen=True)
class ReportData:
    calls: tuple[CallReport, ...]
    alerts: tuple[AlertItem | AlertBrief, ...]  # by severity, then newest call first (the export's queue
    # order is the workspace's: reports/shared.py)
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    fresh: frozenset[str] | None = None  # calls whose results changed since the last build; None: all
    digests: dict[str, str] | None = None  # call id -> digest of the results the fresh calls' pages show
    tenant: str = DEFAULT_TENANT  # whose calls these are (an export never mixes tenants)


def anchor_for(seconds: float) -> str:
    return f"t={seconds:.2f}"

