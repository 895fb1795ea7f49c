"""Screenshots of the workspace's main pages for the README, on the workspace test data (the calls of
tests/unit/test_web_fixture.py, analysed by the real pipeline stage), after a few workflows: a reviewer's
override, an agent's dispute, a calibration session scored by two reviewers, a coaching assignment, a compliance
officer's audited view of an unredacted transcript (the admin's audit log).

    .venv/bin/python scripts/workspace_screenshots.py docs/screenshots

Drives Debian's chromium through Playwright (never a downloaded browser)."""
from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(out: Path) -> int:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from demo.workspace import _port
    from tests.unit.test_web_fixture import AUTOFAIL, GOOD, PASSWORD, ZH, build
    from web.app import create_app

    out.mkdir(parents=True, exist_ok=True)
    store, src = build(Path(tempfile.mkdtemp(prefix="callqa-shots-")))
    port = _port(0)
    server = uvicorn.Server(uvicorn.Config(create_app(store, src, secret_key="screenshots"), host="127.0.0.1",
                                           port=port, access_log=False, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])

        def signed_in(user: str):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("#signin")
            csrf = page.request.get(f"{base}/api/me").json()["csrf_token"]
            return page, {"X-CSRF-Token": csrf}

        def post(page, headers, path, body):
            r = page.request.post(f"{base}{path}", data=body, headers=headers)
            assert r.ok, (path, r.status, r.text())
            return r.json() if r.status != 204 else None

        qa, qa_h = signed_in("qa")
        card = store.scorecard(GOOD)
        first = card["answers"][0]["question_id"]
        post(qa, qa_h, f"/api/overrides/{GOOD}", {"question_id": first, "answer": "fail",
                                                  "comment": "greeting was rushed"})
        agent, agent_h = signed_in("agent1")
        failed = next(a["question_id"] for a in store.scorecard(AUTOFAIL)["answers"] if a["answer"] == "fail")
        post(agent, agent_h, "/api/disputes", {"call_id": AUTOFAIL, "question_id": failed,
                                               "comment": "The customer hung up before I could do this."})
        lead, lead_h = signed_in("qalead")
        session = post(lead, lead_h, "/api/calibration", {"title": "November calibration",
                                                          "call_ids": [GOOD, AUTOFAIL], "reviewers": ["qa", "qa2"]})
        qa2, qa2_h = signed_in("qa2")
        for page, headers, flip in ((qa, qa_h, False), (qa2, qa2_h, True)):
            for cid in (GOOD, AUTOFAIL):
                answers = {a["question_id"]: a["answer"] for a in store.scorecard(cid)["answers"]}
                if flip:
                    answers[first] = "pass" if answers[first] != "pass" else "fail"
                post(page, headers, f"/api/calibration/{session['id']}/calls/{cid}", {"answers": answers})
        coach, coach_h = signed_in("coach")
        post(coach, coach_h, "/api/coaching/assignments", {"call_id": AUTOFAIL, "due": str(date.today() + timedelta(7)),
                                                           "note": "Listen to how the complaint was handled."})
        comp, comp_h = signed_in("comp")
        post(comp, comp_h, f"/api/unredacted/{AUTOFAIL}", {"reason": "complaint CX-311: customer disputes the "
                                                                    "callback number"})
        admin, _ = signed_in("admin")
        shots = [(qa, "/calls", "calls"), (qa, f"/calls/{AUTOFAIL}", "call"), (comp, "/alerts", "alerts"),
                 (lead, "/dashboard?date_from=2026-11-16&date_to=2026-11-30&bucket=day", "dashboard"),
                 (lead, f"/calibration/{session['id']}/results", "calibration"), (coach, "/coaching", "coaching"),
                 (lead, "/disputes", "disputes"), (qa, f"/calls/{ZH}", "call-zh"), (admin, "/admin/audit", "audit")]
        for page, path, name in shots:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"), full_page=False)
            print(f"{name}: {base}{path}")
        browser.close()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
