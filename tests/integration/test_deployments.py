"""Deployments and work pools on a real Prefect server (`prefect server start`, SQLite) with two real process
workers (`callqa worker`) on loopback: `callqa deploy` registers the batch and per-call flows; two batch runs
started at the same time (each taken by whichever worker polls first, each in its own process) over one folder
and one results DB process each call exactly once. Settings reach the runs through the workers' settings file
only (the deployments' parameters carry none)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from .test_imported_flow import CHAT_CSV, OURS, SIDECAR, WHISPERX

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (value := check()):
                return value
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_process_each_call_once(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "chats").mkdir(parents=True)
    (inbox / "chats" / "c1.chat.csv").write_text(CHAT_CSV)
    (inbox / "chats" / "c1.json").write_text(json.dumps(SIDECAR))
    (inbox / "w1.transcript.json").write_text(json.dumps(WHISPERX))
    (inbox / "o1.transcript.json").write_text(OURS.to_json())
    (inbox / "o1.json").write_text(json.dumps({**SIDECAR, "language": "zh"}))
    db = tmp_path / "r.db"
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CALLQA_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=api, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    settings = tmp_path / "callqa.yaml"  # what an operator puts on each worker machine
    settings.write_text(f"local_root: {inbox}\ndatabase_url: sqlite:///{db}\nreports: false\ndiarization: none\n")
    worker_env = {**env, "CALLQA_CONFIG": str(settings)}
    procs: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, cmd: list[str], e: dict) -> subprocess.Popen:
        p = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=open(logs / f"{name}.log", "wb"), stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        return p

    try:
        start("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
              env)
        _wait(lambda: urllib.request.urlopen(f"{api}/health", timeout=2).status == 200, 120, "the Prefect server")
        deployed = subprocess.run([sys.executable, "-m", "pipeline.cli", "deploy", "--pool", "callqa-test"], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=180)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "callqa-batch-deployed/batch" in deployed.stdout and "callqa-call-deployed/call" in deployed.stdout
        for i in (1, 2):
            start(f"worker{i}", [sys.executable, "-m", "pipeline.cli", "worker", "--pool", "callqa-test"], worker_env)

        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api}):  # this process talks to the same server
            runs = [run_deployment("callqa-batch-deployed/batch", timeout=0) for _ in range(2)]
            with get_client(sync_client=True) as client:
                def finished():
                    states = [client.read_flow_run(r.id).state for r in runs]
                    return states if all(s.is_final() for s in states) else None

                states = _wait(finished, 420, "both batch runs")
                assert all(s.is_completed() for s in states), [s.message for s in states]
                assert {client.read_flow_run(r.id).work_pool_name for r in runs} == {"callqa-test"}

        with sa.create_engine(f"sqlite:///{db}").connect() as c:
            rows = dict(c.execute(sa.text("SELECT id, attempts FROM calls WHERE state = 'done'")).all())
        assert rows == {"chats/c1": 1, "w1": 1, "o1": 1}, rows  # two batches at once: every call once
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
