"""Workspace sign-in, sessions, CSRF, roles, tenants and agents' own calls, through FastAPI's TestClient on a
real SQLite results DB file and a local-folder object store filled by the real analysis (test_web_fixture)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from infra.accounts import AccountStore
from web.auth import MAX_FAILURES

from .test_web_fixture import ACME, AUTOFAIL, GOOD, OTHER, PASSWORD, PHONE, ZH, client, csrf_of, fresh_copy, \
    login_token, sign_in


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _as(data, username, tenant="default"):
    store, src, _ = data
    c = client(store, src)
    r = sign_in(c, username, tenant=tenant)
    assert r.status_code == 303, r.text[-500:]
    return c


def test_passwords_are_argon2id_hashes_and_verify(data):
    store = data[0]
    accounts = AccountStore(store.engine)
    with store.engine.connect() as c:
        stored = c.execute(sa.text("SELECT password_hash FROM users WHERE username='qa'")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.authenticate("default", "qa", PASSWORD).role == "qa_reviewer"
    assert accounts.authenticate("default", "qa", PASSWORD + "x") is None
    assert accounts.authenticate("default", "nobody", PASSWORD) is None
    assert accounts.authenticate("acme", "qa", PASSWORD) is None, "users belong to one tenant"
    with pytest.raises(ValueError):
        accounts.add_user("short", "coach", "1234567")
    with pytest.raises(ValueError):
        accounts.add_user("x", "superuser", PASSWORD)
    with pytest.raises(ValueError):
        accounts.add_user("agent-without-id", "agent", PASSWORD)


def test_session_cookie_is_httponly_samesite_strict_and_signed(data):
    store, src, _ = data
    c = client(store, src)
    r = sign_in(c, "qa")
    cookie = r.headers["set-cookie"]
    assert "callqa_session=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert c.get("/calls").status_code == 200
    forged = client(store, src)
    forged.cookies.set("callqa_session", c.cookies["callqa_session"][:-2] + "xx")
    assert forged.get("/calls", follow_redirects=False).status_code == 303, "a tampered cookie is no session"
    assert forged.get("/api/calls").status_code == 401
    assert client(store, src).get("/calls", follow_redirects=False).headers["location"].startswith("/login")


def test_sign_out_ends_the_session_server_side(data):
    c = _as(data, "coach")
    stolen = c.cookies["callqa_session"]
    r = c.post("/logout", data={"csrf_token": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303
    other = client(*data[:2])
    other.cookies.set("callqa_session", stolen)
    assert other.get("/api/me").status_code == 401, "a copied cookie dies with the session"


def test_sign_in_is_rate_limited_per_user_and_address(data):
    store, src, _ = data
    c = client(store, src)
    for _ in range(MAX_FAILURES):
        assert sign_in(c, "coach", "wrong password!").status_code == 401
    r = sign_in(c, "coach")  # the right password, too late
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert c.post("/api/session", json={"username": "coach", "password": PASSWORD}).status_code == 429
    assert sign_in(client(store, src), "qa").status_code == 303, "other users are not locked out"
    accounts = AccountStore(store.engine)
    sessions = c.app.state.ws.sessions
    assert sessions.sign_in("default", "coach", PASSWORD, "10.0.0.9") is not None, "nor other addresses"
    with store.engine.begin() as conn:  # the failures age out of the window
        conn.execute(sa.text("UPDATE login_failures SET at = :t"), {"t": _minutes_ago(16)})
    assert accounts.recent_failures("default", "coach", "testclient", timedelta(minutes=15)) == 0
    assert sign_in(c, "coach").status_code == 303


def _minutes_ago(n):
    from infra.store import _now

    return _now() - timedelta(minutes=n)


def test_every_post_needs_the_csrf_token(data):
    store, src, _ = data
    c = _as(data, "comp")
    alert_id = c.get("/api/alerts").json()[0]["id"]
    for token in (None, "", "forged"):
        form = {"status": "acknowledged"} | ({"csrf_token": token} if token is not None else {})
        assert c.post(f"/alerts/{alert_id}/status", data=form).status_code == 403
    assert c.post(f"/api/alerts/{alert_id}/status", json={"status": "acknowledged"}).status_code == 403
    assert c.post(f"/api/alerts/{alert_id}/status", json={"status": "acknowledged"},
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.get("/api/alerts?status=all").json()[0]["status"] == "new", "nothing changed"
    assert c.post("/logout", data={}).status_code == 403
    fresh = client(store, src)
    r = fresh.post("/login", data={"username": "qa", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403, "the sign-in form has its own token"
    login_token(fresh)
    assert fresh.post("/login", data={"username": "qa", "password": PASSWORD}).status_code == 403
    ok = c.post(f"/api/alerts/{alert_id}/status", json={"status": "new"}, headers={"X-CSRF-Token": csrf_of(c)})
    assert ok.status_code == 200


def test_roles(data):
    qa, comp, coach, admin = (_as(data, n) for n in ("qa", "comp", "coach", "admin"))
    assert qa.get("/alerts").status_code == 403 and coach.get("/api/alerts").status_code == 403
    assert comp.get("/alerts").status_code == 200 and admin.get("/alerts").status_code == 200
    alert_id = comp.get("/api/alerts").json()[0]["id"]
    r = admin.post(f"/api/alerts/{alert_id}/status", json={"status": "resolved"},
                   headers={"X-CSRF-Token": csrf_of(admin)})
    assert r.status_code == 403, "admins read the queue; compliance officers act on it"
    body = {"question_id": "greeting", "answer": "fail", "comment": "no"}
    assert coach.post(f"/api/overrides/{GOOD}", json=body, headers={"X-CSRF-Token": csrf_of(coach)}).status_code == 403
    assert comp.post(f"/api/overrides/{GOOD}", json=body, headers={"X-CSRF-Token": csrf_of(comp)}).status_code == 403
    for c in (qa, coach, admin):
        assert c.get(f"/unredacted/{AUTOFAIL}").status_code == 403
        r = c.post(f"/api/unredacted/{AUTOFAIL}", json={"reason": "I would like to see it please"},
                   headers={"X-CSRF-Token": csrf_of(c)})
        assert r.status_code == 403 and PHONE not in r.text
    assert comp.get(f"/unredacted/{AUTOFAIL}").status_code == 200
    for c in (qa, comp, coach):
        assert c.get("/admin/audit").status_code == 403 and c.get("/api/audit").status_code == 403
    assert admin.get("/admin/audit").status_code == 200
    denied = admin.get("/api/audit?action=unredacted_denied").json()
    assert {e["username"] for e in denied} == {"qa", "coach", "admin"}, "refused attempts are audited too"


def test_agents_see_only_their_own_calls(data):
    a1, a2 = _as(data, "agent1"), _as(data, "agent2")
    assert {i["id"] for i in a1.get("/api/calls").json()["items"]} == {GOOD, AUTOFAIL}
    assert {i["id"] for i in a2.get("/api/calls").json()["items"]} == {OTHER}
    assert a1.get("/api/calls?q=address").json()["total"] == 0, "search too: OTHER is agent2's"
    assert a1.get("/api/calls?agent=a-2002").json()["total"] == 0
    assert a1.get(f"/calls/{OTHER}").status_code == 403 and a1.get(f"/api/calls/{OTHER}").status_code == 403
    assert a1.get(f"/audio/{OTHER}").status_code == 403
    page = a1.get("/calls").text
    assert OTHER not in page and ZH not in page and "a-2002" not in page, "not even in the filter menus"
    mine = a1.get(f"/api/calls/{AUTOFAIL}").json()
    assert mine["scorecard"]["answers"] and mine["alerts"] == [], "own scorecard; alerts are not for agents"
    assert a1.get("/alerts").status_code == 403


def test_tenants_never_mix(data):
    qa, acme = _as(data, "qa"), _as(data, "acme.admin", tenant="acme")
    assert ACME not in {i["id"] for i in qa.get("/api/calls").json()["items"]}
    assert qa.get(f"/calls/{ACME}").status_code == 404 and qa.get(f"/audio/{ACME}").status_code == 404
    assert qa.get("/api/calls?q=parcel").json()["total"] == 0
    assert {i["id"] for i in acme.get("/api/calls").json()["items"]} == {ACME}
    assert acme.get("/api/calls?q=parcel").json()["total"] == 1
    assert acme.get(f"/api/calls/{GOOD}").status_code == 404
    assert {a["call_id"] for a in acme.get("/api/alerts?status=all").json()} == {ACME}
    comp = _as(data, "comp")
    other_tenant_alert = acme.get("/api/alerts").json()[0]["id"]
    r = comp.post(f"/api/alerts/{other_tenant_alert}/status", json={"status": "resolved"},
                  headers={"X-CSRF-Token": csrf_of(comp)})
    assert r.status_code == 404
    acme_comp = _as(data, "comp", tenant="acme")  # same user name in the other tenant: another person
    assert acme_comp.get("/api/me").json()["tenant"] == "acme"
    assert {i["id"] for i in acme_comp.get("/api/calls").json()["items"]} == {ACME}
    assert all(e["username"] != "qa" for e in acme.get("/api/audit").json()), "audit entries are per tenant"


def test_api_session_sign_in_and_out(data):
    c = client(*data[:2])
    assert c.post("/api/session", data={"username": "qa", "password": PASSWORD}).status_code in (415, 422)
    assert c.post("/api/session", json={"username": "qa", "password": "wrong one"}).status_code == 401
    r = c.post("/api/session", json={"username": "qa", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "qa_reviewer" and PASSWORD not in r.text
    token = r.json()["csrf_token"]
    assert c.get("/api/me").json()["csrf_token"] == token
    assert c.delete("/api/session").status_code == 403, "signing out is a write: CSRF header needed"
    assert c.delete("/api/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert c.get("/api/me").status_code == 401
