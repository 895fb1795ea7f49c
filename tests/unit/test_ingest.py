"""Event-driven ingestion, pure parts: the notification formats (AWS/Ceph/MinIO records, SNS envelope) and the
debounce per call stem over a real local folder source (the end-to-end path with Ceph's HTTP push is in
tests/integration/test_event_ingest.py)."""
from __future__ import annotations

import json
import time

import pytest

from infra.storage import LocalFolderSource
from pipeline.ingest import EventFormatError, Ingestor, ObjectEvent, parse_events


def _record(key: str, name: str = "ObjectCreated:Put", bucket: str = "calls") -> dict:
    return {"eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}


def test_the_formats_stores_send():
    minio = {"EventName": "s3:ObjectCreated:Put", "Key": "calls/recordings/2026/call+1.wav",
             "Records": [_record("recordings/2026/call+1%E4%B8%AD.wav", "s3:ObjectCreated:Put")]}
    (e,) = parse_events(json.dumps(minio).encode())
    assert (e.bucket, e.key, e.created) == ("calls", "recordings/2026/call 1中.wav", True)
    assert e.raw_key == "recordings/2026/call+1%E4%B8%AD.wav"
    sns = {"Type": "Notification", "Message": json.dumps({"Records": [_record("recordings/a.wav"),
                                                                      _record("recordings/b.wav", "ObjectRemoved:Delete")]})}
    assert [(e.key, e.created) for e in parse_events(json.dumps(sns).encode())] == \
        [("recordings/a.wav", True), ("recordings/b.wav", False)]
    assert parse_events(json.dumps({"Type": "SubscriptionConfirmation", "SubscribeURL": "x"}).encode()) == []
    assert parse_events(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}).encode()) == []
    for bad in (b"not json", b"[]", b"{}", json.dumps({"Records": [{"s3": {}}]}).encode()):
        with pytest.raises(EventFormatError):
            parse_events(bad)


def test_a_call_and_its_late_sidecar_start_one_run(tmp_path):
    rec = tmp_path / "recordings"
    (rec / "q").mkdir(parents=True)
    (rec / "q" / "a.wav").write_bytes(b"RIFF")
    (rec / "q" / "a.json").write_text("{}")
    (rec / "q" / "b.wav").write_bytes(b"RIFF")
    source = LocalFolderSource(tmp_path, "recordings/")
    started: list[str] = []
    ingestor = Ingestor(source, needs=lambda ref: True, process=started.append, bucket="calls",
                        debounce_seconds=0.3)
    created = lambda key, bucket="calls": ObjectEvent(bucket, key, key, True)  # noqa: E731
    try:
        assert ingestor.accept([created("recordings/q/a.wav")]) == 1
        time.sleep(0.1)
        assert ingestor.accept([created("recordings/q/a.json")]) == 1  # restarts a's timer
        assert ingestor.accept([created("transcripts/q/a.json"), created("recordings/q/b.wav", "other"),
                                ObjectEvent("calls", "recordings/q/b.wav", "recordings/q/b.wav", False)]) == 0
        assert ingestor.pending() == 1
        deadline = time.monotonic() + 5
        while (ingestor.pending() or not started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started == ["recordings/q/a.wav"], "one run for the recording and its sidecar; b had no event"
    finally:
        ingestor.close()


def test_inputs_already_done_are_not_started_again(tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    (rec / "a.wav").write_bytes(b"RIFF")
    started: list[str] = []
    ingestor = Ingestor(LocalFolderSource(tmp_path, "recordings/"), needs=lambda ref: False, process=started.append,
                        debounce_seconds=0.05)
    try:
        ingestor.accept([ObjectEvent("calls", "recordings/a.wav", "recordings/a.wav", True)])
        time.sleep(0.5)
        assert started == [] and ingestor.pending() == 0
    finally:
        ingestor.close()
