"""Reports after a real batch: two synthesised calls through the batch flow (real S3 server, Whisper,
scoring, compliance); the reports land locally and under reports/ in the bucket, and open in chromium."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from pipeline.config import PipelineConfig, S3Settings
from infra.store import ResultsStore

from .s3util import read_object, s3_client

pytestmark = pytest.mark.integration
CALLS = ("en_billing_refund_stereo", "zh_password_reset_stereo")
PAGES = {"index.html", "alerts.html", "alerts.csv", "coaching.html", "dashboard.html", "scorecards.json",
         "scorecards.csv", "static/report.css"}


def test_batch_flow_builds_the_reports(s3_server, sample_calls, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows import batch_flow
    from tests.unit.test_reports_browser import dump_dom

    folder, _ = sample_calls
    bucket = f"reports-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.make_bucket(bucket)
    for name in CALLS:
        for suffix in (".wav", ".json"):
            client.fput_object(bucket, f"recordings/{name}{suffix}", str(folder / f"{name}{suffix}"))
    out = tmp_path / "reports"
    cfg = PipelineConfig(s3=S3Settings(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                                       secret_key=s3_server.secret_key, bucket=bucket),
                         database_url=f"sqlite:///{tmp_path / 'r.db'}", reports_dir=out)
    summary = batch_flow(cfg)
    assert summary.count("done") == 2, summary

    store = ResultsStore(cfg.database_url)
    local = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert local == PAGES | {f"calls/{name}.html" for name in CALLS}
    remote = {o.object_name for o in client.list_objects(bucket, prefix="reports/", recursive=True)}
    assert remote == {f"reports/{f}" for f in local}
    for rel in local:
        assert read_object(client, bucket, f"reports/{rel}") == (out / rel).read_bytes(), rel

    en = (out / "calls" / "en_billing_refund_stereo.html").read_text(encoding="utf-8")
    card = store.scorecard("en_billing_refund_stereo")
    assert '<dd id="agent">sarah.miller</dd>' in en and '<dd id="queue">billing</dd>' in en
    assert f'<dd id="total">{card["total"]:.1f}</dd>' in en and '<ol class="transcript">' in en
    zh = (out / "calls" / "zh_password_reset_stereo.html").read_text(encoding="utf-8")
    assert '<dd id="agent">zhang.wei</dd>' in zh and re.search(r"[\u4e00-\u9fff]{4}", zh.split("transcript", 1)[1])
    dash = (out / "dashboard.html").read_text(encoding="utf-8")
    assert 'id="n-calls">2<' in dash and '<tr data-language="zh"><th>language zh</th><td>1</td>' in dash
    exported = {c["call_id"]: c["total"] for c in json.loads((out / "scorecards.json").read_text(encoding="utf-8"))}
    assert exported == {c.call_id: c.total for c in store.scorecards()}
    alerts = (out / "alerts.html").read_text(encoding="utf-8")
    assert alerts.count("data-alert=") == len(store.alerts())

    # The customer's name is said in the English call: whatever Whisper made of it stays out of the reports.
    said = json.loads(read_object(client, bucket, "transcripts/en_billing_refund_stereo.json"))
    names = [w for w in ("Johnson", "Michael") if any(w in s["text"] for s in said["segments"])]
    assert names, "the transcript holds the customer's name (else this check proves nothing)"
    for rel in local:
        text = (out / rel).read_text(encoding="utf-8")
        assert not any(n in text for n in names), rel

    for page in ("calls/en_billing_refund_stereo.html", "alerts.html", "dashboard.html"):
        dom, err = dump_dom(out / page, tmp_path)
        assert "Uncaught" not in err and "</main>" in dom, page

    import asyncio

    async def _artifacts():
        async with get_client() as c:
            return await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["callqa-reports"])))

    found = asyncio.run(_artifacts())
    assert found and any(f"`{out}`" in str(a.data) and "alerts.html" in str(a.data) for a in found)
