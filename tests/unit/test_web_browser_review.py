"""QA review in a real browser: Playwright for Python driving Debian's chromium (never a downloaded one)
against the real server (uvicorn on a loopback port) on the test data (test_web_fixture). A reviewer
overrides an answer, sees the reviewed total change beside the unchanged machine total, marks the call
reviewed, then downloads the scorecard export CSV and finds the reviewed answer in it. The console must stay
free of errors. Chromium missing is a failure, not a skip."""
from __future__ import annotations

import csv
import io


from .test_web_fixture import GOOD, PASSWORD


def test_reviewer_overrides_sees_total_change_and_exports_it(server, browser):
    base, root, _ = server
    shots = root / "shots"
    shots.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/calls/{GOOD}")
    page.fill("#username", "qa")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(f"{base}/calls/{GOOD}")
    assert page.text_content("#total") == "100.0"
    assert page.text_content("#reviewed-total") == "100.0"
    assert page.locator("#reviewed-by").count() == 0

    row = page.locator("#q-recap")
    row.locator("select[name=answer]").select_option("fail")
    row.locator("input[name=comment]").fill("no recap of the refund")
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/calls/{GOOD}#q-recap")
    assert page.text_content("#total") == "100.0", "the machine total stays"
    assert page.text_content("#reviewed-total") == "90.0"
    assert page.text_content("#reviewed-by") == "reviewed by qa"
    assert "no recap of the refund" in page.locator("#q-recap .override").inner_text()
    assert page.locator("#q-recap .answer.pass").count() == 1, "the machine answer stays beside it"
    page.click("#mark-reviewed")
    page.wait_for_url(f"{base}/calls/{GOOD}#scorecard")
    page.screenshot(path=str(shots / "reviewed.png"), full_page=True)

    page.goto(f"{base}/exports")
    page.select_option("select[name=agent]", "a-1001")
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename == "callqa-scorecards.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    recap = next(r for r in rows if r["call_id"] == GOOD and r["question_id"] == "recap")
    assert (recap["machine_answer"], recap["reviewed_answer"], recap["reviewer"]) == ("pass", "fail", "qa")
    assert (recap["machine_total"], recap["reviewed_total"]) == ("100.0", "90.0")
    assert {r["call_id"] for r in rows} <= {GOOD, "2026/11/22/autofail"}
    assert errors == [], errors
    context.close()
