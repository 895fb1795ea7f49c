"""Sampling, review queues and calibration in the workspace (TestClient on real data, test_web_fixture): a QA
lead sets rules and generates queues, reviewers work through them, a calibration session is scored blind and
its agreement shown; roles, CSRF and tenants are enforced."""
from __future__ import annotations

import re

import pytest

from infra import review
from core.agreement import cohen_kappa

from .test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, ZH, as_user as _as, client, csrf_of, fresh_copy

FLIP = {"pass": "fail", "fail": "pass", "na": "pass"}


@pytest.fixture
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _rules_form(csrf, **kw):
    return {"csrf_token": csrf, "calls_per_agent": "1", "period": "week", "weight_low_score": "2",
            "weight_alert": "2", "weight_auto_fail": "3", "weight_new_agent": "0", "new_agent_days": "30",
            "include_disputed": "yes", "reviewers": ["qa", "qa2"], **kw}


def _queue(c, period):
    page = c.get(f"/review?period={period}").text
    links = re.findall(r'class="call-link" href="/calls/([^"]+)"', page)
    return re.search(r'id="progress">([^<]+)<', page).group(1), links


def test_lead_sets_rules_generates_queues_and_reviewers_progress(data):
    lead, qa, qa2 = _as(data, "qalead"), _as(data, "qa"), _as(data, "qa2")
    csrf = csrf_of(lead)
    page = lead.get("/sampling").text
    assert re.search(r'id="generate-queues">Generate this week(&#39;|\')s queues<', page)
    assert lead.post("/sampling/rules", data=_rules_form(csrf), follow_redirects=False).status_code == 303
    assert lead.get("/api/sampling/rules").json()["reviewers"] == ["qa", "qa2"]
    bad = lead.post("/sampling/rules", data=_rules_form(csrf, calls_per_agent="0"))
    assert bad.status_code == 422 and "calls_per_agent" in bad.text
    assert lead.post("/sampling/rules", data=_rules_form(csrf, reviewers=["qa", "agent1"])).status_code == 422
    review.open_dispute(data[0].engine, "default", GOOD, "greeting", "agent1", "I did greet")  # last week's call
    r = lead.post("/sampling/generate", data={"csrf_token": csrf, "day": "2026-11-25"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sampling?period=2026-W48"
    queued = lead.get("/api/sampling/progress?period=2026-W48").json()
    assert {p["reviewer"]: p["total"] for p in queued} == {"qa": 2, "qa2": 1}
    mine, theirs = _queue(qa, "2026-W48"), _queue(qa2, "2026-W48")
    assert mine[0] == "0 of 2 reviewed" and theirs[0] == "0 of 1 reviewed"
    assert set(mine[1]) | set(theirs[1]) == {GOOD, OTHER, ZH}, "one call per agent this week, plus the dispute"
    assert ACME not in lead.get("/sampling?period=2026-W48").text, "the other tenant's call never appears"
    again = lead.post("/api/sampling/generate", json={"day": "2026-11-27"}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 200 and again.json() == {"period": "2026-W48", "queued": []}, "idempotent"

    first, second = mine[1]
    r = qa.post(f"/overrides/{first}", data={"csrf_token": csrf_of(qa), "question_id": _question(qa, first),
                                             "answer": "na"}, follow_redirects=False)
    assert r.status_code == 303
    assert _queue(qa, "2026-W48")[0] == "1 of 2 reviewed"
    review.record_review(data[0].engine, "default", second, "qa")
    assert _queue(qa, "2026-W48")[0] == "2 of 2 reviewed"
    api_queue = qa.get("/api/sampling/queue").json()
    assert (api_queue["period"], api_queue["done"], api_queue["total"]) == ("2026-W48", 2, 2)
    row = lead.get("/sampling?period=2026-W48").text.split('data-reviewer="qa"', 1)[1].split("</tr>", 1)[0]
    assert '"done">2<' in row and '"total">2<' in row
    actions = [e["action"] for e in _as(data, "admin").get("/api/audit").json()]
    assert actions.count("sampling_generate") == 2 and "sampling_rules" in actions


def _question(c, call_id) -> str:
    return c.get(f"/api/calls/{call_id}").json()["scorecard"]["answers"][0]["question_id"]


def test_roles_csrf_and_tenants(data):
    for name in ("agent1", "comp", "coach"):
        c = _as(data, name)
        for path in ("/sampling", "/review", "/calibration", "/calibration/1", "/api/sampling/rules",
                     "/api/sampling/queue", "/api/calibration"):
            assert c.get(path).status_code == 403, (name, path)
    qa = _as(data, "qa")
    paths = set(qa.get("/api/openapi.json").json()["paths"])
    assert {"/api/sampling/rules", "/api/sampling/queue", "/api/calibration/{session_id}/results"} <= paths
    assert not any(p.startswith(("/sampling", "/review", "/calibration")) for p in paths), "pages are not API"
    assert qa.get("/sampling").status_code == 403 and qa.get("/api/sampling/progress").status_code == 403
    assert qa.post("/api/sampling/generate", json={}, headers={"X-CSRF-Token": csrf_of(qa)}).status_code == 403
    assert client(*data[:2]).get("/review", follow_redirects=False).status_code == 303, "signed out: sign in"
    lead = _as(data, "qalead")
    csrf = csrf_of(lead)
    assert lead.post("/sampling/rules", data=_rules_form("")).status_code == 403
    assert lead.post("/sampling/generate", data={"day": "2026-11-25"}).status_code == 403
    assert lead.post("/calibration", data={"title": "t", "call_ids": [GOOD], "reviewers": ["qa"]}).status_code == 403
    assert lead.put("/api/sampling/rules", json={"reviewers": ["qa"]}).status_code == 403
    new = {"title": "t", "call_ids": [GOOD], "reviewers": ["qa"]}
    assert lead.post("/api/calibration", json=new).status_code == 403
    assert lead.get("/api/sampling/rules").json()["reviewers"] == [], "nothing was saved"
    assert lead.put("/api/sampling/rules", json={"calls_per_agent": 101},
                    headers={"X-CSRF-Token": csrf}).status_code == 422
    assert lead.post("/api/calibration", json={"title": "t", "call_ids": [ACME], "reviewers": ["qa"]},
                     headers={"X-CSRF-Token": csrf}).status_code == 404, "the other tenant's call"
    sid = lead.post("/api/calibration", json={"title": "t", "call_ids": [GOOD], "reviewers": ["qa"]},
                    headers={"X-CSRF-Token": csrf}).json()["id"]
    assert ACME not in lead.get("/calibration").text and GOOD in lead.get("/calibration").text
    acme = _as(data, "acme.admin", tenant="acme")
    assert acme.get(f"/calibration/{sid}").status_code == 404 and acme.get("/api/calibration").json() == []
    assert GOOD not in acme.get("/calibration").text and ACME in acme.get("/calibration").text
    assert _as(data, "qa2").get(f"/calibration/{sid}").status_code == 404, "not a reviewer of this session"


def test_calibration_blind_scoring_and_agreement(data):
    lead, qa, qa2 = _as(data, "qalead"), _as(data, "qa"), _as(data, "qa2")
    r = lead.post("/calibration", data={"csrf_token": csrf_of(lead), "title": "November calibration",
                                        "call_ids": [GOOD, AUTOFAIL], "reviewers": ["qa", "qa2"]},
                  follow_redirects=False)
    assert r.status_code == 303
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    machine = {cid: {a["question_id"]: a["answer"]
                     for a in lead.get(f"/api/calls/{cid}").json()["scorecard"]["answers"]} for cid in (GOOD, AUTOFAIL)}
    flipped = next(iter(machine[GOOD]))
    assert "November calibration" in qa.get("/calibration").text
    assert qa.get(f"/calibration/{sid}/results").status_code == 403, "results are the lead's"

    def blind_form(c, cid):
        page = c.get(f"/calibration/{sid}/score/{cid}")
        assert page.status_code == 200
        return page.text

    form = blind_form(qa, AUTOFAIL)
    assert form.count('<select name="answer-') == len(machine[AUTOFAIL])
    assert 'class="answer ' not in form and "Machine" not in form and 'id="total"' not in form, "machine answers hidden"
    assert "auto-fail" not in form.lower() and 'class="explanation"' not in form
    assert "figure it out yourself" in form, "the call itself (redacted transcript) is there to judge"
    call_page = qa.get(f"/calls/{AUTOFAIL}").text  # the call page is blind too until the reviewer submits
    assert 'id="total"' not in call_page and 'id="blind-notice"' in call_page and 'id="autofail-banner"' not in call_page
    assert qa.get(f"/api/calls/{AUTOFAIL}").json()["scorecard"] is None
    assert 'id="total"' in _as(data, "comp").get(f"/calls/{AUTOFAIL}").text, "only the session's reviewers are blind"
    api_form = qa.get(f"/api/calibration/{sid}/calls/{AUTOFAIL}").json()
    assert all(set(q) == {"question_id", "text"} for q in api_form["questions"]) and api_form["my_answers"] is None
    for cid in (GOOD, AUTOFAIL):  # qa answers like the machine
        body = {"csrf_token": csrf_of(qa), **{f"answer-{q}": a for q, a in machine[cid].items()}}
        assert qa.post(f"/calibration/{sid}/score/{cid}", data=body, follow_redirects=False).status_code == 303
    assert qa.post(f"/calibration/{sid}/score/{GOOD}", data=body).status_code == 409, "blind answers are final"
    assert 'id="total"' in qa.get(f"/calls/{AUTOFAIL}").text, "submitted: the machine's scorecard shows again"

    other = blind_form(qa2, GOOD)  # qa's answers are in: qa2 still sees a blank form
    assert re.search(r'<option value="(pass|fail|na)" selected', other) is None and 'id="my-answers"' not in other
    assert qa2.get(f"/api/calibration/{sid}/calls/{GOOD}").json()["my_answers"] is None
    assert list(qa2.get(f"/api/calibration/{sid}").json()["submitted"]) == ["qa2"]
    missing = {f"answer-{flipped}": "pass"}
    assert qa2.post(f"/api/calibration/{sid}/calls/{GOOD}", json={"answers": {flipped: "pass"}},
                    headers={"X-CSRF-Token": csrf_of(qa2)}).status_code == 422, "every question needs an answer"
    assert qa2.post(f"/calibration/{sid}/score/{GOOD}", data=missing).status_code == 403, "no CSRF token"
    for cid in (GOOD, AUTOFAIL):  # qa2 disagrees with the machine on one question
        answers = {q: (FLIP[a] if q == flipped else a) for q, a in machine[cid].items()}
        r = qa2.post(f"/api/calibration/{sid}/calls/{cid}", json={"answers": answers},
                     headers={"X-CSRF-Token": csrf_of(qa2)})
        assert r.status_code == 204
    assert "2 of 2 calls scored" in qa2.get(f"/calibration/{sid}").text

    page = lead.get(f"/calibration/{sid}/results").text
    row = page.split(f'data-question="{flipped}"', 1)[1].split("</tr>", 1)[0]
    assert '"reviewer-percent">0%<' in row and '"machine-percent">50%<' in row
    same = next(q for q in machine[GOOD] if q != flipped and q in machine[AUTOFAIL])
    row = page.split(f'data-question="{same}"', 1)[1].split("</tr>", 1)[0]
    assert '"reviewer-percent">100%<' in row and '"reviewer-kappa">1.00<' in row and '"machine-kappa">1.00<' in row
    res = {q["question_id"]: q for q in lead.get(f"/api/calibration/{sid}/results").json()["questions"]}
    m = [machine[GOOD][flipped], machine[AUTOFAIL][flipped]]
    assert res[flipped]["reviewer_kappa"] == pytest.approx(cohen_kappa(m, [FLIP[x] for x in m]))
    assert res[flipped]["machine_kappa"] == pytest.approx((1.0 + cohen_kappa([FLIP[x] for x in m], m)) / 2)
    assert len(res[flipped]["trend"]) == 1 and 'id="trend"' in page and 'class="spark"' not in page
    later = lead.post("/api/calibration", json={"title": "December", "call_ids": [GOOD], "reviewers": ["qa"]},
                      headers={"X-CSRF-Token": csrf_of(lead)}).json()["id"]
    assert qa.post(f"/api/calibration/{later}/calls/{GOOD}", json={"answers": machine[GOOD]},
                   headers={"X-CSRF-Token": csrf_of(qa)}).status_code == 204
    trend = {q["question_id"]: q["trend"] for q in lead.get(f"/api/calibration/{later}/results").json()["questions"]}
    assert [(p["session_id"], p["machine_percent"]) for p in trend[flipped]] == [(sid, 0.5), (later, 1.0)]
    assert 'class="spark"' in lead.get(f"/calibration/{later}/results").text, "a sparkline once there are two"

    assert all(a["override"] is None for a in lead.get(f"/api/calls/{GOOD}").json()["scorecard"]["answers"]), \
        "calibration answers are not overrides"
    log = _as(data, "admin").get("/api/audit").json()
    created = [e["detail"] for e in log if e["action"] == "calibration_create"]
    submitted = [e for e in log if e["action"] == "calibration_submit"]
    assert created[-1] == {"session_id": sid, "calls": [GOOD, AUTOFAIL], "reviewers": ["qa", "qa2"]}, "ids only"
    assert [e["detail"]["session_id"] for e in submitted] == [later] + [sid] * 4
    assert all(set(e["detail"]) == {"session_id"} and e["call_id"] in (GOOD, AUTOFAIL) for e in submitted)
