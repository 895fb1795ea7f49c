"""Fixtures of the workspace's browser tests: the real server (uvicorn on a free loopback port) on a private
copy of the workspace test data (test_web_fixture), and Debian's chromium driven by Playwright (never a
downloaded browser; missing chromium is a failure, not a skip). Module-scoped: each test file gets its own
server, data and browser."""
from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, data folder, ResultsStore) of a running workspace."""
    import uvicorn

    from tests.unit.test_web_fixture import fresh_copy
    from web.app import create_app

    store, src, root = fresh_copy(tmp_path_factory)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(store, src, secret_key="browser-test"), host="127.0.0.1",
                                        port=port, access_log=False, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the workspace server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", root, store
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if shutil.which("chromium") is None and not shutil.os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (apt-get install chromium): the browser test cannot run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()
