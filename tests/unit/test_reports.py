"""Reports built from a real results DB (real scoring and compliance on hand-built calls): every page and
export written locally and uploaded, their content checked against the store, and no PII anywhere."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from markupsafe import escape

from reports.build import build_reports
from reports.data import SEVERITY_RANK, ReportError, gather

from .test_reports_fixture import CALLS, PHONE, PHONE_DIGITS, ZH_AGENT, ZH_QUEUE, build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    store, src = build(root)
    index = build_reports(store, src, root / "out")
    return store, src, index, root / "out"


def _read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def _rows(html: str, table_id: str) -> list[str]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr\b.*?</tr>", body.split("<tbody>", 1)[1], flags=re.S)


def test_every_report_is_written_locally_and_uploaded(built):
    store, src, index, out = built
    expected = {"index.html", "alerts.html", "alerts.csv", "coaching.html", "dashboard.html", "scorecards.json",
                "scorecards.csv", "static/report.css"} | {f"calls/{c}.html" for c in CALLS}
    assert set(index.files) == expected
    for rel in index.files:
        assert (out / rel).read_bytes() == src.read(f"reports/{rel}"), rel
    assert (index.calls, index.scored, index.alerts, index.agents) == (4, 4, len(store.alerts()), 3)
    index_html = _read(out, "index.html")
    for rel in expected - {"index.html", "static/report.css"}:
        assert f'href="{rel}"' in index_html, rel


def test_no_personal_data_in_any_report(built):
    store, src, _, out = built
    # the unredacted transcript holds it; the stored scorecard went through the redaction boundary
    assert PHONE in src.read("transcripts/autofail.json").decode()
    stored_card = json.dumps(store.scorecard("autofail"), ensure_ascii=False)
    assert PHONE not in stored_card and "4155550134" not in re.sub(r"\D", "", stored_card)
    assert all("text" not in u for u in store.scorecard("autofail")["sentiment"]["utterances"])
    assert "小王" in src.read("transcripts/zh.json").decode()
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for needle in PHONE_DIGITS + ("小王",):
                assert needle not in text, f"{needle!r} in {path.relative_to(out)}"
    assert "[PHONE]" in _read(out, "calls/autofail.html") and "[PHONE]" in _read(out, "alerts.csv")


def test_call_page_header_banner_and_sections(built):
    store, _, _, out = built
    page = _read(out, "calls/autofail.html")
    assert '<dd id="agent">a-1001</dd>' in page and '<dd id="queue">billing</dd>' in page
    assert '<dd id="date">2026-11-22 14:30</dd>' in page and '<dd id="total">0.0</dd>' in page
    assert re.search(r'<dd id="duration">\d+\.\d s</dd>', page)
    banner = page.split('id="auto-fail"', 1)[1].split("</div>", 1)[0]
    assert "AUTO-FAIL" in banner and 'data-question="forbidden_phrases"' in banner
    # what the agent said: the stored (redacted) evidence quote, its time linked to the transcript line, as
    # the workspace's banner shows it; not just the question text
    (answer,) = [a for a in store.scorecard("autofail")["answers"] if a["question_id"] == "forbidden_phrases"]
    quote = answer["evidence"][0]["quote"]
    assert quote.startswith("That's not my problem") and f"“{escape(quote)}”" in banner
    target = re.search(r'<a class="evidence-link" href="#(t=[^"]+)">\[\d+\.\d s\] agent</a>', banner).group(1)
    assert f'<li id="{target}"' in page
    assert page.count("<svg") == 1, "the sentiment-over-time chart"
    assert "worsened" in page and "First agent response" in page and "Transcript (redacted)" in page
    good = _read(out, "calls/good.html")
    assert 'id="auto-fail"' not in good and '<dd id="total">100.0</dd>' in good
    zh = _read(out, "calls/zh.html")
    assert f'<dd id="agent">{ZH_AGENT}</dd>' in zh and f'<dd id="queue">{ZH_QUEUE}</dd>' in zh
    assert "[PERSON]" in zh  # the agent's spoken name is redacted in the transcript and quotes


def test_evidence_links_land_on_highlighted_transcript_lines(built):
    _, _, _, out = built
    for call_id in CALLS:
        page = _read(out, f"calls/{call_id}.html")
        ids = set(re.findall(r'<li id="(t=[^"]+)"', page))
        assert ids, call_id
        for target in re.findall(r'href="#(t=[^"]+)"', page):
            assert target in ids, (call_id, target)
    page = _read(out, "calls/autofail.html")
    row = next(r for r in _rows(page, "questions") if 'data-question="forbidden_phrases"' in r)
    target = re.search(r'href="#(t=[^"]+)"', row).group(1)
    line = page.split(f'<li id="{target}"', 1)[1].split("</li>", 1)[0]
    assert "evidence" in line.split(">", 1)[0] and "<mark>That&#39;s not my problem" in line


def test_alert_queue_sorted_and_linked(built):
    store, _, _, out = built
    html = _read(out, "alerts.html")
    rows = _rows(html, "alerts")
    # autofail: missing_recording_disclosure, media_threat, agent_dismissive, negative_ending;
    # zh: missing_recording_disclosure, legal_threat
    assert len(rows) == len(store.alerts()) == 6
    assert sorted((a["call_id"], a["rule_id"]) for a in store.alerts()) == [
        ("autofail", "agent_dismissive"), ("autofail", "media_threat"), ("autofail", "missing_recording_disclosure"),
        ("autofail", "negative_ending"), ("zh", "legal_threat"), ("zh", "missing_recording_disclosure")]
    # the workspace queue's order (infra.alert_queue): severity, then newest alert first
    keys = [(SEVERITY_RANK[re.search(r'data-severity="(\w+)"', r).group(1)],
             -int(re.search(r'data-alert="(\d+)"', r).group(1))) for r in rows]
    assert keys == sorted(keys)
    assert 'data-severity="critical"' in rows[0] and f'data-agent="{ZH_AGENT}"' in rows[0]
    for link in re.findall(r'class="call-link" href="([^"]+)"', html):
        page, _, anchor = link.partition("#")
        assert (out / page).is_file()
        if anchor:
            assert f'<li id="{anchor}"' in _read(out, page), link
    assert 'href="calls/zh.html#t=' in html and 'id="f-category"' in html and "<script>" in html
    with io.StringIO(_read(out, "alerts.csv")) as f:
        table = list(csv.DictReader(f))
    assert [r["alert_id"] for r in table] == [re.search(r'data-alert="(\d+)"', r).group(1) for r in rows]
    media = next(r for r in table if r["rule_id"] == "media_threat")
    assert media["call_id"] == "autofail" and media["severity"] == "high" and "[PHONE]" in media["evidence_quote"]
    assert media["link"].startswith("calls/autofail.html#t=") and media["evidence_start"] == "2.04"


def test_scorecard_exports_match_the_store(built):
    store, _, _, out = built
    cards = {c.call_id: c for c in store.scorecards()}
    with io.StringIO(_read(out, "scorecards.csv")) as f:
        table = list(csv.DictReader(f))
    assert len(table) == sum(len(c.body["answers"]) for c in cards.values())
    row = next(r for r in table if r["call_id"] == "autofail" and r["question_id"] == "forbidden_phrases")
    assert row["answer"] == "fail" and row["total"] == "0.0" and row["auto_failed"] == "True"
    assert "not my problem" in row["evidence_quote"]
    exported = {c["call_id"]: c for c in json.loads(_read(out, "scorecards.json"))}
    assert {k: v["total"] for k, v in exported.items()} == {k: c.total for k, c in cards.items()}
    assert exported["zh"]["agent"] == ZH_AGENT and exported["autofail"]["auto_failed"] is True


def _section(html: str, agent: str) -> str:
    return html.split(f'data-agent="{agent}"', 1)[1].split("</section>", 1)[0]


def test_coaching_picks(built):
    """The workspace's picks (infra.coaching.agent_picks): lowest totals (auto-failed first, at most half the
    agent's calls), most-failed questions with example calls, best calls (not auto-failed, not among the lowest)."""
    _, _, _, out = built
    html = _read(out, "coaching.html")
    a1 = _section(html, "a-1001")
    lowest = re.findall(r'<a href="calls/(\w+)\.html">', a1.split('class="lowest"', 1)[1].split("</ol>", 1)[0])
    assert lowest == ["autofail"], "auto-failed first; at most half of the agent's two calls"
    failed = a1.split('class="failed"', 1)[1].split("</dl>", 1)[0]
    assert re.search(r'data-question="forbidden_phrases">.*?</dt>\s*<dd>failed 1 of 2 \(agent pass rate 50%, team \d+%\): <a href="calls/autofail.html">',
                     failed, re.S)
    best = a1.split('class="best"', 1)[1].split("</ul>", 1)[0]
    assert "calls/good.html" in best and "autofail" not in best
    assert a1.count("<svg") == 1, "the agent's score per call"
    assert "<svg" in _section(html, ZH_AGENT)


def test_dashboard_counts_match_the_store(built):
    store, _, _, out = built
    html = _read(out, "dashboard.html")
    num = lambda i: re.search(rf'id="{i}">([^<]+)<', html).group(1)  # noqa: E731
    cards = store.scorecards()
    assert num("n-calls") == "4" and num("n-scored") == str(len(cards))
    assert num("n-autofail") == str(sum(c.auto_failed for c in cards))
    assert float(num("mean-score")) == pytest.approx(sum(c.total for c in cards) / len(cards), abs=0.01)
    assert num("n-alerts") == str(len(store.alerts()))
    for category in {a["category"] for a in store.alerts()}:
        n = sum(a["category"] == category for a in store.alerts())
        shown = re.findall(rf'<tr data-category="{category}" [^>]*>.*?<td>(\d+)</td></tr>', html)
        assert sum(map(int, shown)) == n, category
    assert re.search(r'<tr data-status="new"><th>new</th><td>%d</td>' % len(store.alerts()), html)
    assert re.search(rf'<tr data-queue="billing"><th>queue billing</th><td>2</td>', html)
    assert re.search(rf'<tr data-queue="{ZH_QUEUE}"><th>queue {ZH_QUEUE}</th><td>1</td>', html)
    assert re.search(r'<tr data-language="en"><th>language en</th><td>3</td>', html)
    fails = sum(a["answer"] == "fail" for c in cards for a in c.body["answers"] if a["question_id"] == "recap")
    assert re.search(rf'data-question="recap">.*?</td><td>\d+</td><td>{fails}</td>', html)
    assert html.count("<svg") == 6 and "all dates" in html


def test_date_range_selects_calls(built, tmp_path):
    store, src, _, _ = built
    index = build_reports(store, src, tmp_path, since=date(2026, 11, 21), until=date(2026, 11, 24))
    assert sorted(f for f in index.files if f.startswith("calls/")) == ["calls/autofail.html", "calls/zh.html"]
    html = (tmp_path / "dashboard.html").read_text(encoding="utf-8")
    assert "2026-11-21 00:00 to 2026-11-24 23:59 (UTC)" in html and 'id="n-calls">2<' in html
    with pytest.raises(ReportError, match="after until"):
        gather(store, src, since=date(2026, 11, 25), until=date(2026, 11, 1))


def test_pages_escape_metadata(built):
    from reports import pages

    store, src, _, _ = built
    data = gather(store, src)
    call = data.calls[0]
    evil = replace(call, info=replace(call.info, agent="<img src=x onerror=alert(1)>"))
    html = pages.call_page(pages.environment(), data, evil)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_auto_fail_banner_falls_back_to_the_question_without_evidence(built):
    from reports import pages

    store, src, _, _ = built
    data = gather(store, src)
    call = next(c for c in data.calls if c.info.call_id == "autofail")
    bare = tuple(replace(q, evidence=()) if q.auto_fail else q for q in call.scored.questions)
    page = pages.call_page(pages.environment(), data, replace(call, scored=replace(call.scored, questions=bare)))
    banner = page.split('id="auto-fail"', 1)[1].split("</div>", 1)[0]
    assert "Agent is never dismissive, blaming or abusive" in banner and "evidence-link" not in banner


def test_chinese_chart_labels_and_missing_glyphs():
    from reports import charts

    svg = charts.bars([ZH_QUEUE, "billing"], [3, 1], f"{ZH_AGENT} 每个队列的通话", ylabel="calls")
    assert svg.startswith("<svg") and "<path" in svg
    with pytest.raises(ReportError, match="glyphs"):
        charts.bars(["\U00013000"], [1], "hieroglyph", ylabel="calls")  # in neither font


def test_importing_reports_loads_no_plotting():
    code = "import reports.build, sys; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "False"


def test_empty_store_still_builds_every_page(tmp_path):
    from infra.storage import LocalFolderSource
    from infra.store import ResultsStore

    index = build_reports(ResultsStore(f"sqlite:///{tmp_path}/r.db"), LocalFolderSource(tmp_path / "src", ""),
                          tmp_path / "out")
    assert set(index.files) == {"index.html", "alerts.html", "alerts.csv", "coaching.html", "dashboard.html",
                                "scorecards.json", "scorecards.csv", "static/report.css"}
    assert 'id="n-calls">0<' in _read(tmp_path / "out", "dashboard.html")
    assert _read(tmp_path / "out", "scorecards.json").strip() == "[]"
    assert _read(tmp_path / "out", "alerts.csv").count("\n") == 1, "header only"


def test_coaching_uses_the_agents_own_form_wording(built):
    _, _, _, out = built
    failed = _section(_read(out, "coaching.html"), ZH_AGENT).split('class="failed"', 1)[1].split("</dl>", 1)[0]
    assert re.search(r'data-question="recap"><code>recap</code> [\u4e00-\u9fff]', failed)
