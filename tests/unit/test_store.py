import threading

import pytest

from core.models import Call
from infra.store import ResultsStore


def _call(etag="e1"):
    return Call(id="c1", object_key="recordings/c1.wav", etag=etag)


def test_done_call_is_never_claimed_again_at_same_etag(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    assert store.claim(_call())
    assert not store.claim(_call()), "in progress: a second worker must not take it"
    store.mark_done("c1", transcript_key="transcripts/c1.json", language="en", duration=3.0)
    assert not store.needs_processing("c1", "e1")
    assert not store.claim(_call())
    assert store.needs_processing("c1", "e2") and store.claim(_call("e2")), "a new etag is a new version"
    assert store.get("c1").attempts == 1


def test_transient_failure_is_retried_quarantine_waits_for_new_object(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    store.claim(_call())
    store.mark_failed("c1", "e1", code="E201", message="storage down", quarantined=False)
    assert store.get("c1").state == "failed" and store.needs_processing("c1", "e1")
    assert store.claim(_call())
    assert store.get("c1").attempts == 2
    store.mark_failed("c1", "e1", code="E103", message="corrupt", quarantined=True)
    assert not store.needs_processing("c1", "e1")
    assert store.needs_processing("c1", "e9")
    assert [f[0] for f in store.failures("c1")] == ["E201", "E103"]


def test_concurrent_claims_give_the_call_to_exactly_one_worker(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    wins = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        wins.append(store.claim(_call()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(wins) == 1


def test_read_only_database_is_a_coded_error_without_sql(tmp_path):
    """A results DB that refuses writes gives E203 with a fix, never a raw traceback quoting SQL parameters.
    Opened read-only through SQLite's own `mode=ro` (file permissions do not stop root)."""
    from core.errors import ResultsDatabaseError

    db = tmp_path / "r.db"
    secret = Call(id="call-with-secret-4111111111111111", object_key="recordings/x.wav", etag="e1")
    assert ResultsStore(f"sqlite:///{db}").claim(secret)
    ro = ResultsStore(f"sqlite:///file:{db}?mode=ro&uri=true")
    assert ro.get("call-with-secret-4111111111111111") is not None  # reading still works
    with pytest.raises(ResultsDatabaseError) as err:
        ro.claim(Call(id="another-call", object_key="recordings/y.wav", etag="e2"))
    assert err.value.code == "E203" and "read-only" in str(err.value)
    assert "4111" not in str(err.value) and "INSERT" not in str(err.value) and "another-call" not in str(err.value)
