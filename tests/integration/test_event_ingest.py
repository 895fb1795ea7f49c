"""Event-driven ingestion on the real Ceph S3 gateway: bucket notifications pushed over HTTP to the real
`callqa listen` app (uvicorn on loopback) start the per-call flow (real Prefect, real models). A sidecar
uploaded just after its chat log is applied in the first run (debounce); a changed sidecar later re-analyses
the call; the time from upload to stored alert is printed."""
from __future__ import annotations

import io
import json
import socket
import threading
import time
import uuid

import pytest

from demo.s3server import create_push_topic, notify_new_objects
from infra.store import ResultsStore
from pipeline.config import PipelineConfig, S3Settings

from .s3util import s3_client
from .test_imported_flow import CHAT_CSV, SIDECAR

pytestmark = pytest.mark.integration
TOKEN = "t-" + uuid.uuid4().hex


def _put(client, bucket: str, key: str, data: bytes) -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def _wait(check, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := check()):
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_uploads_start_calls_through_bucket_notifications(s3_server, tmp_path):
    import uvicorn

    from flows import event_listener

    bucket = f"events-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.make_bucket(bucket)
    cfg = PipelineConfig(s3=S3Settings(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                                       secret_key=s3_server.secret_key, bucket=bucket),
                         database_url=f"sqlite:///{tmp_path / 'r.db'}", reports=False)
    ingestor, app = event_listener(cfg, token=TOKEN, debounce_seconds=2.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, 30)
    try:
        arn = create_push_topic(s3_server, f"callqa-{bucket}", f"http://127.0.0.1:{port}/s3-events?token={TOKEN}")
        notify_new_objects(client, bucket, arn)

        uploaded = time.monotonic()
        _put(client, bucket, "recordings/chats/c1.chat.csv", CHAT_CSV.encode())
        time.sleep(0.5)  # the sidecar comes a moment later, inside the debounce window
        _put(client, bucket, "recordings/chats/c1.json", json.dumps(SIDECAR).encode())
        store = ResultsStore(cfg.database_url)
        alerts = _wait(lambda: store.get("chats/c1") is not None and store.get("chats/c1").state == "done"
                       and store.alerts())
        latency = time.monotonic() - uploaded
        print(f"upload -> stored alert: {latency:.1f} s (debounce 2 s)")
        call = store.get("chats/c1")
        assert call.attempts == 1, "one run for the chat and its sidecar"
        assert call.agent == SIDECAR["agent"], "the sidecar uploaded after the chat was applied"
        assert "media_threat" in {a["rule_id"] for a in alerts}

        # a corrected sidecar later: the call is analysed again with it (its version covers the sidecar)
        _put(client, bucket, "recordings/chats/c1.json", json.dumps({**SIDECAR, "agent": "a-99"}).encode())
        _wait(lambda: store.get("chats/c1").agent == "a-99" and store.get("chats/c1").state == "done")
        _wait(lambda: ingestor.pending() == 0, 60)
        assert ingestor.failed == 0 and ingestor.started == 2

        # the pipeline's own results (written beside the inputs) start nothing; a wrong token is refused
        import httpx

        body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": bucket}, "object": {"key": "recordings/x.wav"}}}]})
        assert httpx.post(f"http://127.0.0.1:{port}/s3-events?token=wrong", content=body).status_code == 401
        assert httpx.post(f"http://127.0.0.1:{port}/s3-events?token={TOKEN}", content=b"{}").status_code == 400
    finally:
        server.should_exit = True
        thread.join(10)
        ingestor.close()
