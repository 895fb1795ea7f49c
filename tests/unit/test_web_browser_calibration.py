"""Calibration in a real browser (Playwright driving Debian's chromium against uvicorn on a loopback port, on
test_web_fixture's data): a QA lead creates a session on two calls for two reviewers, each reviewer scores both
calls blind, and the lead reads the per-question agreement table. The console must stay free of errors.
Screenshots go to `<tmp>/shots/`. Chromium missing is a failure, not a skip."""
from __future__ import annotations


from .test_web_fixture import AUTOFAIL, GOOD, browser_sign_in


def _signed_in(browser, base, username, errors):
    page, _ = browser_sign_in(browser, base, username, then="/calibration", errors=errors)
    return page.context, page


def _score_all(page, shot, answer_for) -> str:
    """Score every call of the session open in `page`; returns the first question's id."""
    first = None
    while page.locator("a.score-link").count():
        page.locator("a.score-link").first.click()
        page.wait_for_selector("#blind-form")
        assert page.locator(".answer.pass, .answer.fail, .answer.na, #total").count() == 0, "the machine is hidden"
        selects = page.locator("#blind-form select")
        for i in range(selects.count()):
            qid = selects.nth(i).get_attribute("name").removeprefix("answer-")
            first = first or qid
            selects.nth(i).select_option(answer_for(i))
        if not shot.exists():
            page.screenshot(path=str(shot), full_page=True)
        page.click("#submit-answers")
        page.wait_for_selector("#session-calls")
    return first


def test_lead_creates_session_reviewers_score_blind_lead_sees_agreement(server, browser):
    base, root, _ = server
    shots = root / "shots"
    shots.mkdir(exist_ok=True)
    errors: list[str] = []

    lead_ctx, lead = _signed_in(browser, base, "qalead", errors)
    lead.fill("#title", "Weekly calibration")
    for name in ("qa", "qa2"):
        lead.check(f'#pick-reviewers input[value="{name}"]')
    for call_id in (GOOD, AUTOFAIL):
        lead.check(f'#pick-calls input[value="{call_id}"]')
    lead.screenshot(path=str(shots / "calibration_new.png"), full_page=True)
    lead.click("#create-session")
    lead.wait_for_selector("#session-title")
    session_url = lead.url
    assert lead.text_content("#session-title") == "Weekly calibration"

    firsts = []
    for name, answer_for in (("qa", lambda i: "pass"), ("qa2", lambda i: "fail" if i == 0 else "pass")):
        ctx, page = _signed_in(browser, base, name, errors)
        page.click("#my-sessions >> text=Weekly calibration")
        page.wait_for_url(session_url)
        assert page.text_content("#progress") == "0 of 2 calls scored"
        firsts.append(_score_all(page, shots / f"blind_{name}.png", answer_for))
        assert page.text_content("#progress") == "2 of 2 calls scored"
        page.screenshot(path=str(shots / f"calibration_{name}.png"), full_page=True)
        ctx.close()
    assert firsts[0] == firsts[1]

    lead.goto(session_url)
    lead.click("#results-link")
    lead.wait_for_selector("#agreement")
    lead.screenshot(path=str(shots / "calibration_results.png"), full_page=True)
    disputed = lead.locator(f'#agreement tr[data-question="{firsts[0]}"]')
    assert disputed.locator(".reviewer-percent").text_content() == "0%"
    assert disputed.locator(".reviewer-kappa").text_content() != "1.00"
    agreed = lead.locator("#agreement tbody tr").nth(1)
    assert agreed.locator(".reviewer-percent").text_content() == "100%"
    assert agreed.locator(".reviewer-kappa").text_content() == "1.00"
    assert lead.locator("#agreement tbody tr").count() >= 2
    lead_ctx.close()
    assert errors == [], errors
