"""Secrets are never Prefect parameters in clear: a real (ephemeral) Prefect flow run with the pipeline's
settings stores them with the DB password and the S3 secret hidden, while the flow itself gets them whole."""
from __future__ import annotations

import pytest

from pipeline.config import PipelineConfig, S3AreaSettings, S3Settings

pytestmark = pytest.mark.integration


def test_flow_run_parameters_hide_the_db_password_and_s3_secret():
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.context import get_run_context

    url = "postgresql+psycopg://qa:hunter2-secret@db.internal:5432/callqa"
    cfg = PipelineConfig(s3=S3Settings(endpoint="127.0.0.1:9", access_key="AK", secret_key="s3-secret-value",
                                       bucket="calls",
                                       unredacted=S3AreaSettings(bucket="calls-unredacted", access_key="AK2",
                                                                 secret_key="unredacted-secret-value")),
                         database_url=url)

    @flow(name="callqa-secret-probe")
    def probe(cfg: PipelineConfig) -> tuple[str, str, str, str]:
        run_id = str(get_run_context().flow_run.id)
        return (run_id, cfg.database_url, cfg.s3.secret_key.get_secret_value(),
                cfg.s3.unredacted.secret_key.get_secret_value())

    run_id, seen_url, seen_secret, seen_area_secret = probe(cfg)
    assert (seen_url, seen_secret, seen_area_secret) == (url, "s3-secret-value", "unredacted-secret-value"), \
        "the flow works with the real values"
    with get_client(sync_client=True) as client:
        stored = str(client.read_flow_run(run_id).parameters)
    assert "db.internal" in stored, stored  # the parameters are there ...
    assert "calls-unredacted" in stored, stored
    for secret in ("hunter2-secret", "s3-secret-value", "unredacted-secret-value"):  # ... without secrets
        assert secret not in stored, stored
