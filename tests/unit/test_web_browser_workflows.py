"""Three workflows end to end in a real browser (Playwright driving Debian's chromium against uvicorn on a
loopback port, real SQLite DB and local object store, test_web_fixture): an agent disputes an answer and a QA
lead settles it from the disputes queue; a reviewer works through a call of their sampled review queue; a
dashboard cell drills down to the call list filtered to exactly the calls it counts. Each asserts what the
pages show, and that the console stays free of errors."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from .test_web_fixture import AUTOFAIL, GOOD, OTHER, PASSWORD, ZH, browser_sign_in


def _sign_in(browser, base, user, then: str = "/calls"):
    return browser_sign_in(browser, base, user, then=then)


def test_agent_disputes_an_answer_and_the_lead_upholds_it_from_the_queue(server, browser):
    base, _, store = server
    card = store.scorecard(AUTOFAIL)
    disputed = next(a for a in card["answers"] if a["answer"] == "fail" and not a.get("auto_fail"))
    qid = disputed["question_id"]

    agent, errors = _sign_in(browser, base, "agent1", f"/calls/{AUTOFAIL}")
    agent.select_option("#dispute-question", qid)
    agent.fill("#dispute-comment", "I did apologise at 0:12, please listen again")
    agent.click("#dispute")
    agent.wait_for_url(re.compile(r".*#responses$"))
    mine = agent.locator("#call-disputes li.dispute")
    assert mine.count() == 1 and "open" in mine.inner_text() and qid in mine.inner_text()
    assert "I did apologise at 0:12" in mine.inner_text()
    agent_errors = errors

    lead, errors = _sign_in(browser, base, "qalead", "/disputes")
    assert lead.locator("#dispute-count").inner_text() == "1 dispute (open)"
    item = lead.locator("#dispute-queue li.dispute")
    assert AUTOFAIL in item.inner_text() and "I did apologise at 0:12" in item.inner_text()
    assert "(agent1)" in item.inner_text() and "machine fail" in item.inner_text()
    item.locator("select[name=status]").select_option("upheld")
    item.locator("select[name=answer]").select_option("pass")
    item.locator("input[name=comment]").fill("apology is there at 0:12; upheld")
    item.locator("button.resolve").click()
    lead.wait_for_url(f"{base}/disputes?status=open")
    assert lead.locator("#dispute-count").inner_text() == "0 disputes (open)"
    assert lead.locator("#dispute-queue li.dispute").count() == 0, "settled: gone from the open queue"
    lead.select_option("#dispute-status-filter", "upheld")
    lead.click("#show-disputes")
    lead.wait_for_url(f"{base}/disputes?status=upheld")
    history = lead.locator("#dispute-queue .history").inner_text()
    assert "upheld by qalead, answer set to pass" in history and "apology is there" in history
    assert errors == [], errors
    lead.close()

    agent.reload()  # the agent's own page (another browser context) shows the decision
    settled = agent.locator("#call-disputes li.dispute").inner_text()
    assert "upheld by qalead" in settled and "answer set to pass" in settled
    override = agent.locator(f"#q-{qid} .override").inner_text()
    assert "pass" in override and "qalead" in override, "the lead's answer is the reviewed one now"
    assert agent.locator(f"#q-{qid} .answer.fail").count() == 1, "the machine answer stays beside it"
    assert agent_errors == [], agent_errors
    agent.close()


def test_reviewer_works_through_a_call_of_their_sampled_queue(server, browser):
    base = server[0]
    lead = browser.new_context()  # the lead's setup goes through the API: rules for qa only, this week's queue
    r = lead.request.post(f"{base}/api/session", data={"username": "qalead", "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    rules = {"calls_per_agent": 1, "period": "week", "weight_low_score": 2, "weight_alert": 2,
             "weight_auto_fail": 3, "weight_new_agent": 0, "new_agent_days": 30, "include_disputed": True,
             "reviewers": ["qa"]}
    assert lead.request.put(f"{base}/api/sampling/rules", data=rules, headers={"X-CSRF-Token": csrf}).ok
    queued = lead.request.post(f"{base}/api/sampling/generate", data={"day": "2026-11-25"},
                               headers={"X-CSRF-Token": csrf})
    assert queued.ok, queued.text()
    lead.close()

    page, errors = _sign_in(browser, base, "qa", "/review?period=2026-W48")
    assert page.locator("#period").inner_text() == "2026-W48"
    rows = page.locator("#queue tbody tr")
    total = rows.count()
    assert total >= 2 and page.locator("#progress").inner_text() == f"0 of {total} reviewed"
    listed = page.locator("#queue a.call-link").all_inner_texts()
    assert set(listed) <= {GOOD, AUTOFAIL, OTHER, ZH} and OTHER in listed, "a-2002's one call this week"
    row = page.locator("#queue tbody tr", has=page.locator(f'a.call-link:text-is("{OTHER}")'))
    assert row.locator("td.status").inner_text() == "to review"
    row.locator("a.call-link").click()
    page.wait_for_url(f"{base}/calls/{OTHER}")
    question = page.locator("tr[id^=q-]").first
    question.locator("select[name=answer]").select_option("na")
    question.locator("input[name=comment]").fill("not applicable on an address change")
    question.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/calls/{re.escape(OTHER)}#q-.*"))
    assert page.locator("#reviewed-by").inner_text() == "reviewed by qa"
    page.goto(f"{base}/review?period=2026-W48")
    assert page.locator("#progress").inner_text() == f"1 of {total} reviewed"
    done = page.locator("#queue tbody tr.done")
    assert done.count() == 1 and done.locator("a.call-link").inner_text() == OTHER
    assert done.locator("td.status").inner_text() == "reviewed"
    assert page.locator("#queue tbody tr.pending").count() == total - 1
    assert errors == [], errors
    page.close()


def _mark(page, chart: str, title_prefix: str):
    """The linked mark of `chart` whose tooltip starts with `title_prefix`."""
    marks = page.locator(f"#{chart} a.mark")
    for i in range(marks.count()):
        title = marks.nth(i).locator("title").text_content()
        if title.startswith(title_prefix):
            return marks.nth(i), title
    raise AssertionError(f"no mark {title_prefix!r} in {chart}")


def test_dashboard_cells_drill_down_to_the_calls_they_count(server, browser):
    base, _, store = server
    page, errors = _sign_in(browser, base, "qa", "/dashboard?date_from=2026-11-16&date_to=2026-11-29&bucket=day")
    bar, title = _mark(page, "volume-queue", "billing, 2026-11-22")
    assert title.endswith(": 1 call")
    bar.click()
    page.wait_for_url(re.compile(r".*/calls\?.*"))
    assert parse_qs(urlsplit(page.url).query) == {"queue": ["billing"], "date_from": ["2026-11-22"],
                                                  "date_to": ["2026-11-22"]}
    assert page.locator("#count").inner_text() == "1 call"
    assert page.locator("a.call-link").all_inner_texts() == [AUTOFAIL]
    assert page.locator("select[name=queue]").input_value() == "billing", "the filter shows on the list"

    machine_fails = {c.call_id: {a["question_id"] for a in c.body["answers"] if a["answer"] == "fail"}
                     for c in store.scorecards()}
    page.goto(f"{base}/dashboard?date_from=2026-11-16&date_to=2026-11-29&bucket=week&view=machine")
    cells = page.locator("#pass-rates a.mark")
    failed, cell = max(((int(re.search(r"(\d+) failed of", cells.nth(i).locator("title").text_content())[1]), i)
                        for i in range(cells.count())))
    assert failed >= 1, "a cell with failures to drill into"
    cell = cells.nth(cell)
    q = parse_qs(urlsplit(cell.get_attribute("href")).query)
    qid, start, end = q["failed_question"][0], q["date_from"][0], q["date_to"][0]
    cell.click()
    page.wait_for_url(re.compile(r".*/calls\?.*failed_question=.*"))
    listed = set(page.locator("a.call-link").all_inner_texts())
    started = {GOOD: "2026-11-20", AUTOFAIL: "2026-11-22", OTHER: "2026-11-25", ZH: "2026-11-24"}
    assert listed == {c for c, day in started.items() if start <= day <= end and qid in machine_fails.get(c, ())}
    assert len(listed) == failed and page.locator("#answers").input_value() == "machine"
    assert errors == [], errors
    page.close()
