"""The embedded S3 server (single-node Ceph + radosgw on loopback) against the real minio client."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from demo.s3server import SCRIPT, LocalS3Server, _alive

from .s3util import read_object, s3_client

pytestmark = pytest.mark.integration

KEY = "recordings/通话 1.wav"


def _port_open(endpoint: str) -> bool:
    host, port = endpoint.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def test_put_get_list_then_stop(tmp_path):
    data = b"RIFF" + os.urandom(200_000)
    srv = LocalS3Server()
    t0 = time.monotonic()
    with srv:
        ep = srv.start(tmp_path / "s3")
        started = time.monotonic() - t0
        assert ep.endpoint.startswith("127.0.0.1:") and not ep.secure
        pids = srv.pids()
        assert len(pids) == 3, pids  # radosgw, ceph-osd, ceph-mon
        srv.wait_ready(timeout=5)

        mc = s3_client(ep)
        mc.make_bucket("calls")
        assert mc.bucket_exists("calls")
        etag = mc.put_object("calls", KEY, io.BytesIO(data), len(data), content_type="audio/wav").etag.strip('"')
        assert etag == hashlib.md5(data).hexdigest()
        assert read_object(mc, "calls", KEY) == data

        listed = list(mc.list_objects("calls", prefix="recordings/", recursive=True))
        assert [o.object_name for o in listed] == [KEY]
        assert listed[0].size == len(data)
        # the etag is stable: listing, stat and a re-upload of the same bytes all agree
        assert listed[0].etag.strip('"') == etag
        assert mc.stat_object("calls", KEY).etag.strip('"') == etag
        again = mc.put_object("calls", KEY, io.BytesIO(data), len(data)).etag.strip('"')
        assert again == etag
        t1 = time.monotonic()
    stopped = time.monotonic() - t1
    print(f"start {started:.1f} s, stop {stopped:.1f} s")

    assert not _port_open(ep.endpoint)
    assert not [p for p in pids if _alive(p)]
    assert srv.pids() == []
    srv.stop()  # idempotent


def test_two_servers_side_by_side(tmp_path):
    a, b = LocalS3Server(), LocalS3Server(access_key="demo-access", secret_key="demo-secret-key")
    try:
        with ThreadPoolExecutor(2) as pool:  # start concurrently: no shared paths or ports
            ep_a, ep_b = pool.map(lambda s: s[0].start(tmp_path / s[1], timeout=50), [(a, "a"), (b, "b")])
        assert ep_a.endpoint != ep_b.endpoint
        assert (ep_b.access_key, ep_b.secret_key) == ("demo-access", "demo-secret-key")
        assert not set(a.pids()) & set(b.pids())

        mc_a, mc_b = s3_client(ep_a), s3_client(ep_b)
        mc_a.make_bucket("only-in-a")
        mc_b.make_bucket("only-in-b")
        assert [x.name for x in mc_a.list_buckets()] == ["only-in-a"]
        assert [x.name for x in mc_b.list_buckets()] == ["only-in-b"]

        # stopping one leaves the other untouched
        b_pids = b.pids()
        a.stop()
        assert not _port_open(ep_a.endpoint)
        assert b.pids() == b_pids
        mc_b.put_object("only-in-b", KEY, io.BytesIO(b"x"), 1)
        assert read_object(mc_b, "only-in-b", KEY) == b"x"
    finally:
        a.stop()
        b.stop()


def test_missing_ceph_says_run_setup(tmp_path, monkeypatch):
    bash = shutil.which("bash")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ceph, no radosgw
    with pytest.raises(RuntimeError, match="run scripts/setup.sh"):
        LocalS3Server().start(tmp_path / "s3")
    env = {"PATH": str(tmp_path), "CEPH_DIR": str(tmp_path / "s3"), "RGW_PORT": "1", "MON_PORT": "2",
           "ACCESS": "a", "SECRET": "b"}
    proc = subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "run scripts/setup.sh" in proc.stderr
    assert not (tmp_path / "s3").exists()


def test_cephx_only_the_service_user_can_administer_it(tmp_path):
    """Authentication is on: the keyrings are the service user's alone (0600 in a 0700 folder), and a client
    that knows the monitor's address but holds no key is refused, so no one else can run radosgw-admin
    to read the S3 keys (with auth off, the stranger's `user list` below would succeed)."""
    with LocalS3Server() as srv:
        ep = srv.start(tmp_path / "s3")
        work = srv.workdir
        assert work.stat().st_mode & 0o777 == 0o700
        keyrings = [work / "keyring", *work.glob("*/keyring")]
        assert len(keyrings) >= 4, keyrings  # client.admin, mon., osd.0, client.rgw
        assert all(k.stat().st_mode & 0o077 == 0 for k in [*keyrings, work / "ceph.conf"])

        conf = (work / "ceph.conf").read_text()
        assert "auth client required = cephx" in conf
        mon_host = next(line for line in conf.splitlines() if line.startswith("mon host"))
        stranger = tmp_path / "stranger.conf"
        stranger.write_text(f"[global]\n{mon_host}\nauth client required = none\nauth cluster required = none\n"
                            "auth service required = none\nkeyring = /dev/null\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}
        refused = subprocess.run(["radosgw-admin", "-c", str(stranger), "user", "list"],
                                 env=env, capture_output=True, timeout=60)
        assert refused.returncode != 0 and ep.access_key.encode() not in refused.stdout

        # the service user (holding the admin keyring) still can, e.g. to add an S3 user
        other = srv.add_user("reader")
        assert other.endpoint == ep.endpoint and other.access_key != ep.access_key
        s3_client(other).make_bucket("readers-own")
        assert s3_client(other).bucket_exists("readers-own")
