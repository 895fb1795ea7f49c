"""Incremental report builds: a second build reads no transcript and renders no call page when nothing
changed; a changed call (alert status) is re-read and re-rendered alone; the pages stay identical to a full
build's."""
from __future__ import annotations

import pytest

from reports import pages
from reports.build import build_reports

from .test_reports_fixture import CALLS, build


@pytest.fixture
def counting(monkeypatch):
    counts = {"call_pages": 0}
    real = pages.call_page

    def call_page(*a, **kw):
        counts["call_pages"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(pages, "call_page", call_page)
    return counts


def test_second_build_renders_only_what_changed(tmp_path, counting):
    store, src = build(tmp_path)
    reads: list[str] = []
    real_read = src.read
    src.read = lambda key: (reads.append(key), real_read(key))[1]  # type: ignore[method-assign]
    out = tmp_path / "out"
    first = build_reports(store, src, out)
    assert counting["call_pages"] == len(CALLS)
    reported = {c: store.stages(c)["reported"][0] for c in store.report_cache()}
    assert len(reported) == len(CALLS) and all(v.startswith("report/") for v in reported.values())
    snapshot = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    reads.clear()
    counting["call_pages"] = 0
    second = build_reports(store, src, out)
    assert counting["call_pages"] == 0 and not [k for k in reads if k.startswith("redacted/")]
    assert second.files == first.files
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    changed = {k for k in after if after[k] != snapshot.get(k)}
    assert changed <= {"index.html", "alerts.html", "coaching.html", "dashboard.html"}, changed  # "generated at"

    alert = store.alerts()[0]
    store.set_alert_status(alert["id"], "acknowledged")
    reads.clear()
    build_reports(store, src, out)
    assert counting["call_pages"] == 1
    assert [k for k in reads if k.startswith("redacted/")] == [f"redacted/transcripts/{alert['call_id']}.json"]
    # the `reported` stage follows the page: a new version for the changed call only
    now = {c: store.stages(c)["reported"][0] for c in reported}
    assert {c for c in reported if now[c] != reported[c]} == {alert["call_id"]}


def test_a_missing_local_page_is_rendered_again(tmp_path, counting):
    store, src = build(tmp_path)
    out = tmp_path / "out"
    build_reports(store, src, out)
    page = next((out / "calls").rglob("*.html"))
    page.unlink()
    counting["call_pages"] = 0
    build_reports(store, src, out)
    assert page.is_file() and counting["call_pages"] == 1
