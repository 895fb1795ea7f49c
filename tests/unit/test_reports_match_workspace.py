"""The static export and the reviewers' workspace agree: on one real SQLite results DB (test_web_fixture: calls
analysed by the real pipeline stage, two tenants), after a reviewer's override and an alert status change made
through the workspace's JSON API, the export's numbers equal what `/api/...` returns for the same DB: the
dashboard's per-question pass rates (machine and reviewed) and alert counts by status, the alert queue's order
and statuses, a call's reviewed answer and total, the coaching picks; the other tenant's call is in neither."""
from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter

import pytest

from reports.build import build_reports

from .test_web_fixture import ACME, GOOD, as_user, csrf_of, fresh_copy

FIRST, LAST = "2026-11-20", "2026-11-25"  # the default tenant's first and last call start days


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    store, src, root = fresh_copy(tmp_path_factory)
    data = (store, src, root)
    qa, comp = as_user(data, "qa"), as_user(data, "comp")
    r = qa.post(f"/api/overrides/{GOOD}", json={"question_id": "recap", "answer": "fail", "comment": "no recap"},
                headers={"X-CSRF-Token": csrf_of(qa)})
    assert r.status_code == 204
    first = comp.get("/api/alerts?status=all").json()[0]
    r = comp.post(f"/api/alerts/{first['id']}/status", json={"status": "acknowledged"},
                  headers={"X-CSRF-Token": csrf_of(comp)})
    assert r.status_code == 200
    index = build_reports(store, src, root / "out")
    return data, index, root / "out", {"qa": qa, "comp": comp, "coach": as_user(data, "coach")}


def _page(out, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def _rows(page: str, table_id: str) -> list[str]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr\b.*?</tr>", body.split("<tbody>", 1)[1], flags=re.S)


def _cells(row: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", row, re.S)]


def _attr(row: str, name: str) -> str:
    return html.unescape(re.search(rf'{name}="([^"]*)"', row).group(1))


def test_dashboard_pass_rates_and_alert_counts_equal_the_api(both):
    _, _, out, users = both
    page = _page(out, "dashboard.html")
    api = users["qa"].get(f"/api/dashboard?date_from={FIRST}&date_to={LAST}").json()
    assert f"call start days {FIRST} to {LAST} per day" in page

    exported = {}
    for row in _rows(page, "pass-rates"):
        c = _cells(row)
        exported[_attr(row, "data-question")] = ((int(c[1]), int(c[2])), (int(c[4]), int(c[5])))
    from_api = {q["question_id"]: tuple((sum(t["passed"] for t in q[kind]), sum(t["failed"] for t in q[kind]))
                                        for kind in ("machine", "reviewed")) for q in api["questions"]}
    assert exported == from_api and len(exported) > 5
    machine, reviewed = exported["recap"]
    assert reviewed == (machine[0] - 1, machine[1] + 1), "the override moved one recap answer from pass to fail"

    by_status = {_attr(r, "data-status"): int(_cells(r)[1]) for r in _rows(page, "alerts-by-status")}
    api_status = Counter()
    for a in api["alerts"]:
        api_status[a["status"]] += a["count"]
    assert by_status == dict(api_status) and by_status["acknowledged"] == 1
    counts = {(_attr(r, "data-category"), _attr(r, "data-severity"), _attr(r, "data-status")): int(_cells(r)[3])
              for r in _rows(page, "alert-counts")}
    assert counts == {(a["category"], a["severity"], a["status"]): a["count"] for a in api["alerts"]}

    num = lambda i: re.search(rf'id="{i}">([^<]+)<', page).group(1)  # noqa: E731
    assert int(num("n-calls")) == sum(api["calls"]) and int(num("n-scored")) == sum(api["scored"])
    assert float(num("mean-score")) == api["mean_score"]
    assert int(num("n-autofail")) == sum(api["auto_failed"])
    assert int(num("n-autofail-reviewed")) == sum(api["auto_failed_reviewed"])
    assert int(num("n-reviewed")) == api["reviewed_calls"] == 1


def test_alert_queue_order_and_statuses_equal_the_api(both):
    _, index, out, users = both
    api = users["comp"].get("/api/alerts?status=all&limit=500")
    assert int(api.headers["X-Total-Count"]) == index.alerts
    rows = list(csv.DictReader(io.StringIO(_page(out, "alerts.csv"))))
    assert [int(r["alert_id"]) for r in rows] == [a["id"] for a in api.json()]
    assert [r["status"] for r in rows] == [a["status"] for a in api.json()]
    shown = dict(re.findall(r'<span data-status="(\w+)">\w+: (\d+)</span>', _page(out, "alerts.html")))
    assert {k: int(v) for k, v in shown.items()} == Counter(a["status"] for a in api.json())


def test_a_calls_reviewed_answer_equals_the_api(both):
    _, _, out, users = both
    card = users["qa"].get(f"/api/calls/{GOOD}").json()["scorecard"]
    recap = next(a for a in card["answers"] if a["question_id"] == "recap")
    rows = [r for r in csv.DictReader(io.StringIO(_page(out, "scorecards.csv"))) if r["call_id"] == GOOD]
    row = next(r for r in rows if r["question_id"] == "recap")
    assert (row["answer"], row["reviewed_answer"], row["reviewer"]) == \
        (recap["answer"], recap["override"]["answer"], recap["override"]["reviewer"]) == ("pass", "fail", "qa")
    assert {float(r["reviewed_total"]) for r in rows} == {card["reviewed_total"]}
    assert card["reviewed_total"] != card["total"]
    index_row = next(r for r in _rows(_page(out, "index.html"), "calls") if f">{GOOD}</a>" in r)
    assert f"reviewed {card['reviewed_total']:.1f}" in index_row


def test_coaching_picks_equal_the_api(both):
    _, _, out, users = both
    page = _page(out, "coaching.html")
    picks = users["coach"].get("/api/coaching/picks").json()
    assert picks
    for p in picks:
        section = page.split(f'data-agent="{html.escape(p["agent"])}"', 1)[1].split("</section>", 1)[0]
        lowest = section.split('class="lowest"', 1)[1].split("</ol>", 1)[0]
        assert re.findall(r'<a href="[^"]+">([^<]+)</a>', lowest) == [x["call_id"] for x in p["lowest"]]
        failed = re.findall(r'<dt data-question="([^"]+)">', section)
        assert failed == [q["question_id"] for q in p["failed_questions"]]
        best = re.findall(r'<a href="[^"]+">([^<]+)</a>', section.split("Best examples", 1)[1])
        assert best == [x["call_id"] for x in p["best"]]


def test_the_other_tenants_call_is_in_neither(both):
    (store, _, _), index, out, _ = both
    assert f"calls/{ACME}.html" not in index.files and not (out / "calls" / f"{ACME}.html").exists()
    assert ACME not in _page(out, "scorecards.csv") and ACME not in _page(out, "alerts.csv")
    assert index.calls == 4 and any(c.id == ACME for c in store.call_details())
