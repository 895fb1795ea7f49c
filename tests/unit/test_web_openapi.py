"""The JSON API's OpenAPI schema covers what the pages do, and the responses validate against it (jsonschema,
draft 2020-12, the schema's own components): a call with its scorecard, the calls list's filter values, the
audit log and its CSV export, the recordings with their range behaviour, calibration. TestClient on real data
(test_web_fixture)."""
from __future__ import annotations

import csv
import io

import pytest
from jsonschema import Draft202012Validator

from .test_web_fixture import AUTOFAIL, GOOD, OTHER, as_user, client, csrf_of, fresh_copy

PATHS = {"/api/calls", "/api/calls/facets", "/api/calls/{call_id}", "/api/audio/{call_id}",
         "/api/unredacted-audio/{call_id}", "/api/unredacted/{call_id}", "/api/audit", "/api/audit.csv",
         "/api/calibration", "/api/calibration/{session_id}", "/api/calibration/{session_id}/results",
         "/api/calibration/{session_id}/calls/{call_id}", "/api/alerts/{alert_id}/status", "/api/alerts/bulk"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


@pytest.fixture(scope="module")
def schema(data):
    return client(*data[:2]).get("/api/openapi.json").json()


def _valid(schema: dict, path: str, response, method: str = "get") -> object:
    """The response's JSON, after checking it against the schema of its path, method and status."""
    documented = schema["paths"][path][method]["responses"][str(response.status_code)]
    body_schema = documented["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**body_schema, "components": schema["components"]})
    body = response.json()
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return body


def _json_schema(schema: dict, path: str, method: str = "get") -> dict:
    return schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def test_schema_lists_the_paths_with_typed_responses(schema):
    assert PATHS <= set(schema["paths"]), sorted(PATHS - set(schema["paths"]))
    for path in ("/api/calls/{call_id}", "/api/calls/facets", "/api/calibration/{session_id}/results",
                 "/api/calibration/{session_id}"):
        assert "$ref" in _json_schema(schema, path), f"{path}: an untyped object"
    for path in ("/api/audit", "/api/calibration"):
        assert "$ref" in _json_schema(schema, path)["items"], f"{path}: a list of untyped objects"
    detail = schema["components"]["schemas"]["CallDetail"]["properties"]
    assert {"call", "transcript", "scorecard", "alerts", "audio_url"} <= set(detail)
    for path in ("/api/audio/{call_id}", "/api/unredacted-audio/{call_id}"):
        op = schema["paths"][path]["get"]
        assert {"200", "206", "416"} <= set(op["responses"]), "range behaviour documented"
        assert "Content-Range" in op["responses"]["206"]["headers"]
        assert any(p["in"] == "header" and p["name"].lower() == "range" for p in op["parameters"])
        assert not any("application/json" in r.get("content", {}) for s, r in op["responses"].items() if s < "300")
    csv_doc = schema["paths"]["/api/audit.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv_doc) == ["text/csv"]
    assert not any(p.startswith(("/calls", "/audio", "/admin")) for p in schema["paths"]), "pages are not API"


def test_call_detail_and_facets_validate(data, schema):
    qa = as_user(data, "qa")
    detail = _valid(schema, "/api/calls/{call_id}", qa.get(f"/api/calls/{AUTOFAIL}"))
    assert detail["call"]["id"] == AUTOFAIL and detail["scorecard"]["auto_failed"] is True
    assert detail["scorecard"]["kpis"] and detail["scorecard"]["sentiment"], "fields beyond the typed ones stay"
    assert detail["scorecard"]["auto_fail_evidence"][0]["evidence"][0]["quote"]
    assert detail["audio_url"] == f"/api/audio/{AUTOFAIL}" and detail["alerts"]
    facets = _valid(schema, "/api/calls/facets", qa.get("/api/calls/facets"))
    assert {"a-1001", "a-2002"} <= set(facets["agents"]) and "billing" in facets["queues"]
    assert "new" in facets["alert_statuses"] and "critical" in facets["alert_severities"]
    assert "started" in facets["sorts"] and facets["questions"] and facets["forms"]
    failed = facets["questions"][0]["id"]
    assert qa.get(f"/api/calls?failed_question={failed}").status_code == 200, "a facet value filters the list"
    mine = _valid(schema, "/api/calls/facets", as_user(data, "agent1").get("/api/calls/facets"))
    assert mine["agents"] == ["a-1001"], "an agent's filter values come from their own calls"
    assert client(*data[:2]).get("/api/calls/facets").status_code == 401


def test_recordings_stream_with_ranges_under_api(data, schema):
    qa = as_user(data, "qa")
    whole = qa.get(f"/api/audio/{AUTOFAIL}")
    size = len(whole.content)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes" and whole.content[:4] == b"RIFF"
    assert whole.content == qa.get(f"/audio/{AUTOFAIL}").content, "the player's stream, the same bytes"
    part = qa.get(f"/api/audio/{AUTOFAIL}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}" and part.headers["content-length"] == "10"
    refused = qa.get(f"/api/audio/{AUTOFAIL}", headers={"Range": f"bytes={size}-"})
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{size}"
    assert client(*data[:2]).get(f"/api/audio/{AUTOFAIL}").status_code == 401, "JSON 401, not a redirect"
    assert as_user(data, "agent2").get(f"/api/audio/{AUTOFAIL}").status_code == 403
    assert qa.get(f"/api/unredacted-audio/{AUTOFAIL}?grant=forged").status_code == 403
    comp = as_user(data, "comp")
    opened = comp.post(f"/api/unredacted/{AUTOFAIL}", json={"reason": "complaint CX-311 about the callback"},
                       headers={"X-CSRF-Token": csrf_of(comp)})
    url = _valid(schema, "/api/unredacted/{call_id}", opened, "post")["audio_url"]
    assert url.startswith(f"/api/unredacted-audio/{AUTOFAIL}?grant=")
    original = comp.get(url, headers={"Range": "bytes=0-3"})
    assert original.status_code == 206 and original.content == b"RIFF"
    assert original.headers["content-range"].startswith("bytes 0-3/")


def test_audit_log_and_its_csv_export_validate(data, schema):
    comp = as_user(data, "comp")
    reason = "regulator request 2026-41 about a recording"
    assert comp.post(f"/api/unredacted/{OTHER}", json={"reason": reason},
                     headers={"X-CSRF-Token": csrf_of(comp)}).status_code == 200
    admin = as_user(data, "admin")
    entries = _valid(schema, "/api/audit", admin.get(f"/api/audit?action=unredacted_view&call_id={OTHER}"))
    assert [(e["username"], e["call_id"], e["detail"]["reason"]) for e in entries] == [("comp", OTHER, reason)]
    assert admin.get("/api/audit?limit=0").status_code == 422
    exported = admin.get("/api/audit.csv?action=unredacted_view")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert any(r["user"] == "comp" and r["call_id"] == OTHER and reason in r["detail"] for r in rows)
    assert {r["action"] for r in rows} == {"unredacted_view"}
    assert as_user(data, "qa").get("/api/audit.csv").status_code == 403
    assert as_user(data, "acme.admin", tenant="acme").get("/api/audit.csv").text.count(OTHER) == 0, "per tenant"


def test_calibration_responses_validate(data, schema):
    lead, qa = as_user(data, "qalead"), as_user(data, "qa")
    created = lead.post("/api/calibration", json={"title": "schema check", "call_ids": [GOOD], "reviewers": ["qa"]},
                        headers={"X-CSRF-Token": csrf_of(lead)})
    sid = _valid(schema, "/api/calibration", created, "post")["id"]
    listed = _valid(schema, "/api/calibration", qa.get("/api/calibration"))
    assert sid in [s["id"] for s in listed]
    form = _valid(schema, "/api/calibration/{session_id}/calls/{call_id}",
                  qa.get(f"/api/calibration/{sid}/calls/{GOOD}"))
    assert form["my_answers"] is None and form["questions"]
    answers = {q["question_id"]: "pass" for q in form["questions"]}
    assert qa.post(f"/api/calibration/{sid}/calls/{GOOD}", json={"answers": answers},
                   headers={"X-CSRF-Token": csrf_of(qa)}).status_code == 204
    session = _valid(schema, "/api/calibration/{session_id}", lead.get(f"/api/calibration/{sid}"))
    assert session["submitted"] == {"qa": [GOOD]}
    results = _valid(schema, "/api/calibration/{session_id}/results", lead.get(f"/api/calibration/{sid}/results"))
    assert results["session"]["id"] == sid and results["questions"]
    assert all(q["trend"] and "machine_percent" in q for q in results["questions"])
