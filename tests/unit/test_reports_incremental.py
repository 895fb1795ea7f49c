"""Incremental report builds: a second build reads no transcript and renders no call page when nothing
changed; a changed call (alert status) is re-read and re-rendered alone; the pages stay identical to a full
build's."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

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


def _files(out) -> dict[str, bytes]:
    gen = re.compile(rb"Generated [0-9: -]+ UTC")  # the footer's build time
    return {p.relative_to(out).as_posix(): gen.sub(b"", p.read_bytes()) for p in out.rglob("*") if p.is_file()}


def test_incremental_pages_equal_a_full_build_and_unchanged_charts_are_not_drawn(tmp_path, counting, monkeypatch):
    """The aggregate pages and exports joined from cached parts are byte for byte those of a build from
    scratch, after a new call, an alert status change and a reviewer's override; charts whose inputs did not
    change are taken from the results DB, and it keeps only the last build's."""
    from reports import charts

    drawn = []
    real_svg = charts._svg
    monkeypatch.setattr(charts, "_svg", lambda draw: (drawn.append(draw), real_svg(draw))[1])
    store, src = build(tmp_path)
    out = tmp_path / "out"
    build_reports(store, src, out)
    assert len(drawn) == len(CALLS) + 6 + 3  # sentiment per call; dashboard; score trend per agent
    kept = store.report_charts()
    assert len(kept) == 6 + 3

    drawn.clear()
    build_reports(store, src, out)
    assert drawn == [] and store.report_charts() == kept

    alert = store.alerts()[0]
    store.set_alert_status(alert["id"], "resolved")
    card = store.scorecard("good")
    store.add_override("good", card["answers"][0]["question_id"], "fail", reviewer="qa")
    drawn.clear()
    build_reports(store, src, out)
    # the two changed calls' sentiment charts, the dashboard's alerts by status and reviewed pass rates (the
    # agents' score trends show machine totals: unchanged)
    assert len(drawn) == 4
    after = store.report_charts()

    from reports.data import gather

    incremental = _files(out)
    assert "<td>resolved</td>" in incremental["alerts.html"].decode()
    scratch = tmp_path / "scratch"
    with store.engine.begin() as c:  # forget the cache: everything rendered again
        c.execute(sa.text("DELETE FROM report_cache"))
        c.execute(sa.text("DELETE FROM report_charts"))
    build_reports(store, src, scratch)
    assert _files(scratch) == incremental
    assert set(store.report_charts()) == set(after)  # the same inputs: the same digests
    assert gather(store, src).calls  # the non-incremental view still reads everything


def test_reviewers_answers_reach_the_csv_of_an_incremental_build(tmp_path):
    import csv
    import io

    store, src = build(tmp_path)
    out = tmp_path / "out"
    build_reports(store, src, out)
    store.add_override("autofail", "forbidden_phrases", "pass", reviewer="qa")
    build_reports(store, src, out)
    rows = list(csv.DictReader(io.StringIO((out / "scorecards.csv").read_text("utf-8"))))
    fp = next(r for r in rows if r["call_id"] == "autofail" and r["question_id"] == "forbidden_phrases")
    assert (fp["answer"], fp["reviewed_answer"], fp["reviewer"]) == ("fail", "pass", "qa")
    assert {r["reviewed_total"] for r in rows if r["call_id"] == "autofail"} != {"0.0"}
