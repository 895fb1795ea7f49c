"""The dashboard: trends per day/week and queue, per-question pass rates (machine or reviewed answers), alert
counts; every bar, point and cell is a link to the call list (or the alert queue) filtered to what it counts.
Charts are inline SVG drawn by the template from the geometry computed here (no script, no style attribute:
the page's CSP allows neither); all text goes through Jinja2's autoescape. `/api/dashboard`: the same figures
as JSON. Figures come from `infra.dashboard` (derived tables, cached per tenant and selection)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from infra.dashboard import SEVERITIES, DashboardRangeError, Figures, Period, Series
from web.auth import DASHBOARD, Viewer, api_viewer, page_viewer, permissions, require

router = APIRouter()
PALETTE = ("#2456c7", "#d9822b", "#0e9384", "#7a5af8", "#c11574", "#b54708", "#3e4784", "#667085")
STATUS_COLOURS = {"new": "#b42318", "acknowledged": "#d9822b", "resolved": "#067647", "false_positive": "#98a2b3"}
LEFT, TOP, PLOT_H, BOTTOM = 44, 12, 170, 34


# --- chart geometry (drawn by templates/dashboard_charts.html) ------------------------------------------------

@dataclass(frozen=True)
class Mark:
    shape: str  # "rect" or "dot" (x, y centre; w radius)
    x: float
    y: float
    w: float
    h: float
    fill: str
    href: str
    title: str
    label: str = ""  # text drawn in or beside the mark


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    width: float
    height: float
    marks: tuple[Mark, ...]
    lines: tuple[tuple[str, str], ...] = ()  # (points, colour)
    texts: tuple[tuple[float, float, str, str], ...] = ()  # (x, y, anchor, text)
    grid: tuple[tuple[float, float, float], ...] = ()  # (x1, x2, y)
    legend: tuple[tuple[str, str], ...] = ()  # (colour, name)
    note: str = ""


def _nice(v: float) -> float:
    step = 1.0
    while step * 10 <= v:
        step *= 10
    return next(m * step for m in (1, 2, 5, 10) if m * step >= v) if v > 0 else 1.0


def _frame(periods: tuple[Period, ...], ymax: float):
    n = len(periods)
    slot = max(12.0, min(48.0, 560.0 / max(n, 1)))
    every = math.ceil(40 / slot)
    texts = [(LEFT - 4, TOP + PLOT_H * (1 - f) + 4, "end", f"{ymax * f:g}") for f in (0, 0.5, 1)]
    texts += [(LEFT + slot * (i + 0.5), TOP + PLOT_H + 14, "middle", p.start.strftime("%m-%d"))
              for i, p in enumerate(periods) if i % every == 0]
    grid = tuple((LEFT, LEFT + slot * n, TOP + PLOT_H * (1 - f)) for f in (0, 0.5, 1))
    return slot, texts, grid, LEFT + slot * n + 8, TOP + PLOT_H + BOTTOM


def _span(p: Period) -> str:
    return p.start.isoformat() if p.start == p.end else f"{p.start.isoformat()} to {p.end.isoformat()}"


def _name(v) -> str:
    return "(none)" if v is None else str(v)


def stacked_bars(id: str, title: str, periods, series, href: Callable) -> Chart:
    totals = [sum(s.values[i] for s in series) for i in range(len(periods))]
    ymax = _nice(max(totals, default=0))
    slot, texts, grid, width, height = _frame(periods, ymax)
    marks = []
    for i, p in enumerate(periods):
        y = TOP + PLOT_H
        for k, s in enumerate(series):
            v = s.values[i]
            if not v:
                continue
            h = PLOT_H * v / ymax
            y -= h
            marks.append(Mark("rect", LEFT + slot * i + slot * 0.15, y, slot * 0.7, h, PALETTE[k % len(PALETTE)],
                              href(s.name, p), f"{_name(s.name)}, {_span(p)}: {v} call{'s' if v != 1 else ''}"))
    legend = tuple((PALETTE[k % len(PALETTE)], _name(s.name)) for k, s in enumerate(series))
    return Chart(id, title, width, height, tuple(marks), texts=tuple(texts), grid=grid, legend=legend,
                 note="" if marks else "no calls in this range")


def line_chart(id: str, title: str, periods, series, href: Callable, *, ymax: float = 100.0,
               fmt: str = "{:.0f}", unit: str = "") -> Chart:
    slot, texts, grid, width, height = _frame(periods, ymax)
    marks, lines = [], []
    for k, s in enumerate(series):
        colour, run = PALETTE[k % len(PALETTE)], []
        for i, p in enumerate(periods):
            v = s.values[i]
            if v is None:
                if len(run) > 1:
                    lines.append((" ".join(run), colour))
                run = []
                continue
            x, y = LEFT + slot * (i + 0.5), TOP + PLOT_H * (1 - min(v, ymax) / ymax)
            run.append(f"{x:.1f},{y:.1f}")
            marks.append(Mark("dot", x, y, 4.0, 0.0, colour, href(s.name, p), f"{_name(s.name)}, {_span(p)}: "
                              f"{fmt.format(v)}{unit}"))
        if len(run) > 1:
            lines.append((" ".join(run), colour))
    legend = tuple((PALETTE[k % len(PALETTE)], _name(s.name)) for k, s in enumerate(series))
    return Chart(id, title, width, height, tuple(marks), tuple(lines), tuple(texts), grid, legend,
                 "" if marks else "nothing scored in this range")


def _heat(rate: float) -> str:
    """Red (0 %) through amber to green (100 %)."""
    lo, mid, hi = (0xd9, 0x2d, 0x20), (0xf7, 0xb5, 0x27), (0x12, 0xb7, 0x6a)
    a, b, f = (lo, mid, rate * 2) if rate < 0.5 else (mid, hi, rate * 2 - 1)
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def heatmap(id: str, title: str, periods, rows, href: Callable) -> Chart:
    """rows: (question id, text, ((passed, failed) per period)); a cell is the pass rate, linked to the calls
    that failed the question in that period."""
    label_w, cell_h, n = 150, 20, len(periods)
    slot = max(22.0, min(48.0, 1100.0 / max(n, 1)))  # the heat map spans the page
    marks, texts = [], []
    for r, (qid, text, tallies) in enumerate(rows):
        y = TOP + cell_h * r
        texts.append((label_w - 6, y + 14, "end", qid))
        for i, (passed, failed) in enumerate(tallies):
            if passed + failed == 0:
                continue
            rate = passed / (passed + failed)
            marks.append(Mark("rect", label_w + slot * i, y, slot - 2, cell_h - 2, _heat(rate), href(qid, periods[i]),
                              f"{qid} ({text}), {_span(periods[i])}: {rate * 100:.0f}% pass, {failed} failed of "
                              f"{passed + failed}", f"{rate * 100:.0f}"))
    every = math.ceil(40 / slot)
    y = TOP + cell_h * len(rows) + 14
    texts += [(label_w + slot * (i + 0.5), y, "middle", p.start.strftime("%m-%d"))
              for i, p in enumerate(periods) if i % every == 0]
    return Chart(id, title, label_w + slot * n + 8, y + 10, tuple(marks), texts=tuple(texts),
                 note="" if marks else "no pass/fail answers in this range")


def hbars(id: str, title: str, rows, href: Callable) -> Chart:
    """rows: (label, ((status, count), ...)): one horizontal bar per label, stacked by status."""
    label_w, bar_h, plot_w = 150, 20, 400
    xmax = _nice(max((sum(k for _, k in parts) for _, parts in rows), default=0))
    marks, texts, legend = [], [], {}
    for r, (label, parts) in enumerate(rows):
        x, y = float(label_w), TOP + (bar_h + 6) * r
        texts.append((label_w - 6, y + 14, "end", label))
        for status, k in parts:
            w = plot_w * k / xmax
            colour = STATUS_COLOURS.get(status, PALETTE[len(legend) % len(PALETTE)])
            legend.setdefault(status, colour)
            marks.append(Mark("rect", x, y, w, bar_h, colour, href(label, status),
                              f"{label}, {status}: {k} alert{'s' if k != 1 else ''}"))
            x += w
        texts.append((x + 4, y + 14, "start", str(sum(k for _, k in parts))))
    order = list(STATUS_COLOURS)
    legend_items = sorted(legend.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return Chart(id, title, label_w + plot_w + 60, TOP + (bar_h + 6) * max(len(rows), 1) + 8, tuple(marks),
                 texts=tuple(texts), legend=tuple((c, s) for s, c in legend_items),
                 note="" if marks else "no alerts in this range")


# --- what the page and the API show -----------------------------------------------------------------------------

def _calls_url(**params) -> str:
    return "/calls?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _dates(p: Period) -> dict:
    return {"date_from": p.start.isoformat(), "date_to": p.end.isoformat()}


def charts(fig: Figures, view: str, alert_queue: bool) -> list[Chart]:
    """The page's charts; `view` picks machine or reviewed answers; `alert_queue`: whether alert charts may
    link to the alert queue (else to the call list filtered by alert)."""
    q, whole = fig.queue, Period(fig.date_from, fig.date_to)

    def by(field: str):
        def href(name, p: Period):
            if name is None:
                return None  # the call list cannot filter on a missing value
            return _calls_url(**{"queue": q, field: name}, **_dates(p))
        return href

    reviewed = view == "reviewed"
    fails = fig.auto_failed_reviewed if reviewed else fig.auto_failed
    rate = Series("auto-fail", tuple(round(100 * f / k, 1) if k else None for f, k in zip(fails, fig.scored)))
    rows = [(x.question_id, x.text, x.reviewed if reviewed else x.machine) for x in fig.questions]
    by_category: dict[str, dict[str, int]] = {}
    by_severity: dict[str, dict[str, int]] = {}
    for a in fig.alerts:
        for table, key in ((by_category, a.category), (by_severity, a.severity)):
            table.setdefault(key, {}).setdefault(a.status, 0)
            table[key][a.status] += a.count

    def stacked(table, order):
        return [(k, tuple(sorted(table[k].items(), key=lambda kv: list(STATUS_COLOURS).index(kv[0])
                                 if kv[0] in STATUS_COLOURS else 9))) for k in order(table)]

    def category_href(category, status):
        if alert_queue:
            return "/alerts?" + urlencode({"status": status, "category": category})
        return _calls_url(queue=q, alert_status=status, alert_category=category, **_dates(whole))

    def severity_href(severity, status):
        if alert_queue:
            return "/alerts?" + urlencode({"status": status, "severity": severity})
        return _calls_url(queue=q, alert_status=status, alert_severity=severity, **_dates(whole))

    unit = "day" if fig.bucket == "day" else "week"
    answers = "reviewed answers (a reviewer's override where there is one)" if reviewed else "machine answers"
    return [
        stacked_bars("volume-queue", f"Calls per {unit}, by queue", fig.periods, fig.volume_by_queue, by("queue")),
        stacked_bars("volume-language", f"Calls per {unit}, by language", fig.periods, fig.volume_by_language,
                     by("language")),
        stacked_bars("volume-direction", f"Calls per {unit}, by direction", fig.periods, fig.volume_by_direction,
                     by("direction")),
        line_chart("score-queue", f"Mean score per {unit}, by queue (machine score)", fig.periods,
                   fig.mean_score_by_queue,
                   lambda name, p: None if name is None else _calls_url(queue=name, sort="total", order="asc",
                                                                        **_dates(p))),
        line_chart("auto-fail", f"Auto-fail rate per {unit} (% of scored calls, {answers})", fig.periods, (rate,),
                   lambda name, p: _calls_url(queue=q, auto_fail="yes", **_dates(p)), unit="%",
                   ymax=min(100.0, _nice(max((v for v in rate.values if v is not None), default=0)))),
        heatmap("pass-rates", f"Pass rate per question and {unit} ({answers}); a cell lists the calls that failed "
                "the question", fig.periods, rows,
                lambda qid, p: _calls_url(queue=q, failed_question=qid, answers=None if reviewed else "machine",
                                          **_dates(p))),
        hbars("alerts-category", "Alerts by category and status", stacked(by_category, sorted), category_href),
        hbars("alerts-severity", "Alerts by severity and status",
              stacked(by_severity, lambda t: sorted(t, key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 9)),
              severity_href),
    ]


class PeriodOut(BaseModel):
    start: date
    end: date


class SeriesOut(BaseModel):
    name: str | None
    values: list[float | None]


class Tally(BaseModel):
    passed: int
    failed: int


class QuestionOut(BaseModel):
    question_id: str
    text: str
    machine: list[Tally]
    reviewed: list[Tally]


class AlertCountOut(BaseModel):
    status: str
    category: str
    severity: str
    count: int


class DashboardOut(BaseModel):
    date_from: date
    date_to: date
    queue: str | None
    bucket: str
    periods: list[PeriodOut]
    calls: list[int]
    scored: list[int]
    auto_failed: list[int]
    auto_failed_reviewed: list[int]
    reviewed_calls: int
    mean_score: float | None
    volume_by_queue: list[SeriesOut]
    volume_by_language: list[SeriesOut]
    volume_by_direction: list[SeriesOut]
    mean_score_by_queue: list[SeriesOut]
    questions: list[QuestionOut]
    alerts: list[AlertCountOut]


def _out(fig: Figures) -> DashboardOut:
    series = lambda xs: [SeriesOut(name=s.name, values=list(s.values)) for s in xs]  # noqa: E731
    tallies = lambda xs: [Tally(passed=p, failed=f) for p, f in xs]  # noqa: E731
    return DashboardOut(
        date_from=fig.date_from, date_to=fig.date_to, queue=fig.queue, bucket=fig.bucket,
        periods=[PeriodOut(start=p.start, end=p.end) for p in fig.periods], calls=list(fig.calls),
        scored=list(fig.scored), auto_failed=list(fig.auto_failed), auto_failed_reviewed=list(fig.auto_failed_reviewed),
        reviewed_calls=fig.reviewed_calls, mean_score=fig.mean_score, volume_by_queue=series(fig.volume_by_queue),
        volume_by_language=series(fig.volume_by_language), volume_by_direction=series(fig.volume_by_direction),
        mean_score_by_queue=series(fig.mean_score_by_queue),
        questions=[QuestionOut(question_id=x.question_id, text=x.text, machine=tallies(x.machine),
                               reviewed=tallies(x.reviewed)) for x in fig.questions],
        alerts=[AlertCountOut(status=a.status, category=a.category, severity=a.severity, count=a.count)
                for a in fig.alerts])




def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}: dates are YYYY-MM-DD") from None


def _figures(request: Request, viewer: Viewer, date_from: str | None, date_to: str | None, queue: str | None,
             bucket: str | None) -> Figures:
    require(viewer, DASHBOARD)
    if bucket not in (None, "", "auto", "day", "week"):
        raise HTTPException(422, "bucket must be auto, day or week")
    try:
        return request.app.state.ws.dashboard.figures(viewer.user.tenant, _day(date_from, "date_from"), _day(date_to, "date_to"),
                                           queue=queue or None, bucket=None if bucket in (None, "", "auto") else bucket)
    except DashboardRangeError as e:
        raise HTTPException(422, str(e)) from None


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(request: Request, date_from: str | None = None, date_to: str | None = None,
                   queue: str | None = None, bucket: str | None = None, view: str = "machine",
                   viewer: Viewer = Depends(page_viewer)):
    fig = _figures(request, viewer, date_from, date_to, queue, bucket)
    if view not in ("machine", "reviewed"):
        raise HTTPException(422, "view must be machine or reviewed")
    perms = permissions(viewer)
    chosen = {"date_from": fig.date_from.isoformat(), "date_to": fig.date_to.isoformat(), "queue": fig.queue or "",
              "bucket": bucket or ""}
    toggle = {v: "/dashboard?" + urlencode({**{k: x for k, x in chosen.items() if x}, "view": v})
              for v in ("machine", "reviewed")}
    whole = _dates(Period(fig.date_from, fig.date_to))
    fails = fig.auto_failed_reviewed if view == "reviewed" else fig.auto_failed
    new_alerts = sum(a.count for a in fig.alerts if a.status == "new")
    tiles = [
        ("tile-calls", "calls", str(sum(fig.calls)), _calls_url(queue=fig.queue, **whole)),
        ("tile-score", "mean score", "–" if fig.mean_score is None else f"{fig.mean_score:.1f}",
         _calls_url(queue=fig.queue, sort="total", order="asc", **whole)),
        ("tile-autofail", f"auto-failed ({view})", f"{sum(fails)} of {sum(fig.scored)}",
         _calls_url(queue=fig.queue, auto_fail="yes", **whole)),
        ("tile-reviewed", "calls with an override", str(fig.reviewed_calls),
         _calls_url(queue=fig.queue, reviewed="yes", **whole)),
        ("tile-alerts", "new alerts", str(new_alerts), "/alerts?status=new" if perms["alert_queue"]
         else _calls_url(queue=fig.queue, alert_status="new", **whole)),
    ]
    queues = request.app.state.ws.dashboard.queues(viewer.user.tenant)
    return request.app.state.templates.TemplateResponse(request, "dashboard.html", {
        "viewer": viewer, "perms": perms, "fig": fig, "view": view, "bucket": bucket or "auto", "queues": queues,
        "toggle": toggle, "tiles": tiles, "charts": charts(fig, view, perms["alert_queue"])})


@router.get("/api/dashboard", response_model=DashboardOut, tags=["workspace"])
def dashboard_api(request: Request, date_from: str | None = None, date_to: str | None = None,
                  queue: str | None = None, bucket: str | None = None, viewer: Viewer = Depends(api_viewer)):
    """The dashboard's figures over [date_from, date_to] (call start days, default: the 12 weeks up to the latest
    call), one queue or all: per period (day, or Monday-to-Sunday week clipped to the range) call counts,
    machine and reviewed answers per question, mean machine score per queue, alert counts."""
    return _out(_figures(request, viewer, date_from, date_to, queue, bucket))
