"""The deployment stack of tests/integration/test_deployments.py, started once per module: a real Prefect server
(`prefect server start`, its database on PostgreSQL), `callqa deploy`, and `callqa worker` processes on loopback,
each one "machine" with its own temporary folder, all reading one bucket on the Ceph S3 gateway and one
results database on PostgreSQL. Every process is started in a session of its own and stopped with all its
descendants (a process worker starts each flow run in a new session too)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# server services the tests never need (no schedules, automations or paused runs): less CPU on a small machine
UNUSED_SERVICES = ("SCHEDULER", "LATE_RUNS", "FOREMAN", "PAUSE_EXPIRATIONS", "TRIGGERS", "DB_VACUUM", "EVENT_LOGGER",
                   "CANCELLATION_CLEANUP")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (value := check()):
                return value
        except OSError:
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ..., start time at [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def descendants(pid: int) -> list[tuple[int, str]]:
    """`pid` and every process below it, as (pid, start time): a pid reused later is not taken for it."""
    children: dict[int, list[tuple[int, str]]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        if (fields := _stat(d.name)) is not None:
            children.setdefault(int(fields[1]), []).append((int(d.name), fields[19]))
    out, todo = [], [(pid, (_stat(pid) or [""] * 20)[19])]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p[0], []))
    return out


def kill_tree(procs: list[tuple[int, str]], sig: int) -> None:
    for pid, started in procs:
        fields = _stat(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def alive(procs: list[tuple[int, str]]) -> list[int]:
    return [pid for pid, started in procs if (f := _stat(pid)) is not None and f[19] == started and f[0] != "Z"]


class Stack:
    def __init__(self, tmp: Path, *, database_url: str, prefect_db_url: str, s3_env: dict, settings: str,
                 pool: str):
        self.tmp, self.database_url, self.pool = tmp, database_url, pool
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CALLQA_"))}
        base.update(PREFECT_HOME=str(tmp / "prefect"), PREFECT_API_URL=self.api, DO_NOT_TRACK="1",
                    PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
                    HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
        self.env = base
        self.server_env = {**base, "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db_url,
                           **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in UNUSED_SERVICES}}
        (tmp / "callqa.yaml").write_text(settings)  # what an operator puts on each worker machine
        self.worker_env = {**base, **s3_env, "CALLQA_CONFIG": str(tmp / "callqa.yaml"),
                           "PREFECT_WORKER_QUERY_SECONDS": "1"}
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:
            p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = p
        return p

    def start_server(self) -> None:
        self._start("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(self.port)], self.server_env)
        wait_for(lambda: urllib.request.urlopen(f"{self.api}/health", timeout=2).status == 200, 180,
                 "the Prefect server")

    def callqa(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=180)

    def tmpdir(self, name: str) -> Path:
        return self.tmp / f"{name}-tmp"

    def start_worker(self, name: str, pool: str | None = None) -> None:
        """`callqa worker` with a temporary folder of its own (one machine), one flow run at a time."""
        self.tmpdir(name).mkdir(exist_ok=True)
        self._start(name, [sys.executable, "-m", "pipeline.cli", "worker", "--pool", pool or self.pool,
                           "--limit", "1"], {**self.worker_env, "TMPDIR": str(self.tmpdir(name))})

    def kill(self, name: str) -> None:
        """SIGKILL a worker and everything it started, as when its machine dies."""
        p = self.procs.pop(name)
        kill_tree(descendants(p.pid), signal.SIGKILL)
        p.wait(30)

    def log_tail(self, chars: int = 3000) -> str:
        return "".join(f"\n--- {f.name}\n{f.read_text(errors='replace')[-chars:]}" for f in sorted(self.logs.iterdir()))

    def stop(self) -> None:
        trees = {name: descendants(p.pid) for name, p in self.procs.items()}
        for name in sorted(trees, key=lambda n: n == "server"):  # workers first, the server last
            kill_tree(trees[name], signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pids in trees.values():
            kill_tree(pids, signal.SIGKILL)
        for p in self.procs.values():
            p.wait(30)
        self.procs.clear()
