"""The workspace per role in a real browser (Playwright driving Debian's chromium against uvicorn on a loopback
port, real SQLite DB and local object store, test_web_fixture): each role signs in through the form and sees
its own menu; an agent gets 403 on another agent's call; an evidence link and a timeline bar seek the redacted
audio; only the compliance officer gets unredacted text and the original recording, after a reason, and an admin
then finds that view (who, call, reason) in the audit log page and its CSV export; script in
transcript text and metadata stays inert; a POST without the CSRF token is refused."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from .test_web_fixture import AUTOFAIL, GOOD, OTHER, PHONE, browser_sign_in

MENUS = {  # role user -> (links it must have, links it must not have)
    "qa": ({"Calls", "Dashboard", "My review queue", "Calibration"}, {"Alerts", "Disputes", "Sampling", "Coaching"}),
    "qalead": ({"Dashboard", "My review queue", "Disputes", "Sampling", "Calibration"}, {"Alerts", "Coaching"}),
    "comp": ({"Calls", "Dashboard", "Alerts"}, {"Disputes", "Sampling", "Calibration", "Coaching"}),
    "coach": ({"Calls", "Dashboard", "Coaching"}, {"Alerts", "Disputes", "Sampling", "Calibration"}),
    "agent1": ({"Calls", "My coaching"}, {"Dashboard", "Alerts", "Disputes", "Sampling", "Calibration", "Coaching"}),
    "admin": ({"Calls", "Dashboard", "Alerts", "Audit log", "Disputes", "Sampling"}, {"My coaching"}),
}


REASON = "complaint CX-311: customer disputes the callback number"


def _sign_in(browser, base, user):
    return browser_sign_in(browser, base, user, dialogs_are_errors=True)


@pytest.mark.parametrize("user", sorted(MENUS))
def test_each_role_signs_in_to_its_own_menu(server, browser, user):
    base = server[0]
    page, errors = _sign_in(browser, base, user)
    menu = set(page.locator("header nav a").all_inner_texts())
    must, must_not = MENUS[user]
    assert must <= menu and not (must_not & menu), (user, menu)
    page.click("#logout")
    page.wait_for_url(f"{base}/login")
    assert page.goto(f"{base}/calls").url.startswith(f"{base}/login"), "signed out"
    assert errors == [], errors
    page.close()


def test_agent_sees_own_calls_only(server, browser):
    base = server[0]
    page, errors = _sign_in(browser, base, "agent1")
    listed = set(page.locator("a.call-link").all_inner_texts())
    assert GOOD in listed and OTHER not in listed
    assert page.goto(f"{base}/calls/{OTHER}").status == 403
    assert "agents see their own calls only" in page.content()
    assert page.goto(f"{base}/calls/{GOOD}").status == 200
    page.close()


def test_evidence_links_and_timeline_seek_the_audio(server, browser):
    base = server[0]
    page, errors = _sign_in(browser, base, "qa")
    page.goto(f"{base}/calls/{AUTOFAIL}")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    link = page.locator("#autofail-banner a.seek").first
    start = float(link.get_attribute("data-start"))
    assert start > 1, "the evidence is not at the very start"
    link.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {start}) < 0.3", timeout=10000)
    bar = page.locator("#timeline a.seek").last
    bar_start = float(bar.get_attribute("data-start"))
    bar.click()
    page.wait_for_function(f"document.getElementById('player').currentTime >= {bar_start - 0.05}", timeout=10000)
    assert errors == [], errors
    page.close()


def test_unredacted_material_for_the_compliance_officer_only(server, browser):
    base = server[0]
    qa, _ = _sign_in(browser, base, "qa")
    assert PHONE not in qa.goto(f"{base}/calls/{AUTOFAIL}").text() and PHONE not in qa.content()
    assert qa.goto(f"{base}/unredacted/{AUTOFAIL}").status == 403
    assert qa.goto(f"{base}/unredacted-audio/{AUTOFAIL}").status == 403
    qa.close()
    comp, errors = _sign_in(browser, base, "comp")
    comp.goto(f"{base}/calls/{AUTOFAIL}")
    assert PHONE not in comp.content(), "redacted by default, for the compliance officer too"
    comp.click("#open-unredacted")
    comp.fill("#reason", REASON)
    comp.click("#open")
    comp.wait_for_selector("#unredacted-transcript")
    assert PHONE in comp.inner_text("#unredacted-transcript")
    comp.wait_for_function("document.getElementById('unredacted-player').readyState >= 1", timeout=15000)
    assert errors == [], errors
    comp.close()

    # the view is in the audit log: an admin sees who, which call and why, on the page and in the CSV export
    admin, errors = _sign_in(browser, base, "admin")
    admin.click("header nav >> text=Audit log")
    admin.wait_for_url(f"{base}/admin/audit")
    admin.select_option("select[name=action]", "unredacted_view")
    admin.click("text=Show")
    admin.wait_for_url("**/admin/audit?action=unredacted_view")
    row = admin.locator(f'#audit tr.entry[data-action="unredacted_view"][data-call="{AUTOFAIL}"]')
    assert row.count() == 1, admin.inner_text("#audit")
    cells = row.locator("td").all_inner_texts()
    assert cells[1:5] == ["comp", "compliance_officer", "unredacted_view", AUTOFAIL], cells
    assert f"reason: {REASON}" in cells[7] and PHONE not in admin.content()
    with admin.expect_download() as download:
        admin.click("#audit-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    views = [r for r in rows if r["action"] == "unredacted_view" and r["call_id"] == AUTOFAIL]
    assert [(r["user"], r["role"], json.loads(r["detail"])["reason"]) for r in views] == \
        [("comp", "compliance_officer", REASON)], views
    assert errors == [], errors
    admin.close()


def test_injected_script_is_inert_and_csrf_less_posts_are_refused(server, browser):
    base = server[0]
    page, errors = _sign_in(browser, base, "qa")
    page.goto(f"{base}/calls/{OTHER}")
    assert page.title() != "pwned" and "<script>" in page.inner_text("#transcript")
    page.goto(f"{base}/calls?q=delivery")
    assert page.title() != "pwned"
    question = re.search(r'name="question_id" value="([^"]+)"', page.goto(f"{base}/calls/{GOOD}").text()).group(1)
    refused = page.request.post(f"{base}/overrides/{GOOD}", form={"question_id": question, "answer": "fail"})
    assert refused.status == 403
    refused = page.request.post(f"{base}/api/reviewed/{GOOD}")
    assert refused.status == 403
    assert errors == [], errors
    page.close()
