"""Embedded S3 server for the demo and the integration tests: a single-node Ceph (1 mon, 1 memstore OSD)
plus radosgw on 127.0.0.1, started by pipeline/ceph_up.sh and stopped here.

    with LocalS3Server() as srv:
        ep = srv.start(tmp_path)          # ~3 s; ep.endpoint == "127.0.0.1:PORT"
        Minio(ep.endpoint, ep.access_key, ep.secret_key, secure=ep.secure)

Each instance owns its work folder (config, mon store, logs, pid files); several can run at once on
different folders. stop() only signals daemons whose command line names this folder's ceph.conf.
"""
from __future__ import annotations

import atexit
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("ceph_up.sh")
_REQUIRED = ("radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph", "ceph-authtool", "monmaptool", "curl")
_STOP_ORDER = ("radosgw", "ceph-osd", "ceph-mon")  # gateway first: it hangs in shutdown once the mon is gone


@dataclass(frozen=True)
class S3Endpoint:
    endpoint: str  # "127.0.0.1:PORT", as the minio client wants it
    access_key: str
    secret_key: str
    secure: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(exclude: set[int] = frozenset()) -> int:
    # Below the ephemeral range (32768+), so an outgoing client connection cannot take it before the daemon binds.
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port not in exclude and _port_free(port):
            return port
    raise RuntimeError("no free loopback port found in 20000-32000")


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 in containers often never reaps them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _name(pid: int) -> str:
    args = _cmdline(pid)
    return os.path.basename(args[0]) if args else ""


def _daemon_pids(workdir: Path) -> list[int]:
    """Live radosgw/ceph-osd/ceph-mon whose command line names workdir/ceph.conf: the pids in run/*.pid,
    plus a /proc scan for any daemon killed or started before it wrote its pid file."""
    conf = str(workdir / "ceph.conf")
    candidates = set()
    for pf in (workdir / "run").glob("*.pid"):
        try:
            candidates.add(int(pf.read_text().strip()))
        except (OSError, ValueError):
            pass
    candidates.update(int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit())
    return [pid for pid in sorted(candidates)
            if _name(pid) in _STOP_ORDER and conf in _cmdline(pid) and _alive(pid)]


class LocalS3Server:
    def __init__(self, access_key: str | None = None, secret_key: str | None = None, *,
                 memstore_bytes: int = 1 << 30):
        self.access_key = access_key or secrets.token_hex(10)
        self.secret_key = secret_key or secrets.token_hex(20)
        self.memstore_bytes = memstore_bytes
        self.workdir: Path | None = None
        self.endpoint: S3Endpoint | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, workdir: Path, *, port: int | None = None, timeout: float = 120) -> S3Endpoint:
        if self.workdir is not None:
            raise RuntimeError(f"LocalS3Server already started in {self.workdir}")
        missing = [b for b in _REQUIRED if shutil.which(b) is None]
        if missing:
            raise RuntimeError(f"Ceph S3 server unavailable, missing {', '.join(missing)}: run scripts/setup.sh")
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if running := _daemon_pids(workdir):
            raise RuntimeError(f"a Ceph instance is already running in {workdir} (pids {running}); stop it first")
        if port and not _port_free(port):
            raise RuntimeError(f"port 127.0.0.1:{port} is already in use")
        rgw_port = port or _free_port()
        mon_port = _free_port({rgw_port})
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}  # no stray CEPH_ARGS/CEPH_CONF
        env.update(CEPH_DIR=str(workdir), RGW_PORT=str(rgw_port), MON_PORT=str(mon_port),
                   ACCESS=self.access_key, SECRET=self.secret_key, MEMSTORE_BYTES=str(self.memstore_bytes))
        self.workdir = workdir  # from here on stop() can clean up whatever got started
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        try:
            with open(workdir / "ceph_up.out", "wb") as out:
                proc = subprocess.Popen(["bash", str(SCRIPT)], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    rc = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise RuntimeError(f"ceph_up.sh did not finish within {timeout:g} s") from None
            if rc != 0:
                raise RuntimeError(f"ceph_up.sh failed with exit status {rc}")
            self.endpoint = S3Endpoint(f"127.0.0.1:{rgw_port}", self.access_key, self.secret_key)
            self.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
        except RuntimeError as exc:
            detail = self.log_tail()
            self.stop()
            raise RuntimeError(f"{exc} (workdir {workdir}, rgw port {rgw_port}, mon port {mon_port})\n{detail}") from None
        return self.endpoint

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until the gateway answers HTTP on its port (any non-5xx reply)."""
        if self.endpoint is None:
            raise RuntimeError("LocalS3Server not started")
        host, port = self.endpoint.endpoint.rsplit(":", 1)
        deadline, last = time.monotonic() + timeout, "no attempt"
        while True:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            try:
                conn.request("GET", "/")
                status = conn.getresponse().status
                if status < 500:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = repr(exc)
            finally:
                conn.close()
            if "radosgw" not in map(_name, self.pids()):
                raise RuntimeError(f"radosgw is not running ({last})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway {self.endpoint.url} not ready after {timeout:g} s ({last})")
            time.sleep(0.2)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM this folder's radosgw, ceph-osd, ceph-mon (in that order), SIGKILL after a grace period."""
        if self.workdir is None:
            return
        atexit.unregister(self.stop)
        by_name: dict[str, list[int]] = {name: [] for name in _STOP_ORDER}
        for pid in self.pids():
            by_name.get(_name(pid), []).append(pid)
        deadline = time.monotonic() + timeout
        for name in _STOP_ORDER:
            group = by_name[name]
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                for pid in group:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                until = min(time.monotonic() + grace, deadline)
                while any(map(_alive, group)) and time.monotonic() < until:
                    time.sleep(0.02)
                if not any(map(_alive, group)):
                    break
        left = [p for p in self.pids() if _alive(p)]
        self.workdir, self.endpoint = None, None
        if left:
            raise RuntimeError(f"Ceph daemons still running after stop: {left}")

    def __enter__(self) -> LocalS3Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------------------
    def pids(self) -> list[int]:
        """Live daemons of this instance (see _daemon_pids)."""
        return _daemon_pids(self.workdir) if self.workdir is not None else []

    def log_tail(self, lines: int = 15) -> str:
        if self.workdir is None:
            return ""
        parts = []
        for f in [self.workdir / "ceph_up.out", *sorted((self.workdir / "log").glob("*.log"))]:
            try:
                tail = f.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            if tail:
                parts.append(f"--- {f.name}\n" + "\n".join(tail))
        return "\n".join(parts)
