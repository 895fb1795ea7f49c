"""Build every report into a local folder and upload the same files under `reports/` in object storage.

    reports/index.html            links to everything
    reports/calls/<call_id>.html  per-call scorecard page (transcript lines have ids "t=<seconds>")
    reports/scorecards.json|csv   scorecard exports (CSV: one row per call and question)
    reports/alerts.html|csv       compliance alert queue, by severity then newest call
    reports/coaching.html         per-agent coaching picks and trends
    reports/dashboard.html        team dashboard over the date range
    reports/static/report.css
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path, PurePosixPath

from infra.review import reviewed_everywhere
from infra.storage import RecordingSource
from infra.store import ResultsStore
from reports import pages
from reports.aggregate import coaching, dashboard
from reports.data import ReportData, ReportError, gather

log = logging.getLogger("callqa")
from core.keys import REPORTS_PREFIX  # noqa: E402  (re-exported)
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".json": "application/json", ".csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class ReportIndex:
    out_dir: Path | None  # None: uploaded only
    files: tuple[str, ...]  # relative to out_dir, "/"-separated; also the object keys below REPORTS_PREFIX
    calls: int
    scored: int
    alerts: int
    agents: int
    since: datetime | None
    until: datetime | None

    @property
    def object_keys(self) -> tuple[str, ...]:
        return tuple(REPORTS_PREFIX + f for f in self.files)


def _check_call_id(call_id: str) -> None:
    p = PurePosixPath(call_id)
    if p.is_absolute() or ".." in p.parts or not call_id:
        raise ReportError(f"call id {call_id!r} cannot be used as a report path")


def render_all(data: ReportData, reviewed: dict | None = None) -> dict[str, bytes]:
    """Relative path -> file content, for every report page and export. `reviewed`: reviewers' answers and
    totals by call (`infra.review.reviewed_everywhere`) for the scorecards CSV; None: machine answers only."""
    env = pages.environment()
    dash = dashboard(data)
    agents = coaching(data)
    files: dict[str, str] = {
        "index.html": pages.index_page(env, data, dash),
        "alerts.html": pages.alerts_page(env, data),
        "alerts.csv": pages.alerts_csv(data),
        "coaching.html": pages.coaching_page(env, data, agents, dash.mean_score),
        "dashboard.html": pages.dashboard_page(env, data, dash),
        "scorecards.json": pages.scorecards_json(data),
        "scorecards.csv": pages.scorecards_csv(data, reviewed),
    }
    for call in data.calls:
        _check_call_id(call.info.call_id)
        if data.fresh is None or call.info.call_id in data.fresh:  # unchanged calls keep their page
            files[call.info.page] = pages.call_page(env, data, call)
    out = {k: v.encode("utf-8") for k, v in files.items()}
    out["static/report.css"] = resources.files("reports").joinpath("static/report.css").read_bytes()
    return out


def build_reports(store: ResultsStore, source: RecordingSource, out_dir: Path | None, *,
                  since: date | datetime | None = None, until: date | datetime | None = None) -> ReportIndex:
    """Write the reports to `out_dir` and upload them under `reports/`; with `out_dir` None they are only
    uploaded. Incremental: only calls whose results changed since the last build (the results DB's report
    cache) are read and rendered; the aggregate pages are rebuilt from the DB and the cache."""
    out_dir = Path(out_dir) if out_dir is not None else None

    def page_missing(page: str) -> bool:
        return out_dir is not None and not (out_dir / page).is_file()

    data = gather(store, source, since=since, until=until, incremental=True, page_missing=page_missing)
    files = render_all(data, reviewed_everywhere(store.engine))
    if out_dir is not None:
        keep = {c.info.page for c in data.calls}
        for old in (out_dir / "calls").rglob("*.html") if (out_dir / "calls").is_dir() else ():
            if old.relative_to(out_dir).as_posix() not in keep:  # a call now out of range
                old.unlink()
        for rel, content in files.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for rel, content in files.items():
        source.write(REPORTS_PREFIX + rel, content, CONTENT_TYPES[PurePosixPath(rel).suffix])
    store.save_report_cache({c: data.cache[c] for c in data.fresh or ()})
    # the per-call stage record: which results (digest) the call's stored page shows
    store.mark_reported({c: f"report/{data.cache[c][0][:16]}" for c in data.fresh or ()})
    all_files = set(files) | {c.info.page for c in data.calls}
    index = ReportIndex(out_dir, tuple(sorted(all_files)), len(data.calls),
                        sum(c.scored is not None for c in data.calls), len(data.alerts),
                        len({c.info.agent for c in data.calls if c.scored is not None}), data.since, data.until)
    log.info("reports: %d files for %d calls written to %s and %s", len(files), index.calls,
             out_dir or "(no local folder)", REPORTS_PREFIX)
    return index
