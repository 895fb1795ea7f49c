"""The alert queue and coaching in a real browser: Playwright driving Debian's chromium against the real server
(uvicorn on a loopback port) on the real SQLite DB of test_web_fixture. A compliance officer ticks two alerts
and resolves them with one comment: they leave the "new" view, are listed as resolved, and the call page shows
the change in their history. A coach assigns a call; its agent opens it from "My coaching" and acknowledges it;
the coach sees it done. The console must stay free of errors. Chromium missing is a failure, not a skip."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


from .test_web_fixture import AUTOFAIL, browser_sign_in


def _signed_in(browser, base, username, errors):
    page, _ = browser_sign_in(browser, base, username, errors=errors)
    return page.context, page


def test_bulk_resolve_then_coach_assigns_and_agent_acknowledges(server, browser):
    base, root, store = server
    shots = root / "shots"
    shots.mkdir(exist_ok=True)
    errors: list[str] = []

    context, page = _signed_in(browser, base, "comp", errors)
    page.click("text=Alerts")
    page.wait_for_url(f"{base}/alerts")
    rows = page.locator("#alert-queue li.alert")
    before = rows.count()
    assert before >= 3
    chosen = [rows.nth(i).get_attribute("id") for i in (0, 1)]
    for alert_id in chosen:
        page.check(f"#{alert_id} input.pick")
    page.select_option("#bulk-action", "resolved")
    page.fill("#bulk-comment", "handled in ticket CX-42")
    page.click("#bulk-apply")
    page.wait_for_url("**/alerts?status=new")
    assert page.locator("#alert-queue li.alert").count() == before - 2
    for alert_id in chosen:
        assert page.locator(f"#alert-queue #{alert_id}").count() == 0, "resolved: gone from the new view"
    page.select_option("#status-filter", "resolved")
    page.click("text=Show")
    page.wait_for_url("**/alerts?status=resolved**")
    for alert_id in chosen:
        assert page.locator(f"#{alert_id} .status").text_content() == "resolved"
    page.screenshot(path=str(shots / "alerts-resolved.png"), full_page=True)
    page.locator(f"#{chosen[0]} a[href^='/calls/']").click()
    page.wait_for_url(f"{base}/calls/**")
    assert "new → resolved (handled in ticket CX-42)" in page.locator(f"#{chosen[0]} .alert-history").inner_text()
    context.close()

    context, coach = _signed_in(browser, base, "coach", errors)
    coach.click("text=Coaching")
    coach.wait_for_url(f"{base}/coaching")
    coach.locator("tr[data-agent='a-1001'] ul.lowest a.use-call").first.click()
    coach.wait_for_url("**/coaching?call=**")
    assert coach.input_value("#assign-call") == AUTOFAIL
    coach.fill("#assign-note", "Listen to how the call ended")
    coach.fill("#assign-due", (datetime.now(timezone.utc).date() + timedelta(days=3)).isoformat())
    coach.click("#assign-submit")
    coach.wait_for_url(f"{base}/coaching#assignment-*")
    row = coach.locator("#assignments tbody tr").first
    assert row.locator(".completion").get_attribute("data-state") == "open"

    agent_ctx, agent = _signed_in(browser, base, "agent1", errors)
    agent.click("text=My coaching")
    agent.wait_for_url(f"{base}/my/coaching")
    item = agent.locator("#my-assignments li.assignment").first
    assert "Listen to how the call ended" in item.inner_text()
    item.locator("a.listen").click()
    agent.wait_for_url(f"{base}/calls/{AUTOFAIL}")
    agent.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    agent.go_back()
    agent.wait_for_url(f"{base}/my/coaching")
    item = agent.locator("#my-assignments li.assignment").first
    item.locator("input[name=comment]").fill("will close politely")
    item.locator("button.ack").click()
    agent.wait_for_url(f"{base}/my/coaching#assignment-*")
    assert agent.locator("#my-assignments li.assignment .status").first.text_content() == "acknowledged"
    agent.screenshot(path=str(shots / "my-coaching.png"), full_page=True)
    agent_ctx.close()

    coach.reload()
    done = coach.locator("#assignments tbody tr").first.locator(".completion")
    assert done.get_attribute("data-state") == "done" and "will close politely" in done.inner_text()
    coach.screenshot(path=str(shots / "coaching.png"), full_page=True)
    context.close()
    assert errors == [], errors
