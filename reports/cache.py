"""Incremental builds: what a call's report is derived from (its digest), and what the report cache keeps of
the last build's rendering of it (its summary)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from infra.store import CallDetails
from reports.model import AlertBrief, CallInfo, CallParts, CallReport, Scored, ScoredBrief

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


def digest(details: CallDetails, card: tuple | None, call_alerts, reviewed) -> str:
    """Of everything a call's page and parts show: its row, its stored scorecard (by version: when it was
    scored), its alerts (as stored text), its reviewers' answers, and the report code."""
    h = hashlib.sha256(_templates_digest().encode())
    h.update(repr((details, card, reviewed)).encode("utf-8"))
    for alert_id, status, created_at, alert_body in call_alerts:
        h.update(repr((alert_id, status, created_at)).encode() + alert_body.encode("utf-8"))
    return h.hexdigest()


def brief(scored: Scored | ScoredBrief | None) -> ScoredBrief | None:
    if scored is None or isinstance(scored, ScoredBrief):
        return scored
    return ScoredBrief(scored.total, scored.auto_failed)


def to_summary(call: CallReport, call_alerts, parts: CallParts) -> str:
    """What the report cache keeps of a call (redacted, no transcript): its total and auto-fail, its alerts'
    ids, categories and severities, and the call's rendered parts. One line of JSON, then the two export parts
    as they are (their lengths in the JSON): reading them back parses no escaped copy of a scorecard."""
    s = brief(call.scored)
    head = json.dumps({
        "scored": None if s is None else [s.total, s.auto_failed],
        "alerts": [[a.alert_id, a.category, a.severity] for a in call_alerts],
        "parts": [parts.index_row, [list(r) for r in parts.alert_rows],
                  None if parts.scorecard_json is None else len(parts.scorecard_json), len(parts.scorecard_csv)],
    }, ensure_ascii=False)
    return head + "\n" + (parts.scorecard_json or "") + parts.scorecard_csv


def from_summary(summary: str, info: CallInfo) -> tuple[CallReport, list[AlertBrief]]:
    """`to_summary` read back; ValueError, KeyError, TypeError or IndexError: a summary another version wrote."""
    head, _, tail = summary.partition("\n")  # the JSON line has no raw newline
    d = json.loads(head)
    s = d["scored"]
    total, auto_failed = (None, None) if s is None else s
    scored = None if s is None else ScoredBrief(total, bool(auto_failed))
    index_row, alert_rows, n_json, n_csv = d["parts"]
    if (n_json or 0) + n_csv != len(tail):
        raise ValueError("report cache summary cut short")
    parts = CallParts(index_row, tuple(map(tuple, alert_rows)),
                      None if n_json is None else tail[:n_json], tail[n_json or 0:])
    return CallReport(info, scored, None, parts), [AlertBrief(a[0], info, a[1], a[2]) for a in d["alerts"]]
