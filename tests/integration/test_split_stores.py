"""Each kind of material in a bucket of its own under credentials of its own, on the embedded Ceph S3 server:
the pipeline's source routes keys by kind (core.keys.material_of), a bucket policy lets a read-only reader see
the redacted results and nothing else, and the owners of one kind cannot read another's."""
from __future__ import annotations

import io
import json
import uuid

import pytest
from minio.error import S3Error

from pipeline.config import PipelineConfig

from .s3util import read_object, s3_client

pytestmark = pytest.mark.integration


def _denied(fn, *args) -> bool:
    try:
        fn(*args)
    except S3Error as e:
        return e.code == "AccessDenied"
    return False


def _put(client, bucket: str, key: str, data: bytes) -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def reader_policy(bucket: str, reader_uid: str) -> str:
    """The documented read-only policy for the redacted bucket (README, "Security model")."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam:::user/{reader_uid}"]},
         "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


def test_each_kind_of_material_in_its_own_bucket(s3_cluster, s3_server, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    raw_bucket, unredacted_bucket, redacted_bucket = f"raw-{tag}", f"unredacted-{tag}", f"redacted-{tag}"
    raw = s3_client(s3_server)
    raw.make_bucket(raw_bucket)
    _put(raw, raw_bucket, "recordings/call-1.wav", b"RIFF raw audio")
    owners = {kind: s3_cluster.add_user(f"{kind}-{tag}") for kind in ("unredacted", "redacted", "reader")}
    s3_client(owners["unredacted"]).make_bucket(unredacted_bucket)
    s3_client(owners["redacted"]).make_bucket(redacted_bucket)
    s3_client(owners["redacted"]).set_bucket_policy(redacted_bucket, reader_policy(redacted_bucket, f"reader-{tag}"))

    # the pipeline's settings, from the environment as a site would give them
    monkeypatch.setenv("CALLQA_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("CALLQA_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("CALLQA_S3_SECRET_KEY", s3_server.secret_key)
    monkeypatch.setenv("CALLQA_S3_BUCKET", raw_bucket)
    for kind, bucket in (("UNREDACTED", unredacted_bucket), ("REDACTED", redacted_bucket)):
        owner = owners[kind.lower()]
        monkeypatch.setenv(f"CALLQA_S3_{kind}_BUCKET", bucket)
        monkeypatch.setenv(f"CALLQA_S3_{kind}_ACCESS_KEY", owner.access_key)
        monkeypatch.setenv(f"CALLQA_S3_{kind}_SECRET_KEY", owner.secret_key)
    cfg = PipelineConfig.from_env()
    shown = json.dumps(cfg.shown())
    assert all(o.secret_key not in shown and o.access_key not in shown for o in owners.values())
    source = cfg.open_source()

    assert [r.key for r in source.list_recordings()] == ["recordings/call-1.wav"]
    source.write("transcripts/call-1.json", b'{"text": "unredacted"}')
    source.write("scorecards/call-1.json", b'{"total": 90}')
    source.write("redacted/audio/call-1.wav", b"RIFF" + bytes(range(256)) * 4)
    source.write("reports/index.html", b"<html></html>")
    # keys stay the same; the buckets differ
    assert source.read("transcripts/call-1.json") == b'{"text": "unredacted"}'
    assert source.size("redacted/audio/call-1.wav") == 1028
    assert b"".join(source.read_range("redacted/audio/call-1.wav", 4, 10)) == bytes(range(10))
    listed = {b: sorted(o.object_name for o in s3_client(owners.get(k, s3_server)).list_objects(b, recursive=True))
              for k, b in (("raw", raw_bucket), ("unredacted", unredacted_bucket), ("redacted", redacted_bucket))}
    assert listed == {raw_bucket: ["recordings/call-1.wav"],
                      unredacted_bucket: ["transcripts/call-1.json"],
                      redacted_bucket: ["redacted/audio/call-1.wav", "reports/index.html", "scorecards/call-1.json"]}

    # the reader (reports, BI) reads redacted results and nothing else
    reader = s3_client(owners["reader"])
    assert json.loads(read_object(reader, redacted_bucket, "scorecards/call-1.json")) == {"total": 90}
    assert _denied(_put, reader, redacted_bucket, "scorecards/call-1.json", b"{}")
    assert _denied(read_object, reader, raw_bucket, "recordings/call-1.wav")
    assert _denied(read_object, reader, unredacted_bucket, "transcripts/call-1.json")
    # the owner of the redacted results cannot read the personal material either
    redacted_owner = s3_client(owners["redacted"])
    assert _denied(read_object, redacted_owner, raw_bucket, "recordings/call-1.wav")
    assert _denied(read_object, redacted_owner, unredacted_bucket, "transcripts/call-1.json")
