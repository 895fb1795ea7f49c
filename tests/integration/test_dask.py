"""The batch flow's per-call tasks on a Dask cluster (prefect-dask): a real `distributed.LocalCluster` of two
worker processes, real Prefect, real models. Every call is processed once, in the workers (each loads its
models once and keeps them), a second run processes nothing, and re-scoring runs on the cluster too."""
from __future__ import annotations

import json

import pytest

from pipeline.config import PipelineConfig

from .test_imported_flow import CHAT_CSV, OURS, SIDECAR, WHISPERX

pytestmark = pytest.mark.integration


def _loaded_models() -> list[str]:
    import flows

    return sorted(str(key[0]) for key in flows._models)


def test_batch_on_a_dask_cluster_of_two_worker_processes(tmp_path):
    from distributed import Client, LocalCluster

    from flows import run_batch, run_rescore

    inbox = tmp_path / "inbox"
    (inbox / "chats").mkdir(parents=True)
    (inbox / "w2.transcript.json").write_text(json.dumps({**WHISPERX, "segments": WHISPERX["segments"][::-1]}))
    (inbox / "chats" / "c1.chat.csv").write_text(CHAT_CSV)
    (inbox / "chats" / "c1.json").write_text(json.dumps(SIDECAR))
    (inbox / "w1.transcript.json").write_text(json.dumps(WHISPERX))
    (inbox / "o1.transcript.json").write_text(OURS.to_json())
    (inbox / "o1.json").write_text(json.dumps({**SIDECAR, "language": "zh"}))
    cfg = PipelineConfig(local_root=inbox, database_url=f"sqlite:///{tmp_path / 'r.db'}", reports=False,
                         concurrency=2, diarization="none")

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        first = run_batch(cfg, dask_address=cluster.scheduler_address)
        assert sorted(o.call_id for o in first.outcomes) == ["chats/c1", "o1", "w1", "w2"]
        assert all(o.status == "done" for o in first.outcomes), first.outcomes
        loaded = client.run(_loaded_models)
        assert len(loaded) == 2
        assert all("reviewer" in models for models in loaded.values()), loaded  # both workers took calls

        second = run_batch(cfg, dask_address=cluster.scheduler_address)
        assert second.outcomes == (), "a second run processes nothing"
        assert run_rescore(cfg, dask_address=cluster.scheduler_address) == 4
        assert client.run(_loaded_models) == loaded, "the workers kept their models: nothing loaded twice"
