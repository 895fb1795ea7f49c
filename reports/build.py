"""Build every report into a local folder and upload the same files under `reports/` in object storage.

    reports/index.html            links to everything
    reports/calls/<call_id>.html  per-call scorecard page (transcript lines have ids "t=<seconds>")
    reports/scorecards.json|csv   scorecard exports (CSV: one row per call and question)
    reports/alerts.html|csv       compliance alert queue, in the workspace queue's order, with its groups
    reports/coaching.html         per-agent coaching picks (the workspace's) and score trends
    reports/dashboard.html        team dashboard over the date range (the workspace dashboard's figures)
    reports/static/report.css

One tenant's calls per export. What the workspace shows too is read with its own queries (reports/shared.py).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path, PurePosixPath

from infra.storage import RecordingSource
from infra.store import DEFAULT_TENANT, ResultsStore
from reports import charts, pages, shared_pages
from reports.cache import to_summary
from reports.data import ReportData, ReportError, gather
from reports.shared import Reviewed, reviewed_answers, shared

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


@dataclass(frozen=True)
class Rendered:
    files: dict[str, bytes]  # relative path -> content
    summaries: dict[str, str]  # fresh call id -> what the report cache keeps of it (`reports.data.to_summary`)


def render(data: ReportData, engine, reviewed: Reviewed | None = None) -> Rendered:
    """Every report page and export. A call taken from the report cache brings its rendered parts (rows of
    the index, the alert queue and the exports); the fresh calls' pages and parts are rendered here, and the
    aggregate files are their parts joined. The figures, queue order and picks the workspace shows too come
    from its queries on `engine` (`reports.shared`). `reviewed`: reviewers' answers and totals by call
    (`reports.shared.reviewed_answers`) for the index and the scorecards CSV; None: machine answers only."""
    env = pages.environment()
    by_call: dict[str, list] = {}
    for a in data.alerts:
        by_call.setdefault(a.call.call_id, []).append(a)
    parts, summaries, files = {}, {}, {}
    for call in data.calls:
        call_id = call.info.call_id
        if call.parts is not None:  # unchanged since the last build: its page and parts are kept
            parts[call_id] = call.parts
            continue
        _check_call_id(call_id)  # (a cached call's was checked when its page was written)
        call_alerts = sorted(by_call.get(call_id, ()), key=lambda a: a.alert_id)
        files[call.info.page] = pages.call_page(env, data, call, call_alerts)
        parts[call_id] = pages.call_parts(env, call, call_alerts, reviewed)
        summaries[call_id] = to_summary(call, call_alerts, parts[call_id])
    common = shared(engine, data)
    alert_rows = pages.alert_rows_of(parts, common.alert_order)
    files.update({
        "index.html": shared_pages.index_page(env, data, common, parts),
        "alerts.html": shared_pages.alerts_page(env, data, common, alert_rows),
        "alerts.csv": pages.alerts_csv(alert_rows),
        "coaching.html": shared_pages.coaching_page(env, data, common),
        "dashboard.html": shared_pages.dashboard_page(env, data, common),
        "scorecards.json": pages.scorecards_json(data, parts),
        "scorecards.csv": pages.scorecards_csv(data, parts),
    })
    out = {k: v.encode("utf-8") for k, v in files.items()}
    out["static/report.css"] = resources.files("reports").joinpath("static/report.css").read_bytes()
    return Rendered(out, summaries)


def render_all(data: ReportData, engine, reviewed: Reviewed | None = None) -> dict[str, bytes]:
    """Relative path -> file content, for every report page and export (`render`)."""
    return render(data, engine, reviewed).files


def _call_pages(out_dir: Path | None) -> set[str]:
    """The call pages in the local folder ("calls/<call id>.html"), listed once."""
    found: set[str] = set()
    if out_dir is None:
        return found
    for folder, _, names in os.walk(out_dir / "calls"):
        rel = Path(folder).relative_to(out_dir).as_posix()
        found.update(f"{rel}/{n}" for n in names if n.endswith(".html"))
    return found


def build_reports(store: ResultsStore, source: RecordingSource, out_dir: Path | None, *,
                  since: date | datetime | None = None, until: date | datetime | None = None,
                  tenant: str = DEFAULT_TENANT) -> ReportIndex:
    """Write `tenant`'s reports to `out_dir` and upload them under `reports/`; with `out_dir` None they are only
    uploaded. Incremental: only calls whose results changed since the last build (the results DB's report
    cache) are read and rendered; the aggregate pages are rebuilt from the DB and the cache."""
    out_dir = Path(out_dir) if out_dir is not None else None

    pages_there = _call_pages(out_dir)

    def page_missing(page: str) -> bool:
        return out_dir is not None and page not in pages_there

    reviewed = reviewed_answers(store.engine, tenant)
    data = gather(store, source, since=since, until=until, incremental=True, page_missing=page_missing,
                  reviewed=reviewed, tenant=tenant)
    with charts.reuse(store.report_charts()) as drawn:
        rendered = render(data, store.engine, reviewed)
    files = rendered.files
    if out_dir is not None:
        keep = {c.info.page for c in data.calls}
        for old in pages_there - keep:  # a call now out of range
            (out_dir / old).unlink()
        for rel, content in files.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for rel, content in files.items():
        source.write(REPORTS_PREFIX + rel, content, CONTENT_TYPES[PurePosixPath(rel).suffix])
    store.save_report_cache({c: (data.digests[c], rendered.summaries[c]) for c in data.fresh or ()})
    store.save_report_charts(drawn)
    # the per-call stage record: which results (digest) the call's stored page shows
    store.mark_reported({c: f"report/{data.digests[c][:16]}" for c in data.fresh or ()})
    all_files = set(files) | {c.info.page for c in data.calls}
    index = ReportIndex(out_dir, tuple(sorted(all_files)), len(data.calls),
                        sum(c.scored is not None for c in data.calls), len(data.alerts),
                        len({c.info.agent for c in data.calls if c.scored is not None}), data.since, data.until)
    log.info("reports: %d files for %d calls written to %s and %s", len(files), index.calls,
             out_dir or "(no local folder)", REPORTS_PREFIX)
    return index
