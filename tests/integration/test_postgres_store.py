"""The results store on a real PostgreSQL server (throwaway cluster on a free loopback port)."""
from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from core.models import Call
from infra.store import ResultsStore

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]  # installed by scripts/setup.sh
    # postgres refuses to run as root and cannot enter pytest's private (0700) tmp folders
    data = Path(tempfile.mkdtemp(prefix="callqa-pg-"))
    shutil.chown(data, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_pg, f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "callqa"],
                   check=True, capture_output=True)
    port = _free_port()
    subprocess.run([*as_pg, f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                    f"-h 127.0.0.1 -p {port} -k {data}", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://callqa@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


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
