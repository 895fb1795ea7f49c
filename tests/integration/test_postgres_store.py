"""The results store on a real PostgreSQL server (throwaway cluster on a free loopback port: `postgres_url`,
tests/integration/conftest.py)."""
from __future__ import annotations

import threading

import pytest

from core.models import Call
from infra.store import ResultsStore

pytestmark = pytest.mark.integration


def test_state_machine_and_concurrent_claims_on_postgres(postgres_url):
    store = ResultsStore(postgres_url)
    call = Call(id="pg/通话-1", object_key="recordings/pg/通话-1.wav", etag="e1")
    wins = []
    barrier = threading.Barrier(6)

    def worker():
        barrier.wait()
        wins.append(ResultsStore(postgres_url).claim(call))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(wins) == 1, "exactly one worker gets the call"
    store.mark_done(call.id, transcript_key="transcripts/pg/通话-1.json", language="zh", duration=3.5)
    assert not store.needs_processing(call.id, "e1") and store.needs_processing(call.id, "e2")
    assert store.get(call.id).state == "done" and store.get(call.id).transcript_key.endswith("通话-1.json")
