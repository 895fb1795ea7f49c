"""Generated pages opened in a real browser (Debian `chromium`, headless): they display, their script runs
(the alert filter), and the console shows no errors. Screenshots are written next to the pages
(`<tmp>/out/*.png`) for a person to look at; chromium missing is a failure, not a skip."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from reports.build import build_reports

from .test_reports_fixture import ZH_AGENT, build

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--enable-logging=stderr", "--v=0"]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed (apt-get install chromium): the browser test cannot run")
    return path


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    # a throwaway profile per run: no state shared with other runs or the user's browser
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


def _url(path: Path, query: str = "") -> str:
    return "file://" + quote(str(path)) + query


def dump_dom(page: Path, tmp: Path, query: str = "") -> tuple[str, str]:
    done = _run(["--dump-dom", _url(page, query)], tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def screenshot(page: Path, png: Path, tmp: Path) -> tuple[int, int, str]:
    done = _run([f"--screenshot={png}", "--window-size=1280,2000", _url(page)], tmp)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height, done.stderr


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    store, src = build(root)
    build_reports(store, src, root / "out")
    return root / "out"


def test_console_errors_are_detected(tmp_path):
    """The check below can fail: a page with a script error shows "Uncaught" on chromium's stderr."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><p>x</p><script>undefinedFunction();</script>", encoding="utf-8")
    _, err = dump_dom(bad, tmp_path)
    assert "Uncaught" in err


def test_call_page_displays_in_a_browser(out, tmp_path):
    page = out / "calls" / "zh.html"
    dom, err = dump_dom(page, tmp_path)
    assert "Uncaught" not in err, err[-2000:]
    assert f'<dd id="agent">{ZH_AGENT}</dd>' in dom and 'id="total">70.0<' in dom
    assert '<ol class="transcript">' in dom and "<svg" in dom and "[PERSON]" in dom
    width, height, err = screenshot(page, out / "call-zh.png", tmp_path)
    assert (width, height) == (1280, 2000) and "Uncaught" not in err
    assert (out / "call-zh.png").stat().st_size > 20_000, "a rendered page, not a blank one"


def test_alert_queue_filters_in_a_browser(out, tmp_path):
    page = out / "alerts.html"
    dom, err = dump_dom(page, tmp_path)
    assert "Uncaught" not in err, err[-2000:]
    # 6 alerts (4 on autofail, 2 on zh: see test_reports.test_alert_queue_sorted_and_linked), 2 of them privacy
    assert 'data-filters="ready"' in dom and "Showing 6 of 6 alerts" in dom
    dom, err = dump_dom(page, tmp_path, "?category=privacy")
    assert "Uncaught" not in err and "Showing 2 of 6 alerts" in dom
    rows = re.findall(r"<tr [^>]*>", dom.split("<tbody>", 1)[1])
    assert len(rows) == 6
    for r in rows:
        assert ('data-category="privacy"' in r) != ('hidden=""' in r), r
    dom, _ = dump_dom(page, tmp_path, "?agent=" + quote(ZH_AGENT) + "&from=2026-11-24&to=2026-11-24")
    assert "Showing 2 of 6 alerts" in dom
    width, height, err = screenshot(page, out / "alerts.png", tmp_path)
    assert (width, height) == (1280, 2000) and "Uncaught" not in err


def test_coaching_and_dashboard_display_in_a_browser(out, tmp_path):
    for name in ("coaching", "dashboard", "index"):
        dom, err = dump_dom(out / f"{name}.html", tmp_path)
        assert "Uncaught" not in err and "</main>" in dom, name
        screenshot(out / f"{name}.html", out / f"{name}.png", tmp_path)
