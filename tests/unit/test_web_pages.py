"""Workspace pages and API on real data (test_web_fixture): search, the call page, ranged audio, overrides,
the alert queue, the audited unredacted view, escaping, the CLI's `users` and `serve`, the DB migration."""
from __future__ import annotations

import re
import wave
from io import BytesIO

import pytest
import sqlalchemy as sa

from infra.accounts import AccountStore
from infra.search import fts_query
from infra.store import ResultsStore

from .test_web_fixture import (ACME, AUTOFAIL, GOOD, OTHER, PASSWORD, PHONE, XSS, ZH, as_user as _as, client, csrf_of,
                               fresh_copy, sign_in)

PHONE_FORMS = ("415 555 0134", "4155550134", "555 0134")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _no_phone(text: str) -> None:
    assert not any(p in text for p in PHONE_FORMS), "unredacted personal data shown"


def test_search_over_redacted_transcripts_with_filters_and_paging(data):
    qa = _as(data, "qa")
    hits = qa.get("/api/calls?q=press").json()
    assert [i["id"] for i in hits["items"]] == [AUTOFAIL] and "[[press]]" in hits["items"][0]["snippet"]
    assert [i["id"] for i in qa.get("/api/calls?q=律师").json()["items"]] == [ZH]
    assert qa.get("/api/calls?q=" + "0134").json()["total"] == 0, "the index holds redacted text only"
    assert qa.get("/api/calls?q=PHONE").json()["total"] == 1, "placeholders are searchable"
    assert qa.get('/api/calls?q=" OR NEAR(').json()["total"] == 0, "FTS syntax in the input is inert"
    assert fts_query('a" OR b') == '"a""" "OR" "b"' and fts_query("找律师") == '"找 律 师"'
    page = qa.get("/calls?q=press").text
    assert "<mark>press</mark>" in page and 'id="count">1 call<' in page
    store, default_calls = data[0], {GOOD, AUTOFAIL, OTHER, ZH}
    failed = {c.call_id for c in store.scorecards() if c.auto_failed} & default_calls
    alerted = {a["call_id"] for a in store.alerts()} & default_calls
    assert AUTOFAIL in failed and {i["id"] for i in qa.get("/api/calls?auto_fail=yes").json()["items"]} == failed
    assert {i["id"] for i in qa.get("/api/calls?has_alert=no").json()["items"]} == default_calls - alerted
    assert {i["id"] for i in qa.get("/api/calls?has_alert=yes").json()["items"]} == alerted
    assert {i["id"] for i in qa.get("/api/calls?language=zh").json()["items"]} == {ZH}
    assert {i["id"] for i in qa.get("/api/calls?queue=billing&agent=a-1001").json()["items"]} == {GOOD, AUTOFAIL}
    assert {i["id"] for i in qa.get("/api/calls?date_from=2026-11-22&date_to=2026-11-24").json()["items"]} == \
        {AUTOFAIL, ZH}
    assert qa.get("/api/calls?direction=outbound").json()["total"] == 0
    first = qa.get("/api/calls?per_page=3&sort=started&order=asc").json()
    second = qa.get("/api/calls?per_page=3&page=2&sort=started&order=asc").json()
    assert first["total"] == 4 and [i["id"] for i in first["items"]] == [GOOD, AUTOFAIL, ZH]
    assert [i["id"] for i in second["items"]] == [OTHER]
    assert 'rel="next"' in qa.get("/calls?per_page=3").text
    assert qa.get("/api/calls?date_from=yesterday").status_code == 422


def test_call_page_redacted_with_explanations_evidence_and_alerts(data):
    qa = _as(data, "qa")
    page = qa.get(f"/calls/{AUTOFAIL}").text
    _no_phone(page)
    assert "[PHONE]" in page and 'id="player"' in page and f'src="/audio/{AUTOFAIL}"' in page
    assert 'data-start="0.5"' in page and page.count('class="line role-') == 4
    # the AUTO-FAIL banner quotes what the agent said, not only the question text
    banner = page.split('id="autofail-banner"', 1)[1].split("</section>", 1)[0]
    assert "figure it out yourself" in banner
    assert "Not found:" in page, "fail and N/A answers show their explanation"
    assert "media" in page.lower() and "sev-high" in page, "the call's alerts"
    detail = qa.get(f"/api/calls/{AUTOFAIL}").json()
    _no_phone(str(detail))
    fails = [a for a in detail["scorecard"]["answers"] if a["answer"] == "fail"]
    assert fails and all(a["explanation"] for a in fails)
    stored = [a for a in data[0].alerts() if a["call_id"] == AUTOFAIL]
    assert detail["audio_url"] == f"/api/audio/{AUTOFAIL}" and len(detail["alerts"]) == len(stored) > 0
    zh = qa.get(f"/calls/{ZH}").text
    assert "律师" in zh and "王芳" in zh


def test_script_in_transcript_or_metadata_is_inert(data):
    qa = _as(data, "qa")
    page = qa.get(f"/calls/{OTHER}").text
    assert "<script>document.title" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.title" in page
    hits = qa.get("/calls?q=delivery").text
    assert "<script>document" not in hits and "<img src=x" not in hits
    csp = qa.get("/calls").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    api = qa.get(f"/api/calls/{OTHER}")  # JSON carries the text as it is; a client must escape it
    assert api.headers["content-type"] == "application/json" and api.headers["x-content-type-options"] == "nosniff"
    assert XSS in api.json()["transcript"][1]["text"]


def test_redacted_audio_streams_with_range_requests(data):
    qa = _as(data, "qa")
    whole = qa.get(f"/audio/{AUTOFAIL}")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    with wave.open(BytesIO(whole.content)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
    part = qa.get(f"/audio/{AUTOFAIL}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = qa.get(f"/audio/{AUTOFAIL}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    assert qa.get(f"/audio/{AUTOFAIL}", headers={"Range": f"bytes={size}-"}).status_code == 416
    assert client(*data[:2]).get(f"/audio/{AUTOFAIL}", follow_redirects=False).status_code == 303
    original = data[1].read(f"recordings/{AUTOFAIL}.wav")
    assert original is None or original != whole.content


def test_reviewer_override_shows_beside_the_machine_answer(data):
    qa = _as(data, "qa")
    r = qa.post(f"/overrides/{GOOD}", data={"question_id": "greeting", "answer": "fail", "comment": "too fast",
                                            "csrf_token": csrf_of(qa)}, follow_redirects=False)
    assert r.status_code == 303
    page = qa.get(f"/calls/{GOOD}").text
    assert 'id="reviewed-by">reviewed by qa<' in page
    row = page.split('id="q-greeting"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="answer pass">pass</span>' in row and 'class="answer fail">fail</span>' in row
    assert "too fast" in row
    card = qa.get(f"/api/calls/{GOOD}").json()["scorecard"]
    greeting = next(a for a in card["answers"] if a["question_id"] == "greeting")
    assert greeting["answer"] == "pass" and greeting["override"]["answer"] == "fail"
    assert qa.post(f"/api/overrides/{GOOD}", json={"question_id": "nope", "answer": "fail"},
                   headers={"X-CSRF-Token": csrf_of(qa)}).status_code == 404
    assert data[0].machine_human_agreement() == (1, 0)


def test_alert_queue_actions_hide_handled_alerts_and_keep_history(data):
    comp = _as(data, "comp")
    queue = comp.get("/alerts").text
    new = [a for a in data[0].alerts(status="new") if a["call_id"] != ACME]  # not the other tenant's
    assert f'id="alert-count">{len(new)} alerts (new)' in queue and ACME not in queue
    first = comp.get("/api/alerts").json()[0]
    r = comp.post(f"/alerts/{first['id']}/status", data={"status": "acknowledged", "comment": "calling back",
                                                         "csrf_token": csrf_of(comp), "back": "/alerts"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    assert f'id="alert-{first["id"]}"' not in comp.get("/alerts").text, "handled: out of the default view"
    assert f'id="alert-{first["id"]}"' in comp.get("/alerts?status=acknowledged").text
    for status in ("resolved", "false_positive"):
        r = comp.post(f"/api/alerts/{first['id']}/status", json={"status": status},
                      headers={"X-CSRF-Token": csrf_of(comp)})
        assert r.json()["to"] == status
    page = comp.get(f"/calls/{first['call_id']}").text
    assert "new → acknowledged (calling back)" in page and "resolved → false_positive" in page
    history = _as(data, "admin").get("/api/audit?action=alert_status").json()
    assert [(e["detail"]["from"], e["detail"]["to"]) for e in history][:3] == \
        [("resolved", "false_positive"), ("acknowledged", "resolved"), ("new", "acknowledged")]
    assert comp.post(f"/api/alerts/{first['id']}/status", json={"status": "done"},
                     headers={"X-CSRF-Token": csrf_of(comp)}).status_code == 422


def test_unredacted_transcript_needs_a_reason_and_is_audited(data):
    comp = _as(data, "comp")
    form = comp.get(f"/unredacted/{AUTOFAIL}").text
    _no_phone(form)
    short = comp.post(f"/unredacted/{AUTOFAIL}", data={"reason": "why", "csrf_token": csrf_of(comp)})
    assert short.status_code == 422
    _no_phone(short.text)
    r = comp.post(f"/unredacted/{AUTOFAIL}", data={"reason": "customer complaint CX-118 about the callback",
                                                   "csrf_token": csrf_of(comp)})
    assert r.status_code == 200 and PHONE in r.text and r.headers["cache-control"] == "no-store"
    api = comp.post(f"/api/unredacted/{AUTOFAIL}", json={"reason": "regulator request 2026-41"},
                    headers={"X-CSRF-Token": csrf_of(comp)})
    assert PHONE in api.text
    admin = _as(data, "admin")
    views = admin.get("/api/audit?action=unredacted_view").json()
    assert [(v["username"], v["call_id"], v["detail"]["reason"]) for v in views][:2] == [
        ("comp", AUTOFAIL, "regulator request 2026-41"), ("comp", AUTOFAIL, "customer complaint CX-118 about the callback")]
    page = admin.get("/admin/audit?action=unredacted_view").text
    assert "regulator request 2026-41" in page
    _no_phone(page)
    csv = admin.get("/admin/audit.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "unredacted_view" in csv.text
    _no_phone(csv.text)


def test_audit_log_is_append_only(data):
    store = data[0]
    AccountStore(store.engine)
    for stmt in ("UPDATE audit_log SET username = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with store.engine.begin() as c:
                c.execute(sa.text(stmt))


def test_openapi_schema_covers_the_api(data):
    schema = client(*data[:2]).get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/calls", "/api/calls/{call_id}", "/api/alerts", "/api/alerts/{alert_id}/status", "/api/session",
            "/api/overrides/{call_id}", "/api/unredacted/{call_id}", "/api/audit"} <= paths
    assert not any(p.startswith("/calls") for p in paths), "pages are not part of the API schema"


def test_nothing_unredacted_in_the_request_log(data, caplog):
    comp = _as(data, "comp")
    with caplog.at_level("INFO", logger="callqa.web"):
        comp.get("/calls?q=" + PHONE.replace(" ", "+"))
        comp.post(f"/unredacted/{AUTOFAIL}", data={"reason": "looking at 415 555 0134 for CX-9",
                                                   "csrf_token": csrf_of(comp)})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /calls 200" in logged
    _no_phone(logged)


def test_cli_users_add_takes_the_password_from_the_environment(data, monkeypatch, capsys):
    from pipeline.cli import main

    db = f"sqlite:///{data[2]}/r.db"
    monkeypatch.setenv("CALLQA_USER_PASSWORD", "another good password")
    assert main(["users", "add", "lead", "--role", "qa_reviewer", "--db", db]) == 0
    assert main(["users", "add", "ag", "--role", "agent", "--db", db]) == 2, "agents need --agent-id"
    assert main(["users", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "lead" in out and "another good password" not in out
    assert AccountStore(ResultsStore(db).engine).authenticate("default", "lead", "another good password")
    with pytest.raises(SystemExit):
        main(["users", "add", "x", "--role", "coach", "--password", "secret123", "--db", db])
    monkeypatch.delenv("CALLQA_USER_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["users", "add", "y", "--role", "coach", "--db", db]) == 2


def test_old_database_gets_the_tenant_column(tmp_path):
    db = tmp_path / "old.db"
    with sa.create_engine(f"sqlite:///{db}").begin() as c:
        c.execute(sa.text("CREATE TABLE calls (id VARCHAR(512) PRIMARY KEY, object_key TEXT, etag VARCHAR(128), "
                          "agent VARCHAR(128), queue VARCHAR(128), direction VARCHAR(16), started_at DATETIME, "
                          "language VARCHAR(16), duration FLOAT, size_bytes INTEGER, state VARCHAR(16), "
                          "attempts INTEGER, error_code VARCHAR(8), error_message TEXT, transcript_key TEXT, "
                          "warnings TEXT, updated_at DATETIME, processed_at DATETIME)"))
        c.execute(sa.text("INSERT INTO calls (id, object_key, etag, direction, state, attempts, warnings, updated_at)"
                          " VALUES ('c1', 'c1.wav', 'e1', 'inbound', 'done', 1, '[]', '2026-01-01')"))
    store = ResultsStore(f"sqlite:///{db}")
    assert store.get("c1").state == "done"
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT tenant FROM calls")).scalar() == "default"
    ResultsStore(f"sqlite:///{db}")  # a second open migrates nothing


def test_sign_in_page_and_pages_need_a_session(data):
    c = client(*data[:2])
    r = c.get(f"/calls/{GOOD}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/calls/{GOOD}"
    page = c.get("/login").text
    assert re.search(r'name="csrf_token" value="[^"]{20,}"', page)
    assert sign_in(c, "qa", "not the password").status_code == 401
    r = c.post("/login", data={"username": "qa", "password": PASSWORD, "next": "//evil.example/x",
                               "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]},
               follow_redirects=False)
    assert r.headers["location"] == "/calls", "no open redirect after sign-in"
