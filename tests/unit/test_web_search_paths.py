"""The calls list's faster paths on real data (test_web_fixture plus generated calls): a search with many hits
walks the calls in order and probes the full-text index, and must list exactly what the join of all hits
lists; sorting by score drives the query from the scores' index, calls without a score last, and pages join
up without gaps or repeats; an older database gets the full-text rowids it needs."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.keys import redacted_transcript_key
from core.models import Call
from infra import search
from infra.search import CallFilter, TranscriptIndex, list_calls

from .test_web_fixture import AUTOFAIL, GOOD, OTHER, as_user as _as, fresh_copy


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The fixture plus 30 indexed calls sharing a word (copies of GOOD's transcript) and 3 calls that were
    never scored."""
    data = fresh_copy(tmp_path_factory)
    store, src = data[0], data[1]
    body = src.read(redacted_transcript_key(GOOD))
    assert body is not None
    for i in range(30):
        call_id = f"2026/11/{1 + i % 28:02d}/copy-{i}"
        assert store.claim(Call(call_id, f"recordings/{call_id}.wav", "e1", agent="a-1001", queue="billing",
                                direction="inbound", started_at=datetime(2026, 11, 1, 8) + timedelta(hours=7 * i)))
        store.mark_done(call_id, transcript_key=f"transcripts/{call_id}.json", language="en", duration=30.0)
        src.write(redacted_transcript_key(call_id), body)
    for i in range(3):
        call_id = f"2026/11/30/unscored-{i}"
        assert store.claim(Call(call_id, f"recordings/{call_id}.wav", "e1", agent="a-1001", queue="billing",
                                direction="inbound", started_at=datetime(2026, 11, 30, 9, i)))
    TranscriptIndex(store.engine).sync("default", src)
    return data


def _ids(engine, **f) -> tuple[int, list[str]]:
    page = list_calls(engine, "default", CallFilter(**f))
    return page.total, [i.id for i in page.items]


@pytest.mark.parametrize("extra", [{}, {"queue": "billing"}, {"sort": "duration", "descending": False},
                                   {"per_page": 7, "page": 3}, {"agent": "a-1001", "per_page": 5, "page": 2}])
def test_probing_in_order_lists_exactly_what_the_join_of_all_hits_lists(data, monkeypatch, extra):
    engine = data[0].engine
    joined = _ids(engine, q="refunded", **extra)
    monkeypatch.setattr(search, "SMALL_HITS", 0)  # every search takes the probing path
    probed = _ids(engine, q="refunded", **extra)
    assert probed == joined and joined[0] >= 31 and joined[1]
    assert _ids(engine, q="refunded charge", **extra) == probed, "both words, in every hit here"
    assert _ids(engine, q="ombudsman", **extra) == (0, [])


def test_search_snippets_and_tenant_stay_right(data, monkeypatch):
    monkeypatch.setattr(search, "SMALL_HITS", 0)
    qa = _as(data, "qa")
    listed = qa.get("/api/calls?q=refunded&per_page=200").json()
    assert listed["total"] == 31 and all("[[refunded]]" in i["snippet"] for i in listed["items"])
    assert AUTOFAIL not in {i["id"] for i in listed["items"]}
    acme = _as(data, "acme.admin", tenant="acme").get("/api/calls?q=press").json()
    assert [i["id"] for i in acme["items"]] == ["2026/11/26/acme"], "the other tenant's hits only"
    assert qa.get("/api/calls?q=parcel").json()["total"] == 0, "a word only the other tenant's call has"


@pytest.mark.parametrize("descending", [False, True])
def test_score_order_puts_unscored_calls_last_and_pages_join_up(data, descending):
    engine = data[0].engine
    total, everything = _ids(engine, sort="total", descending=descending, per_page=200)
    items = list_calls(engine, "default", CallFilter(sort="total", descending=descending, per_page=200)).items
    scores = [i.total for i in items]
    scored = [s for s in scores if s is not None]
    assert scores[len(scored):] == [None] * (len(scores) - len(scored)) and len(scores) - len(scored) >= 3
    assert scored == sorted(scored, reverse=descending)
    assert total == len(everything) == _ids(engine, per_page=200)[0]
    paged = []
    for page in range(1, total // 4 + 2):
        paged += _ids(engine, sort="total", descending=descending, per_page=4, page=page)[1]
    assert paged == everything, "pages of 4 across the scored/unscored boundary: no gap, no repeat"
    assert _ids(engine, sort="total", descending=descending, per_page=4, page=total // 4 + 5)[1] == []
    low = _ids(engine, sort="total", descending=descending, score_max=50, per_page=200)[1]
    assert low and all(i.total is not None and i.total <= 50 for i in items if i.id in low)
    assert set(low) == {i.id for i in items if i.total is not None and i.total <= 50}, "no unscored call"
    agent = _ids(engine, sort="total", descending=descending, agent="a-2002", per_page=200)[1]
    assert agent == [OTHER]


def test_an_older_database_gets_the_full_text_rowids(tmp_path_factory):
    store, src, _ = fresh_copy(tmp_path_factory)
    index = TranscriptIndex(store.engine)
    index.sync("default", src)
    with store.engine.begin() as c:
        before = dict(c.execute(sa.text("SELECT call_id, rowid FROM transcript_fts")).all())
        c.execute(sa.text("DROP INDEX ix_transcript_index_fts"))
        c.execute(sa.text("ALTER TABLE transcript_index DROP COLUMN fts_rowid"))
    TranscriptIndex(store.engine)
    with store.engine.connect() as c:
        after = dict(c.execute(sa.text("SELECT call_id, fts_rowid FROM transcript_index")).all())
    assert before and after == before
    assert _ids(store.engine, q="refunded")[1] == [GOOD]


def test_a_call_moved_to_another_tenant_is_counted_there_only(tmp_path_factory):
    store, src, _ = fresh_copy(tmp_path_factory)
    index = TranscriptIndex(store.engine)
    assert index.sync("default", src) and index.sync("acme", src) == 1
    assert _ids(store.engine, q="refunded") == (1, [GOOD])
    with store.engine.begin() as c:
        c.execute(sa.text("UPDATE calls SET tenant = 'acme' WHERE id = :i"), {"i": GOOD})
    assert index.sync("acme", src) == 1, "re-indexed under its new tenant"
    assert _ids(store.engine, q="refunded") == (0, [])
    acme = list_calls(store.engine, "acme", CallFilter(q="refunded"))
    assert (acme.total, [i.id for i in acme.items]) == (1, [GOOD]) and "refunded" in acme.items[0].snippet
