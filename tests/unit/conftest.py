"""Fixtures of the workspace's browser tests: the real server (uvicorn on a free loopback port) on a private
copy of the workspace test data (test_web_fixture) in the real object store (the session's S3 server, one set
of buckets per module) and a results DB, and Debian's chromium driven by Playwright (never a
downloaded browser; missing chromium is a failure, not a skip). Module-scoped: each test file gets its own
server, data and browser. (tests/integration/test_web_browser_s3.py serves the same data from the real S3
server with the same helpers.)"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory, s3_server):
    """(base URL, data folder, ResultsStore) of a running workspace on the real object store (the session's
    S3 server; the data folder keeps only the tests' screenshots)."""
    from tests.unit.test_web_fixture import fresh_copy, on_object_store, serving
    from web.app import create_app

    store, _local, root = fresh_copy(tmp_path_factory)
    source, _mc, _buckets = on_object_store(s3_server, root)
    with serving(create_app(store, source, secret_key="browser-test")) as base:
        yield base, root, store


@pytest.fixture(scope="module")
def browser():
    from tests.unit.test_web_fixture import chromium

    with chromium() as b:
        yield b
