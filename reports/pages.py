"""Rendering: Jinja2 pages (autoescaped) with inline SVG charts, and the JSON/CSV exports; a call's page and
parts here, the pages of figures shared with the workspace in reports/shared_pages.py."""
from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reports import charts
from reports.model import AlertItem, CallParts, CallReport, ReportData
from core.reviewed import ReviewedTotals


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The report templates (compiled once per process: a build renders with the same environment)."""
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["secs"] = lambda x: "n/a" if x is None else f"{x:.1f} s"
    env.filters["score"] = _score
    env.filters["pct"] = lambda x: "n/a" if x is None else f"{x:.0f}%"
    return env


def _root(page: str) -> str:
    return "../" * page.count("/")


def _range_label(data: ReportData) -> str:
    if data.since is None and data.until is None:
        return "all dates"
    lo = f"{data.since:%Y-%m-%d %H:%M}" if data.since else "the first call"
    hi = f"{data.until:%Y-%m-%d %H:%M}" if data.until else "the latest call"
    return f"{lo} to {hi} (UTC)"


def _common(data: ReportData, page: str, title: str) -> dict:
    return {"root": _root(page), "title": title, "generated": f"{data.generated_at:%Y-%m-%d %H:%M}",
            "range_label": _range_label(data)}


def call_page(env: Environment, data: ReportData, call: CallReport, alerts: list[AlertItem] | None = None) -> str:
    """`alerts`: the call's alerts when the caller has them (else looked up in `data.alerts`), severity first."""
    if alerts is None:
        alerts = [a for a in data.alerts if a.call.call_id == call.info.call_id]
    alerts = sorted(alerts, key=lambda a: a.sort_key)
    chart = None
    if call.scored is not None:
        chart = Markup(charts.sentiment_chart([(p.start, p.role, p.score) for p in call.scored.sentiment],
                                              call.info.duration))
    return env.get_template("call.html").render(
        **_common(data, call.info.page, f"Call {call.info.call_id}"), call=call, alerts=alerts, chart=chart)


def alert_rows_of(parts: Mapping[str, CallParts], order: Sequence[int]) -> list[tuple[str, str]]:
    """(alerts.html row, alerts.csv line) of every alert, in `order` (alert ids: the workspace queue's)."""
    rows = {alert_id: (html, line) for p in parts.values() for alert_id, html, line in p.alert_rows}
    return [rows[i] for i in order]  # alert ids are unique across calls


def _score(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def call_parts(env: Environment, call: CallReport, alerts: list[AlertItem],
               reviewed: Mapping[str, tuple[Mapping, ReviewedTotals]] | None = None) -> CallParts:
    """A call's rows in the aggregate pages and exports (`CallParts`), from its full results."""
    _, totals = (reviewed or {}).get(call.info.call_id, (None, None))
    index_row = env.get_template("index_row.html").render(c=call, n_alerts=len(alerts), reviewed=totals) + "\n"
    alert_row = env.get_template("alert_row.html")
    alert_rows = tuple((a.alert_id, alert_row.render(a=a) + "\n", _csv_lines([_alert_row(a)])) for a in alerts)
    element = _scorecard_element(call)
    return CallParts(index_row, alert_rows,
                     None if element is None else _indent(json.dumps(element, ensure_ascii=False, indent=1)),
                     _csv_lines(_scorecard_rows(call, reviewed)))


# ---- exports ----

def _iso(d: datetime) -> str:
    return d.isoformat(timespec="seconds")


def _scorecard_element(c: CallReport) -> dict | None:
    if c.scored is None:
        return None
    s = c.scored
    return {"call_id": c.info.call_id, "agent": c.info.agent, "queue": c.info.queue,
            "direction": c.info.direction, "language": c.info.language, "date": _iso(c.info.when),
            "date_is_start": c.info.when_is_start, "duration": c.info.duration, "page": c.info.page,
            "form_id": s.form_id, "form_version": s.form_version, "total": s.total,
            "auto_failed": s.auto_failed, "auto_fail_reasons": list(s.auto_fail_reasons),
            "critical_failures": list(s.critical_failures),
            "sections": [asdict(x) for x in s.sections], "questions": [asdict(q) for q in s.questions],
            "sentiment_outcome": s.sentiment_outcome, "customer_sentiment_delta": s.customer_delta,
            "kpis": dict(s.kpis)}


def _indent(text: str) -> str:
    """A JSON value dumped with indent=1, indented as an element of a list dumped with indent=1 (JSON text
    has no raw newline inside strings)."""
    return "\n".join(" " + line for line in text.split("\n"))


def scorecards_json(data: ReportData, parts: Mapping[str, CallParts]) -> str:
    """Byte for byte `json.dumps([element per scored call], ensure_ascii=False, indent=1)`, joined from the
    calls' parts."""
    elements = [p.scorecard_json for c in data.calls if (p := parts[c.info.call_id]).scorecard_json is not None]
    return "[\n" + ",\n".join(elements) + "\n]" if elements else "[]"


SCORECARD_COLUMNS = ["call_id", "date", "agent", "queue", "language", "form_id", "form_version", "total",
                     "reviewed_total", "auto_failed", "section_id", "question_id", "question", "answer",
                     "reviewed_answer", "reviewer", "points", "effective_weight", "auto_fail", "critical",
                     "evidence_start", "evidence_role", "evidence_quote"]
ALERT_COLUMNS = ["alert_id", "severity", "category", "rule_id", "title", "status", "call_id", "call_date", "agent",
                 "queue", "evidence_start", "evidence_role", "evidence_quote", "link"]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading quote
    (OWASP CSV injection); numbers are written as numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_lines(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([csv_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def _scorecard_rows(c: CallReport, reviewed: Mapping[str, tuple[Mapping, ReviewedTotals]] | None) -> list[list]:
    if c.scored is None:
        return []
    s = c.scored
    overrides, totals = (reviewed or {}).get(c.info.call_id, ({}, None))
    reviewed_total = s.total if totals is None else totals.total
    rows = []
    for q in s.questions:
        e = q.evidence[0] if q.evidence else None
        o = overrides.get(q.question_id)
        rows.append([c.info.call_id, _iso(c.info.when), c.info.agent, c.info.queue, c.info.language, s.form_id,
                     s.form_version, "" if s.total is None else s.total,
                     "" if reviewed_total is None else reviewed_total, s.auto_failed, q.section_id,
                     q.question_id, q.text, q.answer, o.answer if o else q.answer, o.reviewer if o else "",
                     q.points, q.effective_weight, q.auto_fail, q.critical,
                     "" if e is None or e.start is None else e.start, e.role if e else "", e.quote if e else ""])
    return rows


def scorecards_csv(data: ReportData, parts: Mapping[str, CallParts]) -> str:
    """One row per call and question, with the reviewed answer and total beside the machine's (the machine's
    again where nobody reviewed the call): `call_parts` was given reviewers' answers by call (call id ->
    (question id -> latest override with `answer` and `reviewer`, totals with them applied))."""
    return _csv_lines([SCORECARD_COLUMNS]) + "".join(parts[c.info.call_id].scorecard_csv for c in data.calls)


def _alert_row(a: AlertItem) -> list:
    e = a.evidence[0] if a.evidence else None
    return [a.alert_id, a.severity, a.category, a.rule_id, a.title, a.status, a.call.call_id, _iso(a.call.when),
            a.call.agent, a.call.queue, "" if e is None or e.start is None else e.start, e.role if e else "",
            e.quote if e else "", a.link]


def alerts_csv(rows: list[tuple[str, str]]) -> str:
    """`rows`: `alert_rows_of(parts, order)`."""
    return _csv_lines([ALERT_COLUMNS]) + "".join(line for _, line in rows)
