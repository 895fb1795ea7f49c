"""Secrets are never Prefect parameters in clear: a real (ephemeral) Prefect flow run with the pipeline's
settings stores them with the DB password and the S3 secret hidden, while the flow itself gets them whole."""
from __future__ import annotations

import pytest

from pipeline.config import PipelineConfig, S3Settings

pytestmark = pytest.mark.integration


def test_flow_run_parameters_hide_the_db_password_and_s3_secret():
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context

    url = "postgresql+psycopg://qa:hunter2-secret@db.internal:5432/callqa"
    cfg = PipelineConfig(s3=S3Settings(endpoint="127.0.0.1:9", access_key="AK", secret_key="s3-secret-value",
                                       bucket="calls"), database_url=url)

    @flow(name="callqa-secret-probe")
    def probe(cfg: PipelineConfig) -> tuple[str, str, str]:
        run_id = str(get_run_context().flow_run.id)
        return run_id, cfg.database_url, cfg.s3.secret_key.get_secret_value()

    run_id, seen_url, seen_secret = probe(cfg)
    assert (seen_url, seen_secret) == (url, "s3-secret-value"), "the flow works with the real values"
    with get_client(sync_client=True) as client:
        stored = str(client.read_flow_run(run_id).parameters)
    assert "db.internal" in stored, stored  # the parameters are there ...
    assert "hunter2-secret" not in stored and "s3-secret-value" not in stored, stored  # ... without secrets
