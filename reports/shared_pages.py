"""The export's pages of figures the workspace shows too (index summary, dashboard, alert queue, coaching), rendered
from `reports.shared.Shared` (the workspace's own queries) and the calls' cached parts."""
from __future__ import annotations

from collections.abc import Mapping

from jinja2 import Environment
from markupsafe import Markup, escape

from infra.alert_queue import GROUP_AT, GROUPABLE, SEVERITIES
from infra.coaching import AgentPicks, FailedQuestion
from reports import charts
from reports.model import CallParts, ReportData
from reports.pages import _common
from reports.shared import PassRate, Shared


def _links(data: ReportData):
    """call id -> its link, as the templates write it; a call outside the export (a pick of a call not done,
    say) is its id, unlinked."""
    hrefs = {c.info.call_id: c.info.href for c in data.calls}

    def link(call_id: str) -> Markup:
        href = hrefs.get(call_id)
        if href is None:
            return Markup(f'<span class="muted">{escape(call_id)} (not in this export)</span>')
        return Markup(f'<a href="{escape(href)}">{escape(call_id)}</a>')
    return link


def index_page(env: Environment, data: ReportData, shared: Shared, parts: Mapping[str, CallParts]) -> str:
    return env.get_template("index.html").render(
        **_common(data, "index.html", "Call QA reports"), fig=shared.figures, n_calls=len(data.calls),
        n_scored=sum(c.scored is not None for c in data.calls),
        rows=Markup("".join(parts[c.info.call_id].index_row for c in data.calls)))


def alerts_page(env: Environment, data: ReportData, shared: Shared, rows: list[tuple[str, str]]) -> str:
    """`rows`: `pages.alert_rows_of(parts, shared.alert_order)`."""
    alerts = data.alerts
    return env.get_template("alerts.html").render(
        **_common(data, "alerts.html", "Alert queue"), count=len(alerts),
        rows=Markup("".join(html for html, _ in rows)), by_status=shared.queue_statuses,
        groups=shared.groups, group_at=GROUP_AT, groupable=GROUPABLE, link=_links(data),
        categories=sorted({a.category for a in alerts}), agents=sorted({a.call.agent for a in alerts}),
        severities=[s for s in SEVERITIES if any(a.severity == s for a in alerts)])


def dashboard_page(env: Environment, data: ReportData, shared: Shared) -> str:
    fig = shared.figures
    rated = [p for p in shared.pass_rates if PassRate.rate(p.reviewed) is not None]
    totals = [c.scored.total for c in data.calls if c.scored is not None and c.scored.total is not None]
    queues = [(s.name or "(no queue)", sum(s.values)) for s in fig.volume_by_queue]
    languages = [(s.name or "unknown", sum(s.values)) for s in fig.volume_by_language]
    figures = {
        "volume": charts.bars([p.start.strftime("%m-%d") for p in fig.periods], list(fig.calls),
                              f"Calls per {fig.bucket}", ylabel="calls"),
        "histogram": charts.histogram(totals, "Score distribution (machine totals)"),
        "pass_rates": charts.bars([p.question_id for p in rated], [PassRate.rate(p.reviewed) for p in rated],
                                  "Pass rate per question (reviewed answers)", ylabel="pass rate %", percent=True),
        "alerts": charts.bars([k for k, _ in shared.alerts_by_status], [v for _, v in shared.alerts_by_status],
                              "Alerts by status", ylabel="alerts"),
        "queues": charts.bars([k for k, _ in queues], [v for _, v in queues], "Calls per queue", ylabel="calls"),
        "languages": charts.bars([k for k, _ in languages], [v for _, v in languages], "Calls per language",
                                 ylabel="calls"),
    }
    return env.get_template("dashboard.html").render(
        **_common(data, "dashboard.html", "Team dashboard"), fig=fig, note=shared.dashboard_note,
        rates=shared.pass_rates, by_status=shared.alerts_by_status,
        figures={k: Markup(v) for k, v in figures.items()})


def coaching_page(env: Environment, data: ReportData, shared: Shared) -> str:
    """Per agent the workspace's picks, and the agent's own score per call (a chart that changes only when the
    agent's calls do: the team's figures are in the tables)."""
    link = _links(data)
    team = {p.question_id: PassRate.rate(p.machine) for p in shared.pass_rates}
    by_agent: dict[str, list] = {}
    for c in data.calls:
        if c.scored is not None and c.scored.total is not None:
            by_agent.setdefault(c.info.agent, []).append((c.info.when, c.scored.total))
    sections = []
    for i, picks in enumerate(shared.picks):
        dated = sorted(by_agent.get(picks.agent, ()))
        trend = Markup(charts.trend([d for d, _ in dated], [s for _, s in dated], None,
                                    f"{picks.agent}: score per call")) if dated else None
        sections.append(_Section(f"agent-{i + 1}", picks, trend, link, team))
    return env.get_template("coaching.html").render(
        **_common(data, "coaching.html", "Coaching picks"), sections=sections, note=shared.picks_note)


class _Section:
    """One agent's part of the coaching page."""

    def __init__(self, anchor: str, picks: AgentPicks, trend: Markup | None, link, team: dict[str, float | None]):
        self.anchor, self.picks, self.trend, self.link, self._team = anchor, picks, trend, link, team

    @staticmethod
    def agent_rate(f: FailedQuestion) -> float | None:
        return 100.0 * (f.asked - f.fails) / f.asked if f.asked else None

    def team_rate(self, question_id: str) -> float | None:
        return self._team.get(question_id)
