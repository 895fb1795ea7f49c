"""Coaching on real data (test_web_fixture): a coach's per-agent picks from the scorecards, assigning a call to
its agent with a note and due date, the agent's own assignments and acknowledgement, completion as the coach
sees it; other agents, other roles and other tenants are refused; writes need the CSRF token; the audit log
holds ids only."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from .test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, as_user as _as, csrf_of, fresh_copy

NOTE = "Listen from 0:11: how could you have answered instead?"


@pytest.fixture()
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _api(c, method, url, **kw):
    return c.request(method, url, headers={"X-CSRF-Token": csrf_of(c)}, **kw)


def _due(days=7) -> str:
    return (_today() + timedelta(days=days)).isoformat()


def _today():
    return datetime.now(timezone.utc).date()


def test_coach_sees_per_agent_picks(data):
    coach = _as(data, "coach")
    picks = {p["agent"]: p for p in coach.get("/api/coaching/picks").json()}
    assert set(picks) == {"a-1001", "a-2002", "王芳"}, "the other tenant's agent is not listed"
    a1 = picks["a-1001"]
    assert a1["calls"] == 2 and [p["call_id"] for p in a1["lowest"]] == [AUTOFAIL]
    assert [p["call_id"] for p in a1["best"]] == [GOOD] and a1["best"][0]["total"] == 100.0
    failed = {q["question_id"]: q for q in a1["failed_questions"]}
    assert failed and all(q["examples"] == [AUTOFAIL] and q["fails"] == 1 for q in failed.values())
    assert picks["a-2002"]["best"] == [] and picks["a-2002"]["lowest"][0]["call_id"] == OTHER
    assert [p["agent"] for p in coach.get("/api/coaching/picks?agent=a-2002").json()] == ["a-2002"]
    page = coach.get("/coaching").text
    assert 'data-agent="a-1001"' in page and f"/coaching?call={AUTOFAIL}#assign" in page
    assert f'value="{AUTOFAIL}"' in coach.get(f"/coaching?call={AUTOFAIL}").text, "the assign form is prefilled"
    for who in ("agent1", "qa", "comp"):
        assert _as(data, who).get("/coaching").status_code == 403
        assert _as(data, who).get("/api/coaching/picks").status_code == 403
    assert _as(data, "admin").get("/api/coaching/picks").status_code == 200


def test_coach_assigns_agent_acknowledges_coach_sees_completion(data):
    coach = _as(data, "coach")
    r = coach.post("/coaching/assign", data={"call_id": AUTOFAIL, "note": NOTE, "due": _due(),
                                             "csrf_token": csrf_of(coach)}, follow_redirects=False)
    assert r.status_code == 303
    assignment = int(re.search(r"#assignment-(\d+)$", r.headers["location"]).group(1))
    listed = coach.get("/api/coaching/assignments").json()
    assert [(a["id"], a["agent"], a["coach"], a["note"], a["state"]) for a in listed] == [
        (assignment, "a-1001", "coach", NOTE, "open")]
    assert f'id="assignment-{assignment}" class="state-open"' in coach.get("/coaching").text

    agent1 = _as(data, "agent1")
    mine = agent1.get("/api/my/coaching").json()
    assert [(a["id"], a["call_url"], a["due"]) for a in mine] == [(assignment, f"/calls/{AUTOFAIL}", _due())]
    page = agent1.get("/my/coaching").text
    assert f'href="/calls/{AUTOFAIL}"' in page and "Listen from 0:11" in page and 'class="ack"' in page
    assert agent1.get(f"/calls/{AUTOFAIL}").status_code == 200
    assert agent1.get(f"/audio/{AUTOFAIL}").status_code in (200, 206), "the redacted recording plays"
    r = agent1.post(f"/my/coaching/{assignment}/ack", data={"comment": "got it, will offer help",
                                                            "csrf_token": csrf_of(agent1)}, follow_redirects=False)
    assert r.status_code == 303
    assert agent1.get("/api/my/coaching").json()[0]["state"] == "done"
    assert 'class="ack"' not in agent1.get("/my/coaching").text
    assert _api(agent1, "POST", f"/api/my/coaching/{assignment}/ack", json={}).status_code == 409

    done = coach.get(f"/api/coaching/assignments/{assignment}").json()
    assert done["state"] == "done" and done["agent_comment"] == "got it, will offer help" and done["acknowledged_at"]
    page = coach.get("/coaching").text
    assert 'data-state="done"' in page and "got it, will offer help" in page

    audit = _as(data, "admin").get("/api/audit").json()
    entries = [e for e in audit if e["action"] in ("coaching_assign", "coaching_ack")]
    assert [(e["action"], e["call_id"], e["detail"]) for e in entries] == [
        ("coaching_ack", AUTOFAIL, {"assignment": assignment}),
        ("coaching_assign", AUTOFAIL, {"assignment": assignment})]


def test_an_agent_sees_and_acknowledges_only_their_own(data):
    coach = _as(data, "coach")
    made = _api(coach, "POST", "/api/coaching/assignments", json={"call_id": GOOD, "note": "great recap",
                                                                  "due": _due()})
    assert made.status_code == 201 and made.json()["agent"] == "a-1001"
    assignment = made.json()["id"]
    agent2 = _as(data, "agent2")
    assert agent2.get("/api/my/coaching").json() == []
    assert "No coaching assignments" in agent2.get("/my/coaching").text
    assert agent2.get(f"/api/coaching/assignments/{assignment}").status_code == 403
    assert _api(agent2, "POST", f"/api/my/coaching/{assignment}/ack", json={"comment": "x"}).status_code == 403
    r = agent2.post(f"/my/coaching/{assignment}/ack", data={"csrf_token": csrf_of(agent2)})
    assert r.status_code == 403
    assert _api(agent2, "POST", "/api/my/coaching/999999/ack", json={}).status_code == 404
    assert agent2.get("/api/coaching/assignments").status_code == 403, "the coach's list is not for agents"
    assert _api(coach, "POST", f"/api/my/coaching/{assignment}/ack", json={}).status_code == 403
    assert coach.get(f"/api/coaching/assignments/{assignment}").json()["state"] == "open"
    agent1 = _as(data, "agent1")
    assert agent1.get(f"/api/coaching/assignments/{assignment}").json()["note"] == "great recap"
    acme_admin = _as(data, "acme.admin", tenant="acme")
    assert acme_admin.get(f"/api/coaching/assignments/{assignment}").status_code == 404
    assert acme_admin.get("/api/coaching/assignments").json() == []


def test_assignments_are_validated_and_need_the_csrf_token(data):
    store = data[0]
    coach = _as(data, "coach")
    assert _api(coach, "POST", "/api/coaching/assignments", json={"call_id": ACME}).status_code == 404
    assert _api(coach, "POST", "/api/coaching/assignments", json={"call_id": "no/such"}).status_code == 404
    past = _api(coach, "POST", "/api/coaching/assignments", json={"call_id": GOOD, "due": _due(-1)})
    assert past.status_code == 422 and "past" in past.json()["detail"]
    assert coach.post("/coaching/assign", data={"call_id": GOOD, "due": "next week",
                                                "csrf_token": csrf_of(coach)}).status_code == 422
    too_long = _api(coach, "POST", "/api/coaching/assignments", json={"call_id": GOOD, "note": "x" * 2001})
    assert too_long.status_code == 422
    assert coach.post("/coaching/assign", data={"call_id": GOOD, "note": "n"}).status_code == 403
    assert coach.post("/api/coaching/assignments", json={"call_id": GOOD}).status_code == 403
    assert _api(_as(data, "agent1"), "POST", "/api/coaching/assignments", json={"call_id": GOOD}).status_code == 403
    assert coach.get("/api/coaching/assignments").json() == [], "nothing was assigned"

    made = _api(coach, "POST", "/api/coaching/assignments", json={"call_id": OTHER, "note": "n"}).json()
    assert made["due"] is None and made["state"] == "open"
    agent2 = _as(data, "agent2")
    assert agent2.post(f"/my/coaching/{made['id']}/ack", data={}).status_code == 403, "no CSRF token"
    assert agent2.post(f"/api/my/coaching/{made['id']}/ack", json={}).status_code == 403
    with store.engine.begin() as c:  # a due date that has passed since
        c.execute(sa.text("UPDATE coaching_assignments SET due = :d WHERE id = :i"),
                  {"d": _today() - timedelta(days=2), "i": made["id"]})
    assert coach.get("/api/coaching/assignments").json()[0]["state"] == "overdue"
    assert 'data-state="overdue"' in coach.get("/coaching").text
    assert agent2.get("/api/my/coaching").json()[0]["state"] == "overdue"
