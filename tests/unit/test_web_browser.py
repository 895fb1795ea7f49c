"""The workspace in a real browser: Playwright for Python driving Debian's chromium (never a downloaded one)
against the real server (uvicorn on a loopback port) on a real SQLite DB and the local-folder object store
(test_web_fixture). A compliance officer signs in, searches, opens a call, clicks a transcript line (the audio
player seeks there), and acknowledges an alert, which then leaves the alert queue's default view. The console
must stay free of errors. Screenshots go to `<tmp>/shots/`. Chromium missing is a failure, not a skip."""
from __future__ import annotations

import time


from .test_web_fixture import ACME, AUTOFAIL, PASSWORD


def test_sign_in_search_listen_and_acknowledge(server, browser):
    base, root, store = server
    shots = root / "shots"
    shots.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/calls")
    assert page.url.startswith(f"{base}/login"), "signed out: the sign-in page"
    page.fill("#username", "comp")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(f"{base}/calls")
    assert page.text_content("#whoami") == "comp"
    page.screenshot(path=str(shots / "calls.png"), full_page=True)

    page.fill("#q", "press")
    page.click("#search")
    page.wait_for_url("**/calls?q=press**")
    assert page.text_content("#count").strip() == "1 call"
    assert page.inner_text("mark") == "press"
    page.click("a.call-link")
    page.wait_for_url(f"{base}/calls/{AUTOFAIL}")
    assert page.text_content("#call-id") == AUTOFAIL

    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration > 10, duration
    assert page.evaluate("document.getElementById('player').currentTime") == 0
    line = page.locator("#transcript li").nth(2)
    start = float(line.get_attribute("data-start"))
    assert start > 1
    line.click()
    page.wait_for_function(f"document.getElementById('player').currentTime >= {start - 0.05}", timeout=10000)
    time.sleep(0.5)
    now = page.evaluate("document.getElementById('player').currentTime")
    assert start - 0.05 <= now < duration, (start, now)
    page.wait_for_selector("#transcript li.current", timeout=5000)
    page.screenshot(path=str(shots / "call.png"), full_page=True)

    new_before = len([a for a in store.alerts(status="new") if a["call_id"] != ACME])
    alert = page.locator("#call-alerts li.alert").first
    alert_id = alert.get_attribute("id")
    assert alert.locator(".status").text_content() == "new"
    alert.locator("input[name=comment]").fill("calling the customer back")
    alert.locator("button.act-acknowledged").click()
    page.wait_for_url(f"{base}/calls/{AUTOFAIL}")
    assert page.locator(f"#{alert_id} .status").text_content() == "acknowledged"
    assert "new → acknowledged (calling the customer back)" in page.locator(f"#{alert_id}").inner_text()

    page.click("text=Alerts")
    page.wait_for_url(f"{base}/alerts")
    assert page.locator(f"#alert-queue #{alert_id}").count() == 0, "handled: gone from the default (new) view"
    assert page.locator("#alert-queue li.alert").count() == new_before - 1
    page.select_option("#status-filter", "acknowledged")
    page.click("text=Show")
    page.wait_for_url("**/alerts?status=acknowledged**")
    assert page.locator(f"#alert-queue #{alert_id}").count() == 1
    page.screenshot(path=str(shots / "alerts.png"), full_page=True)
    assert errors == [], errors
    page.close()
