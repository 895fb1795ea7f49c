"""minio client helpers shared by the integration tests that talk to the real S3 server."""
from __future__ import annotations


def s3_client(ep):
    """A minio client for an `S3Endpoint` (demo.s3server)."""
    from minio import Minio

    return Minio(ep.endpoint, access_key=ep.access_key, secret_key=ep.secret_key, secure=ep.secure)


def read_object(client, bucket: str, key: str) -> bytes:
    resp = client.get_object(bucket, key)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()
