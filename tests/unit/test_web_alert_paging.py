"""Paging of the alert queue on real data (test_web_fixture plus generated alerts): the API's limit/offset walk
every alert once in a stable order with the total; the grouped queue counts a group once, over every page,
with its size; the page's links keep the filters (and an expanded group) from page to page."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from core.models import Call

from .test_web_alert_queue import DISCLOSURE, RANK, _rule
from .test_web_fixture import as_user as _as, fresh_copy

HIGH = ("media_threat", "high", "Customer threatens to go to the media")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The fixture's alerts plus 70 sales calls with one high alert each and 6 billing calls with a medium
    disclosure alert each (a group of 7 with the fixture's own billing one)."""
    data = fresh_copy(tmp_path_factory)
    store = data[0]
    title = next(a["title"] for a in store.alerts() if a["rule_id"] == DISCLOSURE)
    for i, (queue, rule) in enumerate([("sales", HIGH)] * 70 + [("billing", (DISCLOSURE, "medium", title))] * 6):
        call_id = f"2026/12/01/paged-{i}"
        assert store.claim(Call(call_id, f"recordings/{call_id}.wav", "e1", agent="a-1001", queue=queue,
                                direction="inbound", started_at=datetime(2026, 12, 1, 9) + timedelta(minutes=i)))
        store.replace_alerts(call_id, [_rule(*rule)])
    return data


def _links(html: str, rel: str) -> str | None:
    m = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return m.group(1).replace("&amp;", "&") if m else None


def test_api_pages_walk_every_alert_once_in_a_stable_order_with_the_total(data):
    comp = _as(data, "comp")
    everything = comp.get("/api/alerts?limit=500")
    expected = [a["id"] for a in everything.json()]
    assert len(expected) > 80 and everything.headers["x-total-count"] == str(len(expected))
    walked, offset = [], 0
    while True:
        r = comp.get(f"/api/alerts?limit=30&offset={offset}")
        assert r.headers["x-total-count"] == str(len(expected))
        if not r.json():
            break
        assert len(r.json()) <= 30
        walked += [a["id"] for a in r.json()]
        offset += 30
    assert walked == expected, "pages in the one stable order, nothing twice, nothing missing"
    assert len(comp.get("/api/alerts").json()) == 50, "50 by default, not everything"
    high = comp.get("/api/alerts?severity=high&limit=10&offset=10")
    assert {a["severity"] for a in high.json()} == {"high"} and len(high.json()) == 10
    assert int(high.headers["x-total-count"]) == sum(1 for a in everything.json() if a["severity"] == "high")
    for bad in ("limit=0", "limit=501", "offset=-1"):
        assert comp.get(f"/api/alerts?{bad}").status_code == 422
        assert comp.get(f"/api/alerts/queue?{bad}").status_code == 422


def test_grouped_queue_pages_count_a_group_once_over_every_page(data):
    comp = _as(data, "comp")
    first = comp.get("/api/alerts/queue?limit=20").json()
    total, row_total = first["total"], first["row_total"]
    assert total == int(comp.get("/api/alerts").headers["x-total-count"])
    rows = []
    for offset in range(0, row_total, 20):
        page = comp.get(f"/api/alerts/queue?limit=20&offset={offset}").json()
        assert (page["total"], page["row_total"], page["offset"], page["limit"]) == (total, row_total, offset, 20)
        rows += page["rows"]
    assert len(rows) == row_total
    groups = [r["group"] for r in rows if r["kind"] == "group"]
    billing = [g for g in groups if (g["rule_id"], g["queue"]) == (DISCLOSURE, "billing")]
    assert len(billing) == 1, "one group row for the whole queue, not one per page"
    g = billing[0]
    assert g["size"] == len(g["alert_ids"]) == g["calls"] == 7
    singles = [r["alert"]["id"] for r in rows if r["kind"] == "alert"]
    assert not set(g["alert_ids"]) & set(singles) and len(singles) == len(set(singles))
    assert len(singles) + sum(x["size"] for x in groups) == total, "every alert once, alone or in a group"
    ranks = [RANK[(r["alert"] or r["group"])["severity"]] for r in rows]
    assert ranks == sorted(ranks), "critical and high first across pages"

    expanded = comp.get(f"/api/alerts/queue?limit=500&expand={g['key']}").json()
    assert expanded["row_total"] == row_total + 6
    assert set(g["alert_ids"]) <= {r["alert"]["id"] for r in expanded["rows"] if r["kind"] == "alert"}


def test_page_links_keep_the_filters(data):
    comp = _as(data, "comp")
    page1 = comp.get("/alerts?severity=high&category=reputation&assignee=none").text
    assert re.search(r'id="alert-count">\d+ alerts \(new\) · rows 1–50 of \d+', page1)
    nxt = _links(page1, "next")
    assert nxt and _links(page1, "prev") is None
    assert all(p in nxt for p in ("severity=high", "category=reputation", "assignee=none", "status=new", "page=2"))
    page2 = comp.get(nxt).text
    assert 'value="high" selected' in page2 and 'value="reputation" selected' in page2
    shown1 = set(re.findall(r'id="alert-(\d+)"', page1))
    shown2 = set(re.findall(r'id="alert-(\d+)"', page2))
    assert shown2 and not shown1 & shown2
    api = comp.get("/api/alerts?severity=high&category=reputation&assignee=none&limit=500").json()
    assert shown1 | shown2 == {str(a["id"]) for a in api}, "the two pages hold exactly the filtered alerts"
    assert set(re.findall(r'class="badge sev-(\w+)"', page2)) == {"high"}
    prev = _links(page2, "prev")
    assert "severity=high" in prev and "category=reputation" in prev and "page=" not in prev
    back = re.search(r'name="back" value="([^"]+)"', page2).group(1).replace("&amp;", "&")
    assert back.startswith("/alerts?") and "page=2" in back and "severity=high" in back, "actions return here"

    page2 = comp.get("/alerts?page=2").text  # the group row (after the 70-odd high alerts) is on page 2
    expand = re.search(r'class="expand" href="([^"]+)"', page2).group(1).replace("&amp;", "&")
    assert all(p in expand for p in ("status=new", "expand=", "page=2")), "expanding stays on the group's page"
    expanded = comp.get(expand).text
    assert "expand=" in _links(expanded, "prev"), "paging an expanded queue keeps it expanded"
