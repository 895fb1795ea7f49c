"""Embedded S3 server for the demo and the integration tests: single-node Ceph (1 mon, 1 memstore OSD) plus
radosgw on 127.0.0.1, with cephx authentication, started by demo/ceph_up.sh (~3 s) and stopped here. Its
keyrings and config are 0600 in a 0700 work folder: only the service user can administer it. `with LocalS3Server() as srv:
ep = srv.start(tmp_path)`, then `Minio(ep.endpoint, ep.access_key, ep.secret_key, secure=ep.secure)`.
Each instance owns its work folder (config, mon store, logs, pid files); several can run at once on different
folders, and stop() only signals daemons whose command line names this folder's ceph.conf.
Objects live in the OSD's RAM (memstore, capped at memstore_bytes; past the cap writes hang, they don't fail).
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
_STOP_ORDER = ("radosgw", "ceph-osd", "ceph-mon")


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
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def _free_port(exclude: set[int] = frozenset()) -> int:
    # Below the ephemeral range (32768+), so an outgoing client connection cannot take it before the daemon binds.
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port not in exclude and _port_free(port):
            return port
    raise RuntimeError("no free loopback port found in 20000-32000")


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_bytes().decode(errors="replace")
    except OSError:  # process or pid file gone meanwhile
        return ""


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 in containers often never reaps them)."""
    state = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    return bool(state) and state[0] != "Z"


def _cmdline(pid: int) -> list[str]:
    return _read(f"/proc/{pid}/cmdline").split("\0")


def _name(pid: int) -> str:
    return os.path.basename(_cmdline(pid)[0])


def _daemon_pids(workdir: Path) -> list[int]:
    """Live radosgw/ceph-osd/ceph-mon whose command line names workdir/ceph.conf: the pids in run/*.pid,
    plus a /proc scan for any daemon killed or started before it wrote its pid file."""
    conf = str(workdir / "ceph.conf")
    candidates = {int(t) for pf in (workdir / "run").glob("*.pid") if (t := _read(pf).strip()).isdigit()}
    candidates.update(int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit())
    return [pid for pid in sorted(candidates)
            if _name(pid) in _STOP_ORDER and conf in _cmdline(pid) and _alive(pid)]


def stop_daemons(workdir: Path, timeout: float = 30) -> None:
    """SIGTERM workdir's radosgw, ceph-osd, ceph-mon in that order (the gateway hangs in shutdown once the
    mon is gone), SIGKILL after 5 s. Also cleans up after a process that died without calling stop()."""
    workdir = Path(workdir).resolve()
    by_name: dict[str, list[int]] = {name: [] for name in _STOP_ORDER}
    for pid in _daemon_pids(workdir):
        by_name.get(_name(pid), []).append(pid)
    deadline = time.monotonic() + timeout
    for group in by_name.values():
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in group:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            until = min(time.monotonic() + 5, deadline)
            while any(map(_alive, group)) and time.monotonic() < until:
                time.sleep(0.02)
            if not any(map(_alive, group)):
                break
    if left := _daemon_pids(workdir):
        raise RuntimeError(f"Ceph daemons of {workdir} still running after stop: {left}")


def create_push_topic(ep: S3Endpoint, name: str, push_endpoint: str, *, region: str = "us-east-1") -> str:
    """An SNS-style topic on Ceph RGW that pushes bucket notifications to `push_endpoint` over HTTP (what
    `callqa listen` receives); returns its ARN for the bucket's notification configuration. Synchronous push
    (not persistent): an upload returns once the endpoint has the event."""
    import hashlib
    import re
    import urllib.parse
    import urllib.request
    from datetime import datetime, timezone

    from minio.credentials import Credentials
    from minio.signer import _sign_v4  # the SNS-compatible API signs like S3, with service "sns"

    body = urllib.parse.urlencode({"Action": "CreateTopic", "Name": name,
                                   "Attributes.entry.1.key": "push-endpoint", "Attributes.entry.1.value": push_endpoint,
                                   "Attributes.entry.2.key": "persistent", "Attributes.entry.2.value": "false"}).encode()
    now, digest = datetime.now(timezone.utc), hashlib.sha256(body).hexdigest()
    headers = {"Host": ep.endpoint, "Content-Type": "application/x-www-form-urlencoded",
               "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"), "x-amz-content-sha256": digest}
    headers = _sign_v4(service_name="sns", method="POST", url=urllib.parse.urlsplit(f"{ep.url}/"), region=region,
                       headers=headers, credentials=Credentials(ep.access_key, ep.secret_key),
                       content_sha256=digest, date=now)
    with urllib.request.urlopen(urllib.request.Request(f"{ep.url}/", data=body, headers=headers, method="POST"),
                                timeout=30) as resp:
        answer = resp.read().decode()
    found = re.search(r"<TopicArn>(.*?)</TopicArn>", answer)
    if not found:
        raise RuntimeError(f"CreateTopic gave no TopicArn: {answer[:200]}")
    return found.group(1)


def notify_new_objects(client, bucket: str, topic_arn: str, prefix: str = "recordings/") -> None:
    """Bucket notifications for every object created under `prefix`, to the topic (see create_push_topic)."""
    from minio.notificationconfig import NotificationConfig, PrefixFilterRule, TopicConfig

    client.set_bucket_notification(bucket, NotificationConfig(topic_config_list=[
        TopicConfig(["s3:ObjectCreated:*"], config_id="callqa-new-inputs",
                    prefix_filter_rule=PrefixFilterRule(prefix), topic=topic_arn)]))


class LocalS3Server:
    def __init__(self, access_key: str | None = None, secret_key: str | None = None, *,
                 memstore_bytes: int = 1 << 30):
        self.access_key = access_key or secrets.token_hex(10)
        self.secret_key = secret_key or secrets.token_hex(20)
        self.memstore_bytes = memstore_bytes
        self.workdir: Path | None = None
        self.endpoint: S3Endpoint | None = None

    def start(self, workdir: Path, *, port: int | None = None, timeout: float = 120) -> S3Endpoint:
        if self.workdir is not None:
            raise RuntimeError(f"LocalS3Server already started in {self.workdir}")
        if missing := [b for b in _REQUIRED if shutil.which(b) is None]:
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
        deadline, proc = time.monotonic() + timeout, None
        try:
            with open(workdir / "ceph_up.out", "wb") as out:
                proc = subprocess.Popen(["bash", str(SCRIPT)], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    rc = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    raise RuntimeError(f"ceph_up.sh did not finish within {timeout:g} s") from None
            if rc != 0:
                raise RuntimeError(f"ceph_up.sh failed with exit status {rc}")
            self.endpoint = S3Endpoint(f"127.0.0.1:{rgw_port}", self.access_key, self.secret_key)
            self.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
        except BaseException as exc:  # also Ctrl-C: never leave a half-started cluster behind
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the script and whatever ceph CLI it is waiting on
                proc.wait()
            detail = self.log_tail()
            self.stop()
            if not isinstance(exc, RuntimeError):
                raise
            raise RuntimeError(f"{exc} (workdir {workdir}, rgw port {rgw_port}, mon port {mon_port})\n{detail}") from None
        return self.endpoint

    def add_user(self, uid: str, timeout: float = 60) -> S3Endpoint:
        """A further S3 user with keys of its own, made with this instance's admin keyring (cephx): e.g. one
        user per kind of material, each owning its bucket."""
        if self.endpoint is None or self.workdir is None:
            raise RuntimeError("LocalS3Server not started")
        access, secret = secrets.token_hex(10), secrets.token_hex(20)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}
        done = subprocess.run(["radosgw-admin", "-c", str(self.workdir / "ceph.conf"), "user", "create",
                               f"--uid={uid}", f"--display-name={uid}", f"--access-key={access}",
                               f"--secret-key={secret}"], env=env, capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"radosgw-admin user create {uid} failed: {done.stderr.decode(errors='replace')[-300:]}")
        return S3Endpoint(self.endpoint.endpoint, access, secret)

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
        """Stop this instance's daemons (see stop_daemons); a no-op when not started."""
        if self.workdir is None:
            return
        atexit.unregister(self.stop)
        workdir, self.workdir, self.endpoint = self.workdir, None, None
        stop_daemons(workdir, timeout)

    def __enter__(self) -> LocalS3Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def pids(self) -> list[int]:
        return _daemon_pids(self.workdir) if self.workdir is not None else []

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of ceph_up.sh's output and of every Ceph log of this instance."""
        if self.workdir is None:
            return ""
        files = [self.workdir / "ceph_up.out", *sorted((self.workdir / "log").glob("*.log"))]
        tails = {f.name: f.read_text(errors="replace").splitlines()[-lines:] for f in files if f.is_file()}
        return "\n".join(f"--- {name}\n" + "\n".join(tail) for name, tail in tails.items() if tail)
