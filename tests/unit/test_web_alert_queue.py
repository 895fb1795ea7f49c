"""The alert queue on real data (test_web_fixture): assignment to compliance officers of the tenant, filters
(status, assignee, category, severity) with critical/high first, bulk actions (all or nothing, one history
entry per alert), grouping of repeated low-severity alerts, the per-alert history, tenant isolation, CSRF, and
the additive migration of `alerts.assignee`."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from core.models import Call
from infra.accounts import AccountStore
from infra.store import ResultsStore

from .test_web_fixture import ACME, AUTOFAIL, PASSWORD, ZH, as_user as _as, csrf_of, fresh_copy

RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
DISCLOSURE = "missing_recording_disclosure"


@pytest.fixture()
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _api(c, method, url, **kw):
    return c.request(method, url, headers={"X-CSRF-Token": csrf_of(c)}, **kw)


def _ids(c, query="") -> list[int]:
    return [a["id"] for a in c.get("/api/alerts" + query).json()]


def _alert(store, call_id, rule_id):
    return next(a for a in store.alerts() if a["call_id"] == call_id and a["rule_id"] == rule_id)


def _acme_alert(store) -> int:
    return next(a["id"] for a in store.alerts() if a["call_id"] == ACME)


def test_assign_to_officers_of_the_tenant_and_filter_by_assignee(data):
    store = data[0]
    AccountStore(store.engine).add_user("comp2", "compliance_officer", PASSWORD)
    comp = _as(data, "comp")
    dismissive, media = _alert(store, AUTOFAIL, "agent_dismissive")["id"], _alert(store, AUTOFAIL, "media_threat")["id"]
    r = comp.post(f"/alerts/{dismissive}/assign", data={"assignee": "me", "assign_comment": "mine now",
                                                        "csrf_token": csrf_of(comp), "back": "/alerts"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    r = _api(comp, "POST", f"/api/alerts/{media}/assignee", json={"assignee": "comp2", "comment": "for you"})
    assert r.json() == {"id": media, "from": None, "to": "comp2"}
    assert _ids(comp, "?assignee=me") == [dismissive]
    assert _ids(comp, "?assignee=comp2") == [media]
    unassigned = _ids(comp, "?assignee=none")
    assert dismissive not in unassigned and media not in unassigned and len(unassigned) == len(_ids(comp)) - 2
    page = comp.get("/alerts?assignee=me").text
    assert f'id="alert-{dismissive}"' in page and f'id="alert-{media}"' not in page and "assigned to comp" in page
    assert sorted(comp.get("/api/alerts/assignees").json()) == ["comp", "comp2"]

    for who in ("qa", "acme.admin", "nobody-such", "admin"):  # not a compliance officer of this tenant
        r = _api(comp, "POST", f"/api/alerts/{media}/assignee", json={"assignee": who})
        assert r.status_code == 422 and who not in r.json()["detail"]
    assert _api(comp, "POST", f"/api/alerts/{media}/assignee", json={"assignee": None}).json()["to"] is None
    history = comp.get(f"/api/alerts/{media}/history").json()
    assert [(h["field"], h["from"], h["to"], h["username"]) for h in history] == [
        ("assignee", "comp2", None, "comp"), ("assignee", None, "comp2", "comp")]
    assert history[1]["comment"] == "for you" and history[0]["at"] >= history[1]["at"]
    call_page = comp.get(f"/calls/{AUTOFAIL}").text
    assert "assigned nobody → comp (mine now)" in call_page and "assigned comp2 → nobody" in call_page

    admin = _as(data, "admin")  # sees the queue, may not act on it
    assert admin.get("/alerts?assignee=me").status_code == 200
    assert _api(admin, "POST", f"/api/alerts/{media}/assignee", json={"assignee": "comp"}).status_code == 403
    assert _as(data, "qa").get("/api/alerts").status_code == 403


def test_filters_default_to_new_and_list_critical_and_high_first(data):
    store = data[0]
    comp = _as(data, "comp")
    mine = [a for a in store.alerts() if a["call_id"] != ACME]
    listed = comp.get("/api/alerts").json()
    assert {a["id"] for a in listed} == {a["id"] for a in mine if a["status"] == "new"}
    ranks = [RANK[a["severity"]] for a in listed]
    assert ranks == sorted(ranks) and listed[0]["severity"] == "critical" and listed[0]["call_id"] == ZH
    assert {a["severity"] for a in comp.get("/api/alerts?severity=high").json()} == {"high"}
    assert {a["category"] for a in comp.get("/api/alerts?category=privacy").json()} == {"privacy"}
    assert len(comp.get("/api/alerts?category=privacy").json()) == sum(a["category"] == "privacy" for a in mine)
    first = listed[0]["id"]
    _api(comp, "POST", f"/api/alerts/{first}/status", json={"status": "resolved"})
    assert first not in _ids(comp) and _ids(comp, "?status=resolved") == [first]
    assert first in _ids(comp, "?status=all")
    page = comp.get("/alerts?severity=medium&category=privacy").text
    assert 'value="medium" selected' in page and 'value="privacy" selected' in page
    assert comp.get("/api/alerts?status=done").status_code == 422


def test_bulk_resolve_moves_alerts_out_of_new_with_one_history_entry_each(data):
    comp = _as(data, "comp")
    chosen = sorted(_ids(comp)[:2])
    before = len(_as(data, "admin").get("/api/audit?action=alert_status").json())
    r = comp.post("/alerts/bulk", data={"ids": [str(i) for i in chosen], "action": "resolved",
                                        "comment": "duplicate of CX-7", "csrf_token": csrf_of(comp),
                                        "back": "/alerts?status=new"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/alerts?status=new"
    queue = comp.get("/alerts").text
    assert not any(f'id="alert-{i}"' in queue for i in chosen), "resolved: gone from the default (new) view"
    assert sorted(_ids(comp, "?status=resolved")) == chosen
    for i in chosen:
        assert [(h["field"], h["from"], h["to"], h["comment"]) for h in comp.get(f"/api/alerts/{i}/history").json()] \
            == [("status", "new", "resolved", "duplicate of CX-7")]
    audit = _as(data, "admin").get("/api/audit?action=alert_status").json()
    assert len(audit) == before + 2 and sorted(e["alert_id"] for e in audit[:2]) == chosen
    assert all(e["detail"]["bulk"] == 2 for e in audit[:2])

    r = _api(comp, "POST", "/api/alerts/bulk", json={"ids": chosen, "action": "assign", "assignee": "me"})
    assert r.json() == [{"id": i, "from": None, "to": "comp"} for i in chosen]
    assert sorted(_ids(comp, "?status=resolved&assignee=me")) == chosen


def test_bulk_is_all_or_nothing_within_the_tenant(data):
    store = data[0]
    comp = _as(data, "comp")
    mine = _ids(comp)[:2]
    for ids in (mine + [_acme_alert(store)], mine + [999_999]):
        r = _api(comp, "POST", "/api/alerts/bulk", json={"ids": ids, "action": "false_positive", "comment": "x"})
        assert r.status_code == 404 and "nothing was changed" in r.json()["detail"]
        r = comp.post("/alerts/bulk", data={"ids": [str(i) for i in ids], "action": "acknowledged",
                                            "csrf_token": csrf_of(comp)})
        assert r.status_code == 404
    assert set(mine) <= set(_ids(comp)), "still new"
    assert all(a["status"] == "new" for a in store.alerts())
    assert _as(data, "admin").get("/api/audit?action=alert_status").json() == []
    assert _api(comp, "POST", "/api/alerts/bulk", json={"ids": [], "action": "resolved"}).status_code == 422
    assert _api(comp, "POST", "/api/alerts/bulk", json={"ids": mine, "action": "delete"}).status_code == 422
    assert comp.post("/alerts/bulk", data={"action": "resolved", "csrf_token": csrf_of(comp)}).status_code == 422


def test_another_tenants_alert_is_not_found(data):
    store = data[0]
    acme_id = _acme_alert(store)
    comp = _as(data, "comp")
    assert acme_id not in _ids(comp, "?status=all")
    assert _api(comp, "POST", f"/api/alerts/{acme_id}/status", json={"status": "resolved"}).status_code == 404
    assert _api(comp, "POST", f"/api/alerts/{acme_id}/assignee", json={"assignee": "me"}).status_code == 404
    assert comp.get(f"/api/alerts/{acme_id}/history").status_code == 404
    r = comp.post(f"/alerts/{acme_id}/assign", data={"assignee": "me", "csrf_token": csrf_of(comp)})
    assert r.status_code == 404
    acme_comp = _as(data, "comp", tenant="acme")  # same user name, other tenant
    assert {a["call_id"] for a in acme_comp.get("/api/alerts").json()} == {ACME}
    assert _api(acme_comp, "POST", f"/api/alerts/{acme_id}/assignee", json={"assignee": "me"}).json()["to"] == "comp"
    assert _ids(comp, "?assignee=me&status=all") == [], "the other tenant's comp is another user"


def test_writes_without_the_csrf_token_are_refused(data):
    store = data[0]
    comp = _as(data, "comp")
    ids = _ids(comp)[:2]
    r = comp.post("/alerts/bulk", data={"ids": [str(i) for i in ids], "action": "resolved"})
    assert r.status_code == 403
    r = comp.post("/alerts/bulk", data={"ids": [str(i) for i in ids], "action": "resolved", "csrf_token": "wrong"})
    assert r.status_code == 403
    assert comp.post(f"/alerts/{ids[0]}/assign", data={"assignee": "me"}).status_code == 403
    assert comp.post("/api/alerts/bulk", json={"ids": ids, "action": "resolved"}).status_code == 403
    assert comp.post(f"/api/alerts/{ids[0]}/assignee", json={"assignee": "me"},
                     headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert all(a["status"] == "new" for a in store.alerts()) and _ids(comp, "?assignee=me") == []


def _extra_calls(store, n: int, queue: str, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        call_id = f"2026/12/01/extra-{queue}-{i}"
        assert store.claim(Call(call_id, f"recordings/{call_id}.wav", "e1", agent="a-1001", queue=queue,
                                direction="inbound", started_at=datetime(2026, 12, 1, 9, i)))
        ids.append(call_id)
    return ids


def _rule(rule_id, severity, title):
    return {"category": "privacy" if rule_id == DISCLOSURE else "reputation", "rule_id": rule_id,
            "rule_version": "1", "severity": severity, "title": title, "explanation": title, "evidence": []}


def test_repeated_low_severity_alerts_are_grouped_and_high_ones_never(data):
    store = data[0]
    title = _alert(store, AUTOFAIL, DISCLOSURE)["title"]
    billing = _extra_calls(store, 4, "billing")  # + AUTOFAIL's: 5 disclosure alerts in billing
    sales = _extra_calls(store, 2, "sales")  # + none: 2 in sales, under the threshold
    for call_id in billing + sales:
        store.replace_alerts(call_id, [_rule(DISCLOSURE, "medium", title),
                                       _rule("media_threat", "high", "Customer threatens to go to the media")])
    comp = _as(data, "comp")
    rows = comp.get("/api/alerts/queue").json()["rows"]
    groups = [r["group"] for r in rows if r["kind"] == "group"]
    assert len(groups) == 1
    g = groups[0]
    assert (g["rule_id"], g["queue"], g["calls"], len(g["alert_ids"])) == (DISCLOSURE, "billing", 5, 5)
    singles = [r["alert"] for r in rows if r["kind"] == "alert"]
    assert sum(a["rule_id"] == "media_threat" for a in singles) == 7, "high alerts are never grouped"
    assert sum(a["rule_id"] == DISCLOSURE and a["queue"] == "sales" for a in singles) == 2, "2 < threshold"
    kinds = [(r["kind"], RANK[r["alert"]["severity"]] if r["alert"] else RANK[r["group"]["severity"]]) for r in rows]
    assert [k for _, k in kinds] == sorted(k for _, k in kinds), "critical and high first"
    assert comp.get("/api/alerts/queue").json()["total"] == len(comp.get("/api/alerts").json())

    page = comp.get("/alerts").text
    assert f"{title} · 5 calls · billing" in page
    assert not any(f'id="alert-{i}"' in page for i in g["alert_ids"]), "collapsed into the group row"
    expand = re.search(r'class="expand" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    expanded = comp.get(expand).text
    assert all(f'id="alert-{i}"' in expanded for i in g["alert_ids"]) and "· 5 calls ·" not in expanded
    assert len(comp.get(f"/api/alerts/queue?expand={DISCLOSURE}|billing").json()["rows"]) == len(rows) + 4

    group_form = page[page.index('class="filters group-actions"'):]
    group_form = group_form[:group_form.index("</form>")]
    ids = re.findall(r'name="ids" value="(\d+)"', group_form)
    assert sorted(map(int, ids)) == sorted(g["alert_ids"])
    r = comp.post("/alerts/bulk", data={"ids": ids, "action": "false_positive", "comment": "disclosure is played "
                                        "by the IVR", "csrf_token": csrf_of(comp)}, follow_redirects=False)
    assert r.status_code == 303
    after = comp.get("/api/alerts/queue").json()["rows"]
    assert all(r["kind"] == "alert" for r in after) and not set(g["alert_ids"]) & set(_ids(comp))
    assert sorted(_ids(comp, "?status=false_positive")) == sorted(g["alert_ids"])


def test_an_older_database_gets_the_assignee_column(tmp_path):
    db = tmp_path / "old.db"
    with sa.create_engine(f"sqlite:///{db}").begin() as c:
        c.execute(sa.text("CREATE TABLE calls (id VARCHAR(512) PRIMARY KEY, object_key TEXT, etag VARCHAR(128), "
                          "agent VARCHAR(128), queue VARCHAR(128), direction VARCHAR(16), started_at DATETIME, "
                          "language VARCHAR(16), duration FLOAT, size_bytes INTEGER, state VARCHAR(16), "
                          "attempts INTEGER, error_code VARCHAR(8), error_message TEXT, transcript_key TEXT, "
                          "warnings TEXT, updated_at DATETIME, processed_at DATETIME)"))
        c.execute(sa.text("CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, call_id VARCHAR(512), "
                          "category VARCHAR(32), rule_id VARCHAR(128), rule_version VARCHAR(32), severity VARCHAR(16),"
                          " title TEXT, body TEXT, status VARCHAR(16), created_at DATETIME, updated_at DATETIME)"))
        c.execute(sa.text("INSERT INTO calls (id, object_key, etag, direction, state, attempts, warnings, updated_at)"
                          " VALUES ('c1', 'c1.wav', 'e1', 'inbound', 'done', 1, '[]', '2026-01-01')"))
        c.execute(sa.text("INSERT INTO alerts (call_id, category, rule_id, rule_version, severity, title, body, "
                          "status, created_at, updated_at) VALUES ('c1', 'privacy', 'r', '1', 'low', 't', '{}', "
                          "'new', '2026-01-01', '2026-01-01')"))
    store = ResultsStore(f"sqlite:///{db}")
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT assignee FROM alerts")).all() == [(None,)]
    store.update_alerts([1], assign=True, assignee="comp")
    from infra.alert_queue import list_alerts

    assert [a.assignee for a in list_alerts(store.engine, "default", assignee="comp")] == ["comp"]
    with pytest.raises(ValueError, match="do not exist"):
        store.update_alerts([1, 2], status="resolved")
    assert [a.status for a in list_alerts(store.engine, "default", statuses=None)] == ["new"], "all or nothing"
    ResultsStore(f"sqlite:///{db}")  # a second open migrates nothing
