"""The dashboard page and /api/dashboard on real data (test_web_fixture): figures equal to counts taken from the
store directly, drill-down links whose targets list what was counted, machine vs reviewed answers, roles,
tenants, escaping."""
from __future__ import annotations

import html
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from .test_web_fixture import ACME, AUTOFAIL, CALLS, GOOD, OTHER, ZH, as_user as _as, client, csrf_of, fresh_copy

DEFAULT = (GOOD, AUTOFAIL, OTHER, ZH)  # the default tenant's calls; ACME belongs to tenant "acme"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _marks(page: str, chart: str) -> list[tuple[str, str]]:
    """(href, tooltip) of every linked mark of one chart on the page."""
    svg = page.split(f'id="{chart}"', 1)[1].split("</figure>", 1)[0]
    return [(html.unescape(h), html.unescape(t)) for h, t in
            re.findall(r'<a href="([^"]+)" class="mark"><title>([^<]*)</title>', svg)]


def _machine_tallies(store, call_ids) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for card in store.scorecards():
        if card.call_id in call_ids:
            for a in card.body["answers"]:
                out.setdefault(a["question_id"], Counter())[a["answer"]] += 1
    return out


def _totals(api: dict, question: str, kind: str) -> tuple[int, int]:
    q = next(x for x in api["questions"] if x["question_id"] == question)
    return sum(t["passed"] for t in q[kind]), sum(t["failed"] for t in q[kind])


def test_figures_equal_counts_taken_from_the_store(data):
    store = data[0]
    api = _as(data, "qa").get("/api/dashboard").json()
    # default range: 12 weeks up to the tenant's latest call (acme's later call does not move it)
    assert api["date_to"] == "2026-11-25" and api["date_from"] == "2026-09-07" and api["bucket"] == "week"
    assert sum(api["calls"]) == len(DEFAULT)
    queues = Counter(CALLS[c]["queue"] for c in DEFAULT)
    assert {s["name"]: sum(s["values"]) for s in api["volume_by_queue"]} == queues
    assert {s["name"]: sum(s["values"]) for s in api["volume_by_language"]} == \
        Counter(CALLS[c]["language"] for c in DEFAULT)
    assert {s["name"]: sum(s["values"]) for s in api["volume_by_direction"]} == {"inbound": len(DEFAULT)}
    cards = [c for c in store.scorecards() if c.call_id in DEFAULT]
    assert sum(api["scored"]) == len(cards) == 4
    assert sum(api["auto_failed"]) == sum(c.auto_failed for c in cards) == 1
    assert api["mean_score"] == pytest.approx(sum(c.total for c in cards) / len(cards), abs=0.01)
    billing = [c.total for c in cards if CALLS[c.call_id]["queue"] == "billing"]
    means = next(s for s in api["mean_score_by_queue"] if s["name"] == "billing")["values"]
    assert [v for v in means if v is not None] == [pytest.approx(sum(billing) / len(billing), abs=0.01)]
    for qid, tally in _machine_tallies(store, DEFAULT).items():
        assert _totals(api, qid, "machine") == _totals(api, qid, "reviewed") == (tally["pass"], tally["fail"])
    alerts = Counter((a["status"], a["category"], a["severity"]) for a in store.alerts() if a["call_id"] in DEFAULT)
    assert {(a["status"], a["category"], a["severity"]): a["count"] for a in api["alerts"]} == alerts
    assert api["calls"][-2:] == [2, 2] and sum(api["calls"][:-2]) == 0 and api["periods"][-1] == {"start": "2026-11-23", "end": "2026-11-25"}


def test_the_other_tenants_call_is_never_counted(data):
    api = _as(data, "qa").get("/api/dashboard?date_from=2026-11-01&date_to=2026-11-30").json()
    assert sum(api["calls"]) == len(DEFAULT), "acme's call (2026-11-26) is in range but not this tenant's"
    acme = _as(data, "acme.admin", tenant="acme").get("/api/dashboard").json()
    assert sum(acme["calls"]) == 1 and acme["date_to"] == "2026-11-26"
    assert {s["name"] for s in acme["volume_by_queue"]} == {CALLS[ACME]["queue"]}
    assert sum(a["count"] for a in acme["alerts"]) == len([a for a in data[0].alerts() if a["call_id"] == ACME])
    page = _as(data, "admin").get("/dashboard?date_from=2026-11-01&date_to=2026-11-30").text
    assert ACME not in page and 'id="tile-calls"' in page and ">4</span> <span class=\"label\">calls" in page


def test_volume_and_score_links_list_the_calls_counted(data):
    qa = _as(data, "qa")
    page = qa.get("/dashboard?date_from=2026-11-16&date_to=2026-11-29&bucket=day").text
    marks = _marks(page, "volume-queue")
    assert len(marks) == len(DEFAULT), "one bar per queue and day here"
    for href, title in marks:
        count = int(re.search(r": (\d+) calls?$", title)[1])
        assert href.startswith("/calls?") and qa.get("/api" + href).json()["total"] == count
    params = parse_qs(urlsplit(next(h for h, t in marks if t.startswith("billing, 2026-11-22"))).query)
    assert params == {"queue": ["billing"], "date_from": ["2026-11-22"], "date_to": ["2026-11-22"]}
    assert {i["id"] for i in qa.get("/api" + next(h for h, t in marks if "2026-11-22" in t)).json()["items"]} == \
        {AUTOFAIL}
    for chart in ("volume-language", "volume-direction", "score-queue"):
        for href, title in _marks(page, chart):
            listed = qa.get("/api" + href).json()
            if chart == "score-queue":  # the mean of the listed calls' scores is the point's value
                mean = sum(i["total"] for i in listed["items"]) / listed["total"]
                assert title.endswith(f": {mean:.0f}")
            else:
                assert listed["total"] == int(re.search(r": (\d+) calls?$", title)[1])
    weeks = qa.get("/dashboard?date_from=2026-11-18&date_to=2026-11-27&bucket=week").text  # clipped weeks
    assert any(t.startswith("billing, 2026-11-18 to 2026-11-22: 2 calls") for _, t in _marks(weeks, "volume-queue"))
    assert sorted(int(re.search(r": (\d+) calls?$", t)[1]) for _, t in _marks(weeks, "volume-queue")) == [1, 1, 2]


def test_question_auto_fail_and_alert_links(data):
    qa, comp = _as(data, "qa"), _as(data, "comp")
    page = qa.get("/dashboard?date_from=2026-11-16&date_to=2026-11-29&bucket=week").text
    cells = _marks(page, "pass-rates")
    assert cells
    for href, title in cells:
        failed = int(re.search(r"(\d+) failed of (\d+)$", title)[1])
        assert "failed_question=" in href and qa.get("/api" + href).json()["total"] == failed
    (href, title), = [m for m in _marks(page, "auto-fail") if m[1].endswith("2026-11-22: 50%")]
    assert [i["id"] for i in qa.get("/api" + href).json()["items"]] == [AUTOFAIL]
    # a reviewer has no alert queue: alert bars list the calls with such alerts
    in_default = [a for a in data[0].alerts() if a["call_id"] in DEFAULT]
    for href, title in _marks(page, "alerts-category"):
        q = parse_qs(urlsplit(href).query)
        wanted = {a["call_id"] for a in in_default if a["status"] == q["alert_status"][0]
                  and a["category"] == q["alert_category"][0]}
        assert {i["id"] for i in qa.get("/api" + href).json()["items"]} == wanted
    severity_marks = _marks(page, "alerts-severity")
    assert severity_marks
    for href, title in severity_marks:  # and severity bars the calls with an alert of that severity and status
        q = parse_qs(urlsplit(href).query)
        wanted = {a["call_id"] for a in in_default if a["status"] == q["alert_status"][0]
                  and a["severity"] == q["alert_severity"][0]}
        assert href.startswith("/calls?") and {i["id"] for i in qa.get("/api" + href).json()["items"]} == wanted
    # a compliance officer's alert bars open the alert queue, filtered to the alerts counted
    page = comp.get("/dashboard?date_from=2026-11-16&date_to=2026-11-29").text
    for chart in ("alerts-category", "alerts-severity"):
        marks = _marks(page, chart)
        assert marks
        for href, title in marks:
            assert href.startswith("/alerts?")
            count = int(re.search(r": (\d+) alerts?$", title)[1])
            assert len(comp.get("/api" + href).json()) == count
    assert 'href="/alerts?status=new&amp;category=reputation"' in page


def test_override_changes_the_reviewed_pass_rate_not_the_machine_one(tmp_path_factory):
    data = fresh_copy(tmp_path_factory)
    qa = _as(data, "qa")
    before = qa.get("/api/dashboard").json()
    assert before["reviewed_calls"] == 0 and before["auto_failed_reviewed"] == before["auto_failed"]
    for call_id, question, answer in ((GOOD, "greeting", "fail"), (AUTOFAIL, "forbidden_phrases", "pass")):
        r = qa.post(f"/api/overrides/{call_id}", json={"question_id": question, "answer": answer},
                    headers={"X-CSRF-Token": csrf_of(qa)})
        assert r.status_code == 204, r.text
    after = qa.get("/api/dashboard").json()
    for qid in ("greeting", "forbidden_phrases"):
        assert _totals(after, qid, "machine") == _totals(before, qid, "machine")
    p, f = _totals(before, "greeting", "reviewed")
    assert _totals(after, "greeting", "reviewed") == (p - 1, f + 1)
    p, f = _totals(before, "forbidden_phrases", "reviewed")
    assert _totals(after, "forbidden_phrases", "reviewed") == (p + 1, f - 1)
    assert sum(after["auto_failed"]) == 1 and sum(after["auto_failed_reviewed"]) == 0
    assert after["reviewed_calls"] == 2
    reviewed = qa.get("/dashboard?view=reviewed&date_from=2026-11-16&date_to=2026-11-22&bucket=week").text
    (href, title), = [m for m in _marks(reviewed, "pass-rates") if m[1].startswith("greeting")]
    assert title.endswith("1 failed of 2") and [i["id"] for i in qa.get("/api" + href).json()["items"]] == [GOOD]
    machine = qa.get("/dashboard?view=machine&date_from=2026-11-16&date_to=2026-11-22&bucket=week").text
    assert [t for _, t in _marks(machine, "pass-rates") if t.startswith("greeting")][0].endswith("0 failed of 2")
    assert 'id="tile-reviewed" href="/calls?reviewed=yes' in machine.replace("&amp;", "&")
    # an alert handled meanwhile moves between statuses at once
    comp = _as(data, "comp")
    first = comp.get("/api/alerts").json()[0]
    comp.post(f"/api/alerts/{first['id']}/status", json={"status": "resolved"}, headers={"X-CSRF-Token": csrf_of(comp)})
    statuses = Counter()
    for a in qa.get("/api/dashboard").json()["alerts"]:
        statuses[a["status"]] += a["count"]
    assert statuses["resolved"] == 1


def test_machine_view_cells_list_the_calls_whose_machine_answer_failed(tmp_path_factory):
    data = fresh_copy(tmp_path_factory)
    store, qa = data[0], _as(data, "qa")
    for call_id, question, answer in ((GOOD, "greeting", "fail"), (AUTOFAIL, "forbidden_phrases", "pass")):
        r = qa.post(f"/api/overrides/{call_id}", json={"question_id": question, "answer": answer},
                    headers={"X-CSRF-Token": csrf_of(qa)})
        assert r.status_code == 204, r.text
    machine = {(c.call_id, a["question_id"]): a["answer"] for c in store.scorecards() for a in c.body["answers"]}
    assert machine[(AUTOFAIL, "forbidden_phrases")] == "fail" and machine[(GOOD, "greeting")] != "fail"
    span = "date_from=2026-11-16&date_to=2026-11-29&bucket=week"
    cells = _marks(qa.get(f"/dashboard?view=machine&{span}").text, "pass-rates")
    assert cells
    for href, title in cells:
        q = parse_qs(urlsplit(href).query)
        assert q["answers"] == ["machine"], href
        qid, start, end = q["failed_question"][0], q["date_from"][0], q["date_to"][0]
        wanted = {cid for cid in DEFAULT if start <= CALLS[cid]["started"].date().isoformat() <= end
                  and machine.get((cid, qid)) == "fail"}
        listed = {i["id"] for i in qa.get("/api" + href).json()["items"]}
        assert listed == wanted, (title, href)
        assert int(re.search(r"(\d+) failed of", title)[1]) == len(wanted)
    (forbidden, _), = [m for m in cells if "failed_question=forbidden_phrases" in m[0] and "2026-11-16" in m[0]]
    assert {i["id"] for i in qa.get("/api" + forbidden).json()["items"]} == {AUTOFAIL}, "machine fail, reviewed pass"
    page = qa.get(forbidden).text
    assert f'href="/calls/{AUTOFAIL}"' in page and 'value="machine" selected' in page
    reviewed = _marks(qa.get(f"/dashboard?view=reviewed&{span}").text, "pass-rates")
    assert all("answers=" not in h for h, _ in reviewed)
    (greeting, _), = [m for m in reviewed if "failed_question=greeting" in m[0] and "2026-11-16" in m[0]]
    assert {i["id"] for i in qa.get("/api" + greeting).json()["items"]} == {GOOD}, "the reviewer's fail"
    assert GOOD not in {i["id"] for i in qa.get("/api" + greeting + "&answers=machine").json()["items"]}
    assert qa.get("/api/calls?failed_question=greeting&answers=both").status_code == 422


def test_roles_and_sign_in(data):
    for name in ("agent1", "agent2"):
        agent = _as(data, name)
        assert agent.get("/dashboard").status_code == 403
        assert agent.get("/api/dashboard").status_code == 403
        assert 'href="/dashboard"' not in agent.get("/calls").text
    for name in ("qa", "qalead", "comp", "coach", "admin"):
        assert _as(data, name).get("/dashboard").status_code == 200
    anonymous = client(*data[:2])
    assert anonymous.get("/dashboard", follow_redirects=False).headers["location"] == "/login?next=/dashboard"
    assert anonymous.get("/api/dashboard").status_code == 401


def test_queue_names_are_escaped_in_svg_and_links(tmp_path_factory):
    data = fresh_copy(tmp_path_factory)
    evil = "<script>alert(1)</script>"
    with data[0].engine.begin() as c:
        c.execute(sa.text("UPDATE calls SET queue = :q WHERE id = :i"), {"q": evil, "i": OTHER})
    qa = _as(data, "qa")
    page = qa.get("/dashboard?date_from=2026-11-16&date_to=2026-11-29").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.split('id="volume-queue"', 1)[1]
    hrefs = [h for h, t in _marks(page, "volume-queue") if t.startswith(evil)]
    assert hrefs and "queue=%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in hrefs[0]
    assert [i["id"] for i in qa.get("/api" + hrefs[0]).json()["items"]] == [OTHER]
    selected = qa.get("/dashboard?queue=" + "%3Cscript%3Ealert%281%29%3C%2Fscript%3E").text
    assert "<script>alert(1)" not in selected and sum(qa.get(
        "/api/dashboard?queue=%3Cscript%3Ealert%281%29%3C%2Fscript%3E").json()["calls"]) == 1


def test_ranges_buckets_and_errors(data):
    qa = _as(data, "qa")
    days = qa.get("/api/dashboard?date_from=2026-11-20&date_to=2026-11-25&bucket=day").json()
    assert len(days["periods"]) == 6 and days["calls"] == [1, 0, 1, 0, 1, 1]
    assert qa.get("/api/dashboard?date_from=2026-11-25&date_to=2026-11-20").status_code == 422
    assert qa.get("/api/dashboard?date_from=2020-01-01&date_to=2026-11-20").status_code == 422
    assert qa.get("/api/dashboard?date_from=yesterday").status_code == 422
    assert qa.get("/api/dashboard?bucket=month").status_code == 422
    assert qa.get("/dashboard?view=both").status_code == 422
    billing = qa.get("/api/dashboard?queue=billing&date_from=2026-11-01&date_to=2026-11-30").json()
    assert sum(billing["calls"]) == 2 and {s["name"] for s in billing["volume_by_language"]} == {"en"}
    page = qa.get("/dashboard?queue=billing&date_from=2026-11-01&date_to=2026-11-30").text
    assert all("queue=billing" in h for h, _ in _marks(page, "volume-language") + _marks(page, "pass-rates"))
    schema = qa.get("/api/openapi.json").json()
    assert "/api/dashboard" in schema["paths"] and "/dashboard" not in schema["paths"]
    assert "style=" not in page.split("<main>", 1)[1], "the CSP allows no inline style"
