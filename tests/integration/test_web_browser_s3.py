"""The workspace in a real browser on the real object store: the workspace test data (tests/unit/test_web_fixture)
uploaded to the embedded S3 server (single-node Ceph RGW, the session's `s3_server`), each kind of material in
its bucket (recordings, redacted results, unredacted transcripts), the local copy deleted, and the app served by
uvicorn on a loopback port over an `S3Source`. Playwright drives Debian's chromium: a reviewer signs in, opens a
call from the list, the player loads the redacted recording streamed from the bucket with range requests, and
an evidence link and a transcript line seek it; a Range request to the audio URL answers 206 with the right
Content-Range and the bucket's bytes; the compliance officer's unredacted recording plays from its bucket too.
One S3 server per test session (tests/conftest.py), one workspace and browser for this module."""
from __future__ import annotations

import pytest

from core.keys import redacted_audio_key
from infra.storage import S3Source

from ..unit.test_web_fixture import AUTOFAIL, PHONE, browser_sign_in, chromium, fresh_copy, on_object_store, serving
from .s3util import read_object

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_workspace(s3_server, tmp_path_factory):
    """(base URL, minio client, {material: bucket}) of a workspace whose object store is the real S3 server."""
    from web.app import create_app

    store, _local, root = fresh_copy(tmp_path_factory)
    source, mc, buckets = on_object_store(s3_server, root)
    app = create_app(store, source, secret_key="browser-s3")
    assert isinstance(app.state.ws.source, S3Source)
    with serving(app) as base:
        yield base, mc, buckets


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def test_reviewer_plays_the_redacted_recording_from_the_bucket_and_evidence_seeks_it(s3_workspace, browser):
    base, mc, buckets = s3_workspace
    page, errors = browser_sign_in(browser, base, "qa")
    audio_replies: list[tuple[int, str | None]] = []
    page.on("response", lambda r: audio_replies.append((r.status, r.headers.get("content-range")))
            if "/audio/" in r.url else None)
    page.fill("#q", "press")
    page.click("#search")
    page.wait_for_url("**/calls?q=press**")
    page.click("a.call-link")
    page.wait_for_url(f"{base}/calls/{AUTOFAIL}")
    assert page.locator("#player").get_attribute("src") == f"/audio/{AUTOFAIL}"

    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration > 10, duration
    assert page.evaluate("document.getElementById('player').currentTime") == 0
    link = page.locator("#autofail-banner a.seek").first
    start = float(link.get_attribute("data-start"))
    assert start > 1, "the evidence is not at the very start"
    link.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {start}) < 0.3",
                           timeout=15000)
    line = page.locator("#transcript li").last
    line_start = float(line.get_attribute("data-start"))
    line.click()
    page.wait_for_function(f"document.getElementById('player').currentTime >= {line_start - 0.05}", timeout=15000)
    page.wait_for_selector("#transcript li.current", timeout=5000)
    # the player asked in ranges, and the server answered them from the bucket
    size = mc.stat_object(buckets["redacted"], redacted_audio_key(AUTOFAIL)).size
    assert any(status == 206 and (cr or "").endswith(f"/{size}") for status, cr in audio_replies), audio_replies
    assert PHONE not in page.content()
    assert errors == [], errors
    page.context.close()


def test_range_requests_to_the_audio_url_answer_206_from_the_bucket(s3_workspace, browser):
    base, mc, buckets = s3_workspace
    stored = read_object(mc, buckets["redacted"], redacted_audio_key(AUTOFAIL))
    size = len(stored)
    page, errors = browser_sign_in(browser, base, "qa")
    http = page.request  # the browser context's own requests: its session cookie
    for url in (f"{base}/audio/{AUTOFAIL}", f"{base}/api/audio/{AUTOFAIL}"):
        part = http.get(url, headers={"Range": "bytes=100-1123"})
        assert part.status == 206, (url, part.status)
        assert part.headers["content-range"] == f"bytes 100-1123/{size}"
        assert part.headers["content-length"] == "1024" and part.headers["accept-ranges"] == "bytes"
        assert part.body() == stored[100:1124]
        tail = http.get(url, headers={"Range": "bytes=-64"})
        assert tail.status == 206 and tail.headers["content-range"] == f"bytes {size - 64}-{size - 1}/{size}"
        assert tail.body() == stored[-64:]
        whole = http.get(url)
        assert whole.status == 200 and whole.body() == stored
        refused = http.get(url, headers={"Range": f"bytes={size}-"})
        assert refused.status == 416 and refused.headers["content-range"] == f"bytes */{size}"
    assert errors == [], errors
    page.context.close()


def test_compliance_officer_plays_the_original_from_its_bucket(s3_workspace, browser):
    base, mc, buckets = s3_workspace
    comp, errors = browser_sign_in(browser, base, "comp")
    comp.goto(f"{base}/calls/{AUTOFAIL}")
    comp.click("#open-unredacted")
    comp.fill("#reason", "complaint CX-311: customer disputes the callback number")
    comp.click("#open")
    comp.wait_for_selector("#unredacted-transcript")
    assert PHONE in comp.inner_text("#unredacted-transcript"), "read from the unredacted bucket"
    comp.wait_for_function("document.getElementById('unredacted-player').readyState >= 1", timeout=20000)
    src = comp.locator("#unredacted-player").get_attribute("src")
    head = comp.request.get(base + src, headers={"Range": "bytes=0-43"})
    original = read_object(mc, buckets["raw"], f"recordings/{AUTOFAIL}.wav")
    assert head.status == 206 and head.body() == original[:44]
    assert head.headers["content-range"] == f"bytes 0-43/{len(original)}"
    assert errors == [], errors
    comp.context.close()

