"""bench/web_pages.py kept from rotting: generation and timing at 50 calls (every page answers 200, the table
is printed), and the generated rows are what the app itself would have written."""
from __future__ import annotations

import json
import re

import sqlalchemy as sa

from bench import web_pages


def test_generated_rows_are_what_the_app_would_write(tmp_path):
    from infra.search import TranscriptIndex
    from infra.storage import LocalFolderSource
    from infra.store import ResultsStore

    info = web_pages.generate(tmp_path, 50, transcripts=3)
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    assert TranscriptIndex(store.engine).sync("default", LocalFolderSource(tmp_path / "src", "")) == 0, \
        "the generated full-text rows carry the versions sync would write: nothing to re-index"
    with store.engine.connect() as c:
        calls = c.execute(sa.text("SELECT count(*) FROM calls")).scalar()
        cards = c.execute(sa.text("SELECT count(*) FROM scorecards")).scalar()
        answers = c.execute(sa.text("SELECT count(*) FROM scorecard_answers")).scalar()
        fts = c.execute(sa.text("SELECT count(*) FROM transcript_fts")).scalar()
    assert calls == 50 and 0 < cards <= 50 and answers >= 7 * cards and fts == cards
    body = store.scorecards()[0].body
    assert {"answers", "sections", "sentiment", "kpis"} <= set(body) and len(info["with_text"]) == 3
    assert body["kpis"]["call_id"] == body["call_id"] and "@@" not in json.dumps(body), "per-call ids filled in"


def test_timing_at_50_calls_prints_every_page(capsys):
    assert web_pages.main(["--calls", "50", "--requests", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("50 calls generated in ")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| page")]
    pages = [r.split(" | ")[0].strip("| ") for r in rows]
    assert {"app start", "call list", "call page", "alert queue", "dashboard"} <= set(pages)
    assert len(rows) == 15  # start-up, first dashboard load, 11 timed pages, restart, first load after it
    assert [p for p in pages if p in ("app start", "dashboard")][:2] == ["app start", "dashboard"]
    assert "first request after the restart" in rows[-1] and "restart" in rows[-2]
    timed = [r for r in rows if not r.endswith("| – | – |")]
    assert len(timed) == 11
    for row in timed:
        median, p95 = (float(x) for x in re.findall(r"\| ([\d.]+) \| ([\d.]+) \| \d+ \|$", row)[0])
        assert 0 <= median <= p95


def test_a_kept_folder_is_measured_again_without_generating(tmp_path, capsys):
    assert web_pages.main(["--calls", "30", "--requests", "1", "--keep", str(tmp_path / "kept")]) == 0
    assert json.loads((tmp_path / "kept" / "info.json").read_text())["calls"] == 30
    capsys.readouterr()
    assert web_pages.main(["--from", str(tmp_path / "kept"), "--requests", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("30 calls copied in ")
    with sa.create_engine(f"sqlite:///{tmp_path}/kept/r.db").connect() as c:
        table = c.execute(sa.text("SELECT name FROM sqlite_master WHERE name = 'dashboard_calls'")).first()
        assert not table or c.execute(sa.text("SELECT count(*) FROM dashboard_calls")).scalar() == 0, \
            "the kept folder itself is left as generated: the app ran on a copy"
