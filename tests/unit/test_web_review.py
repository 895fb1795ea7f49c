"""QA review in the workspace on real data (test_web_fixture): reviewed totals beside the machine's, "Mark
reviewed", agents' acknowledgements and disputes, the QA leads' disputes queue, scorecard exports (CSV/JSON,
pages and API), CSRF, roles and tenant isolation."""
from __future__ import annotations

import csv
import io
import re

import pytest

from infra import review
from infra.accounts import AccountStore

from .test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, ZH, as_user as _as, csrf_of, fresh_copy


@pytest.fixture()
def data(tmp_path_factory):
    """A private copy per test: reviews and disputes written by one test must not leak into another."""
    return fresh_copy(tmp_path_factory)


def _form(c, path, **fields):
    return c.post(path, data={"csrf_token": csrf_of(c), **fields}, follow_redirects=False)


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _reviewed_total(html: str) -> str:
    return re.search(r'id="reviewed-total"[^>]*>([^<]+)<', html).group(1)


def test_override_changes_reviewed_total_and_export_keeps_both_answers(data):
    qa = _as(data, "qa")
    page = qa.get(f"/calls/{GOOD}").text
    assert 'id="total">100.0<' in page and _reviewed_total(page) == "100.0"
    assert 'id="reviewed-by"' not in page
    r = _form(qa, f"/overrides/{GOOD}", question_id="recap", answer="fail", comment="no recap at all")
    assert r.status_code == 303
    page = qa.get(f"/calls/{GOOD}").text
    assert 'id="total">100.0<' in page, "the machine total stays"
    assert _reviewed_total(page) == "90.0"
    assert 'id="reviewed-by">reviewed by qa<' in page
    card = qa.get(f"/api/calls/{GOOD}").json()["scorecard"]
    assert card["total"] == 100.0 and card["reviewed_total"] == 90.0 and card["reviewed_by"] == ["qa"]
    assert review.reviewers_by_call(data[0].engine, "default", [GOOD]) == {GOOD: {"qa"}}

    rows = _rows(qa.get("/exports/scorecards.csv?agent=a-1001").text)
    assert {r["call_id"] for r in rows} == {GOOD, AUTOFAIL}
    recap = next(r for r in rows if r["call_id"] == GOOD and r["question_id"] == "recap")
    assert (recap["machine_answer"], recap["reviewed_answer"], recap["reviewer"], recap["comment"]) == \
        ("pass", "fail", "qa", "no recap at all")
    assert (float(recap["machine_total"]), float(recap["reviewed_total"])) == (100.0, 90.0)
    greeting = next(r for r in rows if r["call_id"] == GOOD and r["question_id"] == "greeting")
    assert greeting["machine_answer"] == greeting["reviewed_answer"] == "pass" and greeting["reviewer"] == ""
    assert len([r for r in rows if r["call_id"] == GOOD]) == len(card["answers"])

    js = qa.get("/api/exports/scorecards.json?agent=a-1001").json()
    assert js["calls"] == 2
    recap = next(r for r in js["rows"] if r["call_id"] == GOOD and r["question_id"] == "recap")
    assert recap["machine_answer"] == "pass" and recap["reviewed_answer"] == "fail" and recap["reviewed_by"] == ["qa"]
    assert qa.get("/api/exports/scorecards.csv?agent=a-2002").text.count("\n") == 1 + len(card["answers"])


def test_overriding_the_auto_fail_answer_lifts_the_reviewed_zero(data):
    lead = _as(data, "qalead")
    r = lead.post(f"/api/overrides/{AUTOFAIL}", json={"question_id": "forbidden_phrases", "answer": "pass"},
                  headers={"X-CSRF-Token": csrf_of(lead)})
    assert r.status_code == 204
    card = lead.get(f"/api/calls/{AUTOFAIL}").json()["scorecard"]
    assert card["total"] == 0.0 and card["auto_failed"] is True
    assert card["reviewed_total"] == 49.0 and card["reviewed_auto_failed"] is False


def test_mark_reviewed_shows_reviewed_by_without_changing_answers(data):
    qa2 = _as(data, "qa2")
    assert 'id="mark-reviewed"' in qa2.get(f"/calls/{OTHER}").text
    assert _form(qa2, f"/reviewed/{OTHER}").status_code == 303
    page = qa2.get(f"/calls/{OTHER}").text
    assert 'id="reviewed-by">reviewed by qa2<' in page and _reviewed_total(page) == "80.0"
    assert OTHER in review.reviewed_call_ids(data[0].engine, "default")
    assert qa2.post(f"/api/reviewed/{ZH}", headers={"X-CSRF-Token": csrf_of(qa2)}).status_code == 204
    assert review.reviewers_by_call(data[0].engine, "default") == {OTHER: {"qa2"}, ZH: {"qa2"}}
    entries = AccountStore(data[0].engine).audit_log("default", action="mark_reviewed")
    assert {e.call_id for e in entries} == {OTHER, ZH}
    agent = _as(data, "agent2")
    assert 'id="mark-reviewed"' not in agent.get(f"/calls/{OTHER}").text
    assert _form(agent, f"/reviewed/{OTHER}").status_code == 403


def test_agent_acknowledges_and_disputes_own_call_only(data):
    agent = _as(data, "agent1")
    page = agent.get(f"/calls/{GOOD}").text
    assert 'id="acknowledge"' in page and 'id="dispute-form"' in page
    assert _form(agent, f"/acknowledge/{GOOD}").status_code == 303
    assert "acknowledged by agent1" in agent.get(f"/calls/{GOOD}").text
    again = agent.post(f"/api/acknowledge/{GOOD}", headers={"X-CSRF-Token": csrf_of(agent)}).json()
    assert again == {"call_id": GOOD, "new": False}
    assert len(review.acknowledgements(data[0].engine, "default", GOOD)) == 1

    r = _form(agent, f"/dispute/{GOOD}", question_id="empathy", comment="I did apologise and empathise twice")
    assert r.status_code == 303
    page = agent.get(f"/calls/{GOOD}").text
    assert "disputed by agent1" in page and "I did apologise and empathise twice" in page
    assert _form(agent, f"/dispute/{GOOD}", question_id="empathy",
                 comment="and again, the same question").status_code == 409
    assert _form(agent, f"/dispute/{GOOD}", question_id="recap", comment="short").status_code == 422
    assert _form(agent, f"/dispute/{GOOD}", question_id="nope", comment="no such question here").status_code == 404

    assert _form(agent, f"/acknowledge/{OTHER}").status_code == 403
    assert _form(agent, f"/dispute/{OTHER}", question_id="recap", comment="not my call but still").status_code == 403
    r = agent.post("/api/disputes", json={"call_id": OTHER, "question_id": "recap", "comment": "not my call at all"},
                   headers={"X-CSRF-Token": csrf_of(agent)})
    assert r.status_code == 403
    assert review.open_disputed_call_ids(data[0].engine, "default") == {GOOD}
    qa = _as(data, "qa")
    assert _form(qa, f"/acknowledge/{GOOD}").status_code == 403, "only agents respond to scorecards"
    audit = AccountStore(data[0].engine).audit_log("default", action="dispute_opened")
    assert len(audit) == 1 and audit[0].detail == {"dispute_id": audit[0].detail["dispute_id"],
                                                   "question_id": "empathy",
                                                   "comment": "I did apologise and empathise twice"}


def test_dispute_reaches_the_leads_queue_and_leaves_it_when_resolved(data):
    agent = _as(data, "agent1")
    made = agent.post("/api/disputes", json={"call_id": AUTOFAIL, "question_id": "forbidden_phrases",
                                             "comment": "the customer misheard, I was not rude"},
                      headers={"X-CSRF-Token": csrf_of(agent)})
    assert made.status_code == 201 and made.json()["status"] == "open"
    first = made.json()["id"]
    second = agent.post("/api/disputes", json={"call_id": GOOD, "question_id": "recap",
                                               "comment": "I did recap the refund clearly"},
                        headers={"X-CSRF-Token": csrf_of(agent)}).json()["id"]

    lead = _as(data, "qalead")
    queue = lead.get("/disputes").text
    assert f'id="dispute-{first}"' in queue and f'id="dispute-{second}"' in queue
    assert "the customer misheard, I was not rude" in queue
    api_queue = lead.get("/api/disputes").json()
    item = next(d for d in api_queue if d["id"] == first)
    assert (item["agent"], item["machine_answer"], item["reviewed_answer"]) == ("a-1001", "fail", "fail")

    r = _form(lead, f"/disputes/{first}/resolve", status="upheld", answer="pass", comment="listened: not dismissive")
    assert r.status_code == 303
    queue = lead.get("/disputes").text
    assert f'id="dispute-{first}"' not in queue and f'id="dispute-{second}"' in queue
    assert f'id="dispute-{first}"' in lead.get("/disputes?status=upheld").text
    card = lead.get(f"/api/calls/{AUTOFAIL}").json()["scorecard"]
    assert card["reviewed_total"] == 49.0 and "qalead" in card["reviewed_by"]
    assert card["disputes"][0]["status"] == "upheld" and card["disputes"][0]["resolver"] == "qalead"
    assert "upheld by qalead" in agent.get(f"/calls/{AUTOFAIL}").text, "the agent sees the outcome"
    assert _form(lead, f"/disputes/{first}/resolve", status="rejected",
                 comment="second decision on it").status_code == 409

    r = lead.post(f"/api/disputes/{second}/resolve", json={"status": "rejected", "answer": "fail",
                                                          "comment": "an answer only with upheld"},
                  headers={"X-CSRF-Token": csrf_of(lead)})
    assert r.status_code == 422
    r = lead.post(f"/api/disputes/{second}/resolve", json={"status": "rejected", "comment": "the recap was missing"},
                  headers={"X-CSRF-Token": csrf_of(lead)})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert lead.get("/api/disputes").json() == []
    assert review.open_disputed_call_ids(data[0].engine, "default") == set()
    assert lead.get(f"/api/calls/{GOOD}").json()["scorecard"]["reviewed_total"] == 100.0, "rejected: no change"
    resolved = AccountStore(data[0].engine).audit_log("default", action="dispute_resolved")
    assert {(e.detail["dispute_id"], e.detail["status"]) for e in resolved} == {(first, "upheld"),
                                                                                (second, "rejected")}


def test_writes_without_csrf_are_refused(data):
    agent = _as(data, "agent1")
    assert agent.post(f"/acknowledge/{GOOD}", data={}, follow_redirects=False).status_code == 403
    assert agent.post(f"/dispute/{GOOD}", data={"question_id": "recap", "comment": "no token in this form"},
                      follow_redirects=False).status_code == 403
    assert agent.post("/api/disputes", json={"call_id": GOOD, "question_id": "recap",
                                             "comment": "no header on this call"}).status_code == 403
    assert agent.post(f"/api/acknowledge/{GOOD}", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    qa = _as(data, "qa")
    assert qa.post(f"/reviewed/{GOOD}", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    assert review.acknowledgements(data[0].engine, "default", GOOD) == []
    assert review.disputes(data[0].engine, "default", status=None) == []
    assert review.reviewed_call_ids(data[0].engine, "default") == set()


def test_only_leads_see_and_settle_disputes(data):
    for name in ("qa", "agent1", "coach", "comp"):
        c = _as(data, name)
        assert c.get("/disputes").status_code == 403, name
        assert c.get("/api/disputes").status_code == 403, name
    agent = _as(data, "agent1")
    d = agent.post("/api/disputes", json={"call_id": GOOD, "question_id": "recap", "comment": "I recapped it, listen"},
                   headers={"X-CSRF-Token": csrf_of(agent)}).json()["id"]
    qa = _as(data, "qa")
    assert _form(qa, f"/disputes/{d}/resolve", status="upheld", comment="a reviewer cannot do this").status_code == 403
    admin = _as(data, "admin")
    assert admin.get("/disputes").status_code == 200
    assert agent.get("/api/exports/scorecards.json").status_code == 403, "agents get no exports"
    assert _as(data, "coach").get("/api/exports/scorecards.json").status_code == 200
    assert _as(data, "comp").get("/exports/scorecards.csv").status_code == 403


def test_csv_export_neutralises_formulas(data):
    qa = _as(data, "qa")
    evil = "=HYPERLINK(\"http://x.example\",\"y\")"
    assert _form(qa, f"/overrides/{GOOD}", question_id="recap", answer="fail", comment=evil).status_code == 303
    assert _form(qa, f"/overrides/{GOOD}", question_id="closing", answer="fail", comment="-2+3").status_code == 303
    r = qa.get("/api/exports/scorecards.csv?agent=a-1001")
    assert r.headers["content-type"].startswith("text/csv")
    rows = _rows(r.text)
    comments = {row["question_id"]: row["comment"] for row in rows if row["call_id"] == GOOD}
    assert comments["recap"] == "'" + evil and comments["closing"] == "'-2+3"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())
    assert {row["reviewed_total"] for row in rows if row["call_id"] == GOOD} == {"80.0"}
    assert 'attachment; filename="callqa-scorecards.csv"' == \
        qa.get("/exports/scorecards.csv").headers["content-disposition"]


def test_tenants_never_see_each_others_calls_disputes_or_reviews(data):
    qa = _as(data, "qa")
    default_rows = qa.get("/api/exports/scorecards.json").json()["rows"]
    assert {r["call_id"] for r in default_rows} == {GOOD, AUTOFAIL, OTHER, ZH}
    assert ACME not in qa.get("/exports/scorecards.csv").text
    assert qa.post(f"/api/reviewed/{ACME}", headers={"X-CSRF-Token": csrf_of(qa)}).status_code == 404
    acme = _as(data, "acme.admin", tenant="acme")
    rows = acme.get("/api/exports/scorecards.json").json()["rows"]
    assert {r["call_id"] for r in rows} == {ACME}
    assert acme.post(f"/api/reviewed/{GOOD}", headers={"X-CSRF-Token": csrf_of(acme)}).status_code == 404
    assert acme.post(f"/api/reviewed/{ACME}", headers={"X-CSRF-Token": csrf_of(acme)}).status_code == 204

    agent = _as(data, "agent1")
    d = agent.post("/api/disputes", json={"call_id": GOOD, "question_id": "recap", "comment": "I recapped it, listen"},
                   headers={"X-CSRF-Token": csrf_of(agent)}).json()["id"]
    assert acme.get("/api/disputes?status=all").json() == []
    assert acme.post(f"/api/disputes/{d}/resolve", json={"status": "rejected", "comment": "from the wrong tenant"},
                     headers={"X-CSRF-Token": csrf_of(acme)}).status_code == 404
    engine = data[0].engine
    assert review.reviewers_by_call(engine, "default") == {} and review.reviewed_call_ids(engine, "acme") == {ACME}
    assert review.open_disputed_call_ids(engine, "acme") == set()
    assert review.open_disputed_call_ids(engine, "default") == {GOOD}


def test_export_follows_the_calls_filters_across_pages(data, monkeypatch):
    import web.review

    monkeypatch.setattr(web.review, "EXPORT_PAGE", 1)  # every call its own page: the export must page through
    qa = _as(data, "qa")
    js = qa.get("/api/exports/scorecards.json").json()
    assert js["calls"] == 4
    assert {r["call_id"] for r in qa.get("/api/exports/scorecards.json?queue=billing").json()["rows"]} == \
        {GOOD, AUTOFAIL}
    assert {r["call_id"] for r in qa.get("/api/exports/scorecards.json?q=press").json()["rows"]} == {AUTOFAIL}
    assert {r["call_id"] for r in qa.get("/api/exports/scorecards.json?auto_fail=yes").json()["rows"]} == {AUTOFAIL}
    assert qa.get("/exports").status_code == 200
    assert "/api/exports/scorecards.csv" in qa.get("/api/openapi.json").json()["paths"]
