"""What the export shows that the reviewers' workspace shows too, read with the workspace's own queries (infra/),
so the two never disagree: the dashboard's figures (`infra.dashboard`: volumes, per-question pass rates with
machine and reviewed answers, auto-fails, alert counts by status), the alert queue's order and its groups of
repeated alerts (`infra.alert_queue`), the coaching picks (`infra.coaching.agent_picks`) and the reviewers'
latest answers with the reviewed totals (`infra.review`). Everything is scoped to the export's tenant and
date range; nothing here reads transcript text.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from core.reviewed import ReviewedTotals
from infra.alert_queue import GROUP_AT, GROUPABLE, QueueSlot, Where, list_alerts, queue_groups
from infra.coaching import SCAN_LIMIT, AgentPicks, agent_picks
from infra.dashboard import MAX_DAYS, Dashboard, Figures
from infra.review import LatestOverride, latest_overrides, reviewed_scorecards
from reports.model import ReportData, ReportError


@dataclass(frozen=True)
class PassRate:
    """One question's pass/fail tallies over the whole range (summed over the dashboard's periods)."""
    question_id: str
    text: str
    machine: tuple[int, int]  # (passed, failed)
    reviewed: tuple[int, int]

    @staticmethod
    def rate(tally: tuple[int, int]) -> float | None:
        passed, failed = tally
        return 100.0 * passed / (passed + failed) if passed + failed else None


@dataclass(frozen=True)
class Shared:
    figures: Figures  # the workspace dashboard's, over `figures.date_from`..`date_to` (call start days)
    dashboard_note: str  # why the dashboard's range differs from the export's ("" when it does not)
    pass_rates: tuple[PassRate, ...]
    alerts_by_status: tuple[tuple[str, int], ...]
    alert_order: tuple[int, ...]  # the export's alerts in the workspace queue's order
    queue_statuses: tuple[tuple[str, int], ...]  # the export's alerts by status, as the queue has them
    groups: tuple[QueueSlot, ...]  # the queue's groups of repeated medium/low alerts (`size` alerts each)
    picks: tuple[AgentPicks, ...]
    picks_note: str  # the picks' scope when it is narrower than the export ("" when it is not)


Reviewed = dict[str, tuple[dict[str, LatestOverride], ReviewedTotals]]


def reviewed_answers(engine, tenant: str) -> Reviewed:
    """call id -> (latest override per question, totals with them applied) for the tenant's overridden calls:
    `infra.review.reviewed_scorecards`, which the workspace's call page, API and dashboard agree with."""
    overridden = sorted(latest_overrides(engine, tenant))
    return {cid: (mine, totals) for cid, (_, mine, totals) in reviewed_scorecards(engine, tenant, overridden).items()}


def dashboard_range(data: ReportData) -> tuple[date, date, str]:
    """The export's range as call start days for the dashboard; without bounds, the first to the last call's
    start day. Longer than the dashboard shows at once (`MAX_DAYS`): its latest `MAX_DAYS` days, said on
    the page."""
    days = [c.info.when.date() for c in data.calls if c.info.when_is_start]
    today = data.generated_at.date()
    hi = data.until.date() if data.until else max(days, default=today)
    lo = data.since.date() if data.since else min(days, default=hi)
    if (hi - lo).days >= MAX_DAYS:
        short = hi - timedelta(days=MAX_DAYS - 1)
        return short, hi, (f"The dashboard shows at most {MAX_DAYS} days at once: these figures cover "
                           f"{short:%Y-%m-%d} to {hi:%Y-%m-%d}, not the export's whole range.")
    return lo, hi, ""


def pass_rates(fig: Figures) -> tuple[PassRate, ...]:
    def total(tallies) -> tuple[int, int]:
        return sum(p for p, _ in tallies), sum(f for _, f in tallies)

    return tuple(PassRate(q.question_id, q.text, total(q.machine), total(q.reviewed)) for q in fig.questions)


def alerts_by_status(fig: Figures) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for a in fig.alerts:
        counts[a.status] = counts.get(a.status, 0) + a.count
    return tuple(sorted(counts.items()))


def shared(engine, data: ReportData) -> Shared:
    """The workspace's figures, queue and picks for the export's tenant and range (`data`)."""
    lo, hi, note = dashboard_range(data)
    fig = Dashboard(engine).figures(data.tenant, lo, hi)
    where = Where(statuses=None, call_from=data.since, call_to=data.until)
    mine = {a.alert_id for a in data.alerts}
    queue = [a for a in list_alerts(engine, data.tenant, where=where, limit=None) if a.id in mine]
    order = tuple(a.id for a in queue)
    if len(order) != len(mine):
        raise ReportError(f"{len(mine) - len(order)} alert(s) of the export are not in the alert queue: the results "
                          "changed during the build; build the reports again")
    picks = agent_picks(engine, data.tenant, call_from=data.since, call_to=data.until)
    scored = sum(c.scored is not None for c in data.calls)
    picks_note = f"Picks are taken from the newest {SCAN_LIMIT:,} scored calls." if scored > SCAN_LIMIT else ""
    groups = queue_groups(engine, data.tenant, where, groupable=GROUPABLE, at=GROUP_AT)
    return Shared(fig, note, pass_rates(fig), alerts_by_status(fig), order, tuple(sorted(Counter(a.status for a in queue).items())),
                  tuple(groups), tuple(picks), picks_note)
