"""Claims are leases: a killed worker's call is picked up after one lease, a live worker's heartbeat keeps
its call, and temporary folders of stopped workers are swept."""
from __future__ import annotations

import os
import time
from datetime import timedelta

from core.models import Call
from infra.store import ResultsStore
from pipeline.lease import TEMP_PREFIX, Heartbeat, sweep_temporary


def test_a_killed_workers_call_is_claimable_after_its_lease(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db", lease=timedelta(seconds=0.6))
    call = Call("c1", "k.wav", "e1")
    assert store.claim(call)
    assert not store.needs_processing("c1", "e1"), "held while the lease runs"
    time.sleep(0.8)  # the worker died: nobody renewed
    assert store.needs_processing("c1", "e1") and store.claim(call)


def test_the_heartbeat_keeps_a_live_workers_claim(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db", lease=timedelta(seconds=0.6))
    assert store.claim(Call("c1", "k.wav", "e1"))
    work = tmp_path / "callqa-work"
    work.mkdir()
    os.utime(work, (0, 0))
    with Heartbeat(store, "c1", work):
        time.sleep(1.5)  # two and a half leases
        assert not store.needs_processing("c1", "e1")
    assert work.stat().st_mtime > 0, "the heartbeat touched the temporary folder"


def test_stale_temporary_folders_are_swept(tmp_path):
    old, fresh = tmp_path / f"{TEMP_PREFIX}old", tmp_path / f"{TEMP_PREFIX}fresh"
    # not a call's folder: another program's, a test session's Prefect home, a benchmark's work folder
    others = [tmp_path / "keep-me", tmp_path / "callqa-prefect-x1", tmp_path / "callqa-speed-x2"]
    for d in (old, fresh, *others):
        d.mkdir()
        (d / "recording.wav").write_bytes(b"x")
    for d in (old, *others):
        os.utime(d, (time.time() - 3600, time.time() - 3600))
    assert sweep_temporary(600, tmp_path) == 1
    assert not old.exists() and fresh.exists() and all(d.exists() for d in others)
