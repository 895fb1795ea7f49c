"""The workspace's calls list on a real PostgreSQL server: full-text search over the redacted transcripts
(Postgres full text, 'simple' configuration, GIN index), Chinese substrings, highlighted snippets, inert
query syntax, and the review filters, scoped by tenant."""
from __future__ import annotations

import pytest

from infra.search import MARK_END, MARK_START, CallFilter, TranscriptIndex, list_calls

from ..unit.test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, ZH, build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_calls(postgres_url, tmp_path_factory):
    store, src = build(tmp_path_factory.mktemp("pg-web"), postgres_url)
    index = TranscriptIndex(store.engine)
    assert index.enabled
    assert index.sync("default", src) == 4 and index.sync("acme", src) == 1
    assert index.sync("default", src) == 0, "an unchanged call is not indexed again"
    return store


def _ids(store, **f) -> list[str]:
    return [i.id for i in list_calls(store.engine, "default", CallFilter(**f)).items]


def test_full_text_search_on_postgres(pg_calls):
    store = pg_calls
    page = list_calls(store.engine, "default", CallFilter(q="press"))
    assert [i.id for i in page.items] == [AUTOFAIL], "the acme call says press too, in another tenant"
    assert f"{MARK_START}press{MARK_END}" in page.items[0].snippet
    assert _ids(store, q="律师") == [ZH] and _ids(store, q="找律师") == [ZH], "Chinese substrings match"
    assert _ids(store, q="0134") == [], "the index holds redacted text only"
    assert _ids(store, q="PHONE") == [AUTOFAIL], "placeholders are searchable"
    assert _ids(store, q="delivery address") == [OTHER], "all words required"
    assert _ids(store, q="delivery bill") == []
    assert _ids(store, q="press & ! | <-> :*") == [AUTOFAIL], "tsquery syntax in the input is inert"
    assert _ids(store, q="'; DROP TABLE calls; --") == []
    acme = list_calls(store.engine, "acme", CallFilter(q="press"))
    assert [i.id for i in acme.items] == [ACME]


def test_review_filters_on_postgres(pg_calls):
    store = pg_calls
    card = store.scorecard(GOOD)
    passed = next(a["question_id"] for a in card["answers"] if a["answer"] == "pass")
    assert GOOD not in _ids(store, failed_question=passed)
    store.add_override(GOOD, passed, "fail", reviewer="qa")
    assert GOOD in _ids(store, failed_question=passed) and GOOD in _ids(store, reviewed=True)
    store.add_override(GOOD, passed, "pass", reviewer="qa")
    assert GOOD not in _ids(store, failed_question=passed)
    assert set(_ids(store, score_min=0)) <= {GOOD, AUTOFAIL, OTHER, ZH}
