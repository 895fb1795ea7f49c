"""The calls list's review filters (form, failed question with reviewer answers taking precedence, score range,
reviewed, alert category/status), times on the call's own clock or the user's zone, the call page's timeline
and metrics, and the answers table's backfill, on the workspace test data (test_web_fixture)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from core.models import Call
from infra.accounts import AccountStore
from infra.search import get_call
from infra.store import ResultsStore

from .test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, ZH, as_user as _as, csrf_of, fresh_copy

DEFAULT_CALLS = {GOOD, AUTOFAIL, OTHER, ZH}
CALLS_OF_AGENT1 = {GOOD, AUTOFAIL}  # a-1001's in the default tenant


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _ids(c, query: str) -> set[str]:
    r = c.get("/api/calls?" + query)
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()["items"]}


def _machine(store: ResultsStore) -> dict[str, dict]:
    return {c.call_id: c for c in store.scorecards()}


def test_filters_by_form_score_alerts_and_failed_question(data):
    store = data[0]
    qa = _as(data, "qa")
    cards = {cid: store.scorecard(cid) for cid in DEFAULT_CALLS}
    forms = {cid: card["form_id"] for cid, card in cards.items() if card}
    some_form = forms[GOOD]
    assert _ids(qa, f"form={some_form}") == {cid for cid, f in forms.items() if f == some_form}
    totals = {cid: card["total"] for cid, card in cards.items() if card and card["total"] is not None}
    assert _ids(qa, "score_min=50") == {cid for cid, t in totals.items() if t >= 50}
    assert _ids(qa, "score_max=49.9") == {cid for cid, t in totals.items() if t <= 49.9}
    assert qa.get("/api/calls?score_min=high").status_code == 422
    alerts = [a for a in store.alerts() if a["call_id"] in DEFAULT_CALLS]
    category = alerts[0]["category"]
    assert _ids(qa, f"alert_category={category}") == {a["call_id"] for a in alerts if a["category"] == category}
    assert _ids(qa, "alert_status=new") == {a["call_id"] for a in alerts}
    assert _ids(qa, "alert_status=resolved") == set()
    assert qa.get("/api/calls?alert_status=bogus").status_code == 422
    failed = {(cid, a["question_id"]) for cid, card in cards.items() if card for a in card["answers"]
              if a["answer"] == "fail"}
    cid, qid = sorted(failed)[0]
    assert _ids(qa, f"failed_question={qid}") == {c for c, q in failed if q == qid}
    page = qa.get("/calls").text
    assert 'name="failed_question"' in page and f'value="{qid}"' in page, "the question menu lists the form's questions"


def test_reviewer_answer_takes_precedence_in_failed_question_and_reviewed(data):
    store = data[0]
    qa = _as(data, "qa")
    card = store.scorecard(GOOD)
    passed = next(a["question_id"] for a in card["answers"] if a["answer"] == "pass")
    assert GOOD not in _ids(qa, f"failed_question={passed}")
    assert GOOD in _ids(qa, "reviewed=no") and GOOD not in _ids(qa, "reviewed=yes")
    h = {"X-CSRF-Token": csrf_of(qa)}
    assert qa.post(f"/api/overrides/{GOOD}", json={"question_id": passed, "answer": "fail"}, headers=h).status_code == 204
    assert GOOD in _ids(qa, f"failed_question={passed}"), "a reviewer's fail counts"
    assert GOOD in _ids(qa, "reviewed=yes") and GOOD not in _ids(qa, "reviewed=no")
    assert qa.post(f"/api/overrides/{GOOD}", json={"question_id": passed, "answer": "pass"}, headers=h).status_code == 204
    assert GOOD not in _ids(qa, f"failed_question={passed}"), "the latest reviewer answer wins"
    assert OTHER in _ids(qa, "reviewed=no")
    assert qa.post(f"/api/reviewed/{OTHER}", headers=h).status_code == 204
    assert OTHER in _ids(qa, "reviewed=yes"), "Mark reviewed counts without an override"
    auto = store.scorecard(AUTOFAIL)
    failed = next(a["question_id"] for a in auto["answers"] if a["answer"] == "fail")
    assert AUTOFAIL in _ids(qa, f"failed_question={failed}")
    assert qa.post(f"/api/overrides/{AUTOFAIL}", json={"question_id": failed, "answer": "na"}, headers=h).status_code == 204
    assert AUTOFAIL not in _ids(qa, f"failed_question={failed}"), "a machine fail overridden is not a fail"


def test_agents_filters_stay_inside_their_own_calls_and_tenant(data):
    agent = _as(data, "agent2")
    assert _ids(agent, "score_min=0") <= {OTHER}
    qa = _as(data, "qa")
    assert ACME not in _ids(qa, "score_min=0") | _ids(qa, "reviewed=no") | _ids(qa, "alert_status=new")


def test_times_on_the_calls_own_clock_or_the_users_zone(data):
    store, src, _ = data
    with store.engine.begin() as c:
        c.execute(sa.text("UPDATE calls SET utc_offset_min = 480 WHERE id = :i"), {"i": ZH})
    qa = _as(data, "qa")
    utc = get_call(store.engine, "default", ZH).started_at
    local = (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    page = qa.get(f"/calls/{ZH}").text
    started = re.search(r'<dd id="started">(.*?)</dd>', page, re.S).group(1)
    assert f"{local} UTC+08:00" in started and f"({utc.strftime('%Y-%m-%d %H:%M')} UTC)" in started
    assert f"{local} UTC+08:00" in qa.get("/calls").text
    good = get_call(store.engine, "default", GOOD).started_at
    assert f"{good.strftime('%Y-%m-%d %H:%M')} UTC" in qa.get("/calls").text, "no offset, no zone: UTC"
    h = {"X-CSRF-Token": csrf_of(qa)}
    assert qa.put("/api/me/time-zone", json={"time_zone": "Mars/Olympus"}, headers=h).status_code == 422
    assert qa.put("/api/me/time-zone", json={"time_zone": "America/New_York"}).status_code == 403, "CSRF needed"
    assert qa.put("/api/me/time-zone", json={"time_zone": "America/New_York"}, headers=h).status_code == 204
    ny = good.replace(tzinfo=timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    listing = qa.get("/calls").text
    assert f"{ny.strftime('%Y-%m-%d %H:%M')} America/New_York" in listing, "calls without an offset: the user's zone"
    assert f"{local} UTC+08:00" in listing, "a call with an offset keeps its own clock"
    assert "America/New_York" not in _as(data, "qa2").get("/calls").text, "a setting of one user only"


def test_claim_keeps_the_sidecars_offset(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    aware = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert store.claim(Call("c1", "recordings/c1.wav", "e1", started_at=aware))
    assert store.claim(Call("c2", "recordings/c2.wav", "e1", started_at=datetime(2026, 11, 27, 9, 30)))
    with store.engine.connect() as c:
        rows = dict(c.execute(sa.text("SELECT id, utc_offset_min FROM calls")).all())
    assert rows == {"c1": 480, "c2": None}
    assert get_call(store.engine, "default", "c1").started_at == datetime(2026, 11, 27, 1, 30), "stored as UTC"


def test_call_page_timeline_lanes_sentiment_and_metrics(data):
    store, src, _ = data
    qa = _as(data, "qa")
    view = qa.get(f"/api/calls/{GOOD}").json()
    page = qa.get(f"/calls/{GOOD}").text
    svg = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)
    assert svg.count('class="bar lane-agent"') == sum(s["role"] == "agent" for s in view["transcript"])
    assert svg.count('class="bar lane-customer"') == sum(s["role"] == "customer" for s in view["transcript"])
    starts = re.findall(r'<a href="#" class="seek" data-start="([0-9.]+)"><rect', svg)
    assert [float(x) for x in starts] == [s["start"] for s in view["transcript"]], "each bar seeks to its line"
    assert 'class="sentiment lane-customer"' in svg and 'id="playhead"' in svg
    sentiment = view["scorecard"]["sentiment"]
    assert re.search(r'<dd id="mood">\s*' + sentiment["start_customer"]["label"], page)
    assert 'id="metrics"' in page


def test_answers_table_is_backfilled_for_older_databases(tmp_path, data):
    import shutil

    root = data[2]
    for f in root.glob("r.db*"):
        shutil.copy2(f, tmp_path / f.name)
    url = f"sqlite:///{tmp_path}/r.db"
    with sa.create_engine(url).begin() as c:
        expected = c.execute(sa.text("SELECT count(*) FROM scorecard_answers")).scalar()
        c.execute(sa.text("DROP TABLE scorecard_answers"))
    store = ResultsStore(url)
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM scorecard_answers")).scalar() == expected > 0
    AccountStore(store.engine)  # the users table gains time_zone the same way
    with store.engine.connect() as c:
        assert "time_zone" in {col["name"] for col in sa.inspect(c).get_columns("users")}


def test_unredacted_recording_needs_the_reason_grant_of_this_session(data):
    comp = _as(data, "comp")
    assert comp.get(f"/unredacted-audio/{AUTOFAIL}").status_code == 403, "no reason given yet"
    page = comp.post(f"/unredacted/{AUTOFAIL}", data={"reason": "complaint CX-204 about a callback",
                                                      "csrf_token": csrf_of(comp)}).text
    src = re.search(r'id="unredacted-player"[^>]*src="([^"]+)"', page).group(1).replace("&amp;", "&")
    head = comp.get(src, headers={"Range": "bytes=0-43"})
    assert head.status_code == 206 and head.content[:4] == b"RIFF" and head.headers["content-type"] == "audio/x-wav"
    assert head.content == data[1].read(f"recordings/{AUTOFAIL}.wav")[:44], "the original recording, not the redacted"
    other = _as(data, "comp")  # same user, another session: the grant is bound to the session it was given in
    assert other.get(src).status_code == 403
    assert comp.get(src.replace(AUTOFAIL, GOOD)).status_code == 403, "a grant opens one call only"
    qa = _as(data, "qa")
    assert qa.get(src).status_code == 403, "only compliance officers"
    api = comp.post(f"/api/unredacted/{GOOD}", json={"reason": "regulator request 2026-77"},
                    headers={"X-CSRF-Token": csrf_of(comp)}).json()
    assert comp.get(api["audio_url"], headers={"Range": "bytes=0-3"}).content == b"RIFF"
    admin = _as(data, "admin")
    views = [e for e in admin.get("/api/audit?action=unredacted_view").json() if e["call_id"] == GOOD]
    assert views and views[-1]["detail"]["what"] == "transcript and recording"


def test_alert_severity_filter_on_the_page_and_the_api(data):
    store = data[0]
    qa = _as(data, "qa")
    alerts = [a for a in store.alerts() if a["call_id"] in DEFAULT_CALLS]
    severities = {a["severity"] for a in alerts}
    assert {"critical", "high", "medium"} <= severities
    for sev in ("critical", "high", "medium", "low"):
        assert _ids(qa, f"alert_severity={sev}") == {a["call_id"] for a in alerts if a["severity"] == sev}
    assert _ids(qa, "alert_severity=critical") == {ZH}
    # with category and status: one alert of the call matches all of them
    both = {a["call_id"] for a in alerts if a["severity"] == "medium" and a["category"] == "reputation"}
    assert both and both != _ids(qa, "alert_severity=medium")
    assert _ids(qa, "alert_severity=medium&alert_category=reputation") == both
    assert _ids(qa, "alert_severity=critical&alert_status=resolved") == set()
    assert qa.get("/api/calls?alert_severity=urgent").status_code == 422
    page = qa.get("/calls?alert_severity=critical").text
    assert 'name="alert_severity"' in page and '<option value="critical" selected>' in page
    assert f'href="/calls/{ZH}"' in page and f'href="/calls/{GOOD}"' not in page
    assert re.search(r'id="count">1 call<', page)
    agent = _as(data, "agent1")  # an agent's own calls only, whatever the filter
    assert _ids(agent, "alert_severity=high") == {a["call_id"] for a in alerts if a["severity"] == "high"
                                                  and CALLS_OF_AGENT1 & {a["call_id"]}}
