"""Prefect wiring only: the work is in pipeline/ (Prefect-free stage functions).

- `process_call_flow(key, config)`: one recording end to end: transcription, then the call's analysis in the
  same task (scorecard, alerts, redacted copies through the redaction boundary; pipeline/analysis.py).
- `rescore_flow(config)`: each stored transcript analysed again with the current forms and policy, one task
  per call; a call that fails is recorded and the others go on.
- `batch_flow(config)`: discover new recordings (and transcripts or chat logs given in their place) and map
  the per-call task over them with bounded concurrency (the thread pool size), collecting calls as they
  complete, retrying transient storage errors, persisting results, and publishing a table + markdown
  artifact summarising the batch; then rebuild the reports.
- `reports_flow(config, out_dir)`: build the reports (scorecards, alert queue, coaching, dashboard) on
  demand, into `out_dir` and under `reports/` in the object store.

Runs in Prefect's ephemeral mode with no server, or as deployments on a Prefect server (`deploy`: batch,
per-call and re-scoring flows, each on the work pool it is deployed to; `callqa worker` serves a pool); with
the server's global concurrency limit `callqa-transcription`, each call holds one of its slots (a GPU's) while
its speech is recognised and diarized (`transcription_slot`). The per-call tasks run on a thread pool
(`concurrency`), or on a Dask cluster (`dask_address`: an existing scheduler's address, or "local" for a local
cluster of `concurrency` worker processes) through prefect-dask; each worker process loads its models once.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from prefect import flow, task, unmapped
from prefect.futures import as_completed
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.config import PipelineConfig
from pipeline.gpu_slots import set_transcription_slots, transcription_slot
from core.errors import CallQAError, UnexpectedError
from pipeline import progress
from pipeline.analysis import CallAnalyser
from pipeline.process import Outcome, discover, process_recording, reanalyse_stored_call
from infra.storage import RecordingRef
from infra.store import ResultsStore
from reports.build import REPORTS_PREFIX, ReportIndex, build_reports
from transcribe.call_batches import share_batches_across_calls
from transcribe.registry import build_transcriber

_models: dict[tuple, object] = {}
_models_lock = threading.Lock()
_stores: dict[tuple, ResultsStore] = {}
log = logging.getLogger("callqa")


def _transcriber(cfg: PipelineConfig):
    """One loaded model per process and configuration, shared by the task threads; a batched one decodes the
    chunks of the calls in flight in shared batches (`transcribe.call_batches`)."""
    key = (cfg.backend, cfg.model, cfg.device, cfg.asr_batch_size, cfg.asr_parallel)
    with _models_lock:
        if key not in _models:
            _models[key] = share_batches_across_calls(build_transcriber(
                cfg.backend, cfg.model, cfg.device, batch_size=cfg.asr_batch_size, parallel=cfg.asr_parallel))
        return _models[key]


class _LazyDiarizer:
    """Loads pyannote on the first mono call: a batch of stereo recordings never pays for it (~0.5 GB)."""

    def __init__(self, cfg: PipelineConfig):
        self._cfg, self._loaded = cfg, None

    def diarize(self, audio, **kwargs):
        if self._loaded is None:
            with _models_lock:
                if self._loaded is None:
                    from transcribe.diarize import PyannoteDiarizer

                    self._loaded = PyannoteDiarizer(self._cfg.diarization_pipeline, self._cfg.device)
        return self._loaded.diarize(audio, **kwargs)


def _diarizer(cfg: PipelineConfig):
    if cfg.diarization == "none":
        return None
    key = ("diarizer", cfg.diarization_pipeline, cfg.device)
    with _models_lock:
        if key not in _models:
            _models[key] = _LazyDiarizer(cfg)
        return _models[key]


def _reviewer(cfg: PipelineConfig):
    if not cfg.scoring:
        return None
    key = ("reviewer", str(cfg.forms_dir))
    with _models_lock:
        if key not in _models:
            from scoring.review import Reviewer
            from scoring.sentiment_embedding import E5Sentiment
            from scoring.similarity import E5SimilarityModel

            similarity = E5SimilarityModel()  # one encoder and cache for SOP rules and sentiment
            _models[key] = Reviewer(cfg.forms_dir, similarity=similarity, sentiment=E5Sentiment(similarity))
        return _models[key]


def _policy(cfg: PipelineConfig):
    if not cfg.compliance:
        return None
    key = ("policy", str(cfg.policy_file))
    with _models_lock:
        if key not in _models:
            from compliance.alerts import default_policy_path, load_policy

            from compliance.recognizer_config import default_recognizers

            default_recognizers()  # a broken $CALLQA_PII_RECOGNIZERS file fails here (E131), not per call
            _models[key] = load_policy(cfg.policy_file or default_policy_path())  # E130 names file and line
        return _models[key]


def _tenant_policies(cfg: PipelineConfig) -> dict:
    """tenant -> its own policy, from `tenant_policies_dir/<tenant>.yaml` (E130 names file and line)."""
    if not cfg.compliance or cfg.tenant_policies_dir is None:
        return {}
    key = ("tenant policies", str(cfg.tenant_policies_dir))
    with _models_lock:
        if key not in _models:
            from compliance.alerts import load_tenant_policies

            _models[key] = load_tenant_policies(cfg.tenant_policies_dir)
        return _models[key]


def _emit_alert(call_id: str, alert: dict) -> None:
    """A Prefect event per alert, so users can automate on them; codes and times only, never quotes."""
    from prefect.events import emit_event

    emit_event(event=f"callqa.alert.{alert['category']}", resource={"prefect.resource.id": f"callqa.call.{call_id}"},
               payload={"rule_id": alert["rule_id"], "rule_version": alert["rule_version"],
                        "severity": alert["severity"], "title": alert["title"],
                        "at": [(e.get("start"), e.get("end")) for e in alert.get("evidence", [])]})


def _store(cfg: PipelineConfig) -> ResultsStore:
    with _models_lock:
        key = (cfg.database_url, cfg.lease_minutes)
        if key not in _stores:
            _stores[key] = ResultsStore(cfg.database_url, lease=timedelta(minutes=cfg.lease_minutes))
        return _stores[key]


def _is_transient(task, task_run, state) -> bool:
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, CallQAError) and exc.transient


@task(retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=_is_transient, cache_policy=NO_CACHE)
def discover_task(cfg: PipelineConfig) -> list[RecordingRef]:
    return discover(cfg.open_source(), _store(cfg))


def _analyser(cfg: PipelineConfig, source) -> CallAnalyser | None:
    reviewer, policy, tenant_policies = _reviewer(cfg), _policy(cfg), _tenant_policies(cfg)
    if reviewer is None and policy is None:
        return None
    return CallAnalyser(_store(cfg), source, reviewer=reviewer, policy=policy, sink=_emit_alert,
                        tenant_policies=tenant_policies)


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_is_transient, cache_policy=NO_CACHE,
      persist_result=True, task_run_name="process-{ref.call_id}")
def process_call_task(ref: RecordingRef, cfg: PipelineConfig) -> Outcome:
    """One call: a recording is transcribed, a transcript or chat log imported (no model loaded for it)."""
    source = cfg.open_source()
    return process_recording(ref, source, _store(cfg), None if ref.is_text else _transcriber(cfg),
                             options=cfg.transcribe_options(), limits=cfg.audio_limits(),
                             conversation=cfg.conversation_options(), diarizer=_diarizer(cfg),
                             redact_audio=cfg.redact_audio, analyser=_analyser(cfg, source),
                             transcription_slot=lambda: transcription_slot(ref.call_id, cfg.lease_minutes))


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_is_transient, cache_policy=NO_CACHE,
      task_run_name="reanalyse-{call_id}")
def reanalyse_call_task(call_id: str, cfg: PipelineConfig) -> bool | None:
    """A stored call analysed again (scorecard, alerts, redacted transcript) with the current forms/policy."""
    source = cfg.open_source()
    analyser = _analyser(cfg, source)
    return None if analyser is None else reanalyse_stored_call(call_id, source, _store(cfg), analyser)


@task(cache_policy=NO_CACHE, task_run_name="reports")
def reports_task(cfg: PipelineConfig, out_dir: Path | None, since: date | datetime | None = None,
                 until: date | datetime | None = None) -> ReportIndex:
    return build_reports(_store(cfg), cfg.open_source(), out_dir, since=since, until=until)


def _publish_reports(index: ReportIndex) -> None:
    pages = [f for f in index.files if "/" not in f]
    calls = sum(f.startswith("calls/") for f in index.files)
    where = f"`{index.out_dir}` and " if index.out_dir is not None else ""
    lines = "\n".join(f"- `{f}`" for f in pages)
    create_markdown_artifact(
        f"# callqa reports\n\nWritten to {where}`{REPORTS_PREFIX}` in the object store.\n\n"
        f"Calls: {index.calls} ({index.scored} scored), agents: {index.agents}, alerts: {index.alerts}, "
        f"call pages: {calls}.\n\n{lines}\n", key="callqa-reports")


@flow(name="callqa-reports", persist_result=False)
def reports_flow(cfg: PipelineConfig, out_dir: Path | None = None, since: date | datetime | None = None,
                 until: date | datetime | None = None) -> ReportIndex:
    """Reports on demand (CLI `callqa reports`), from the results DB and the redacted transcripts."""
    index = reports_task(cfg, out_dir if out_dir is not None else cfg.reports_dir, since, until)
    _publish_reports(index)
    return index


def _rebuild_reports(cfg: PipelineConfig) -> None:
    """After a batch: a failure here leaves the batch's results intact; it shows as a failed task run in
    Prefect and is logged, and `callqa reports` builds them again."""
    if not cfg.reports:
        return
    result = reports_task.submit(cfg, cfg.reports_dir).result(raise_on_failure=False)
    if isinstance(result, BaseException):
        log.error("reports were not rebuilt: %s", result.message if isinstance(result, CallQAError)
                  else type(result).__name__)
        return
    _publish_reports(result)


@flow(name="callqa-process-call", persist_result=True)
def process_call_flow(key: str, cfg: PipelineConfig) -> Outcome:
    ref = cfg.open_source().ref_for(key)
    return process_call_task(ref, cfg)


@dataclass(frozen=True)
class BatchSummary:
    outcomes: tuple[Outcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def audio_seconds(self) -> float:
        return sum(o.audio_seconds for o in self.outcomes)


def _failed_outcome(ref: RecordingRef, exc: BaseException) -> Outcome:
    code = exc.code if isinstance(exc, CallQAError) else UnexpectedError.code
    message = exc.message if isinstance(exc, CallQAError) else f"unexpected {type(exc).__name__}"
    return Outcome(ref.call_id, "failed", code, message)


def _publish(summary: BatchSummary, source: str) -> None:
    rows = [{"call": o.call_id, "status": o.status, "language": o.language or "", "audio_s": round(o.audio_seconds, 1),
             "wall_s": round(o.wall_seconds, 1), "code": o.code or "", "reason": o.message or ""}
            for o in summary.outcomes]
    create_table_artifact(rows, key="callqa-batch-calls", description=f"Calls processed from {source}")
    counts = " | ".join(f"{s}: {summary.count(s)}" for s in ("done", "quarantined", "failed", "skipped"))
    create_markdown_artifact(
        f"# callqa batch\n\nSource: `{source}`\n\n{counts}\n\nAudio transcribed: "
        f"{summary.audio_seconds / 60:.1f} min\n", key="callqa-batch-summary")


@flow(name="callqa-batch", persist_result=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def batch_flow(cfg: PipelineConfig) -> BatchSummary:
    refs = discover_task(cfg)
    futures = process_call_task.map(refs, cfg=unmapped(cfg)) if refs else []
    ref_of = {id(f): r for f, r in zip(futures, refs)}
    by_call: dict[str, Outcome] = {}
    for fut in as_completed(list(futures)):  # each call is analysed inside its own task, as soon as transcribed
        ref, result = ref_of[id(fut)], fut.result(raise_on_failure=False)
        outcome = by_call[ref.call_id] = _failed_outcome(ref, result) if isinstance(result, BaseException) else result
        progress.report(len(by_call), len(refs), ref.call_id, outcome.status, outcome.audio_seconds,
                        ("imported and analysed" if ref.is_text else "transcribed and analysed")
                        if outcome.status == "done" else outcome.code or "")
    summary = BatchSummary(tuple(by_call[r.call_id] for r in refs))
    _publish(summary, cfg.open_source().describe())
    _rebuild_reports(cfg)
    return summary


@flow(name="callqa-rescore", persist_result=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def rescore_flow(cfg: PipelineConfig) -> int:
    """Score and check every stored transcript again with the current forms and policy (after one changed);
    no re-transcription."""
    done = [r.id for r in _store(cfg).calls("done")]
    futures = reanalyse_call_task.map(done, cfg=unmapped(cfg)) if done else []
    results = []
    for call_id, f in zip(done, futures):
        results.append(f.result(raise_on_failure=False))
        progress.report(len(results), len(done), call_id,
                        "failed" if isinstance(results[-1], BaseException) else "re-scored", stage="analysis")
    failed = [(c, r) for c, r in zip(done, results) if isinstance(r, BaseException)]
    for call_id, exc in failed:  # recorded, not fatal: the other calls are re-scored all the same
        log.error("call %s not re-scored: %s", call_id, exc.message if isinstance(exc, CallQAError)
                  else f"unexpected {type(exc).__name__}")
    n = sum(r is True for r in results)
    create_markdown_artifact(f"# callqa re-scoring\n\n{n} of {len(done)} stored calls re-scored; "
                             f"{len(failed)} failed (see the task runs).\n", key="callqa-rescore-summary")
    _rebuild_reports(cfg)
    return n


# ---- deployments (callqa deploy / callqa worker): the parameters carry no settings and no secrets; each run
# reads the settings where it runs (the worker's CALLQA_* environment or its CALLQA_CONFIG file) ----

@flow(name="callqa-batch-deployed", persist_result=False)
def deployed_batch_flow() -> dict:
    """The batch flow as a deployment runs it, with the worker machine's own settings."""
    cfg = PipelineConfig.from_env()
    summary = batch_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=cfg.concurrency))(cfg)
    return {s: summary.count(s) for s in ("done", "quarantined", "failed", "skipped")}


@flow(name="callqa-call-deployed", persist_result=False)
def deployed_call_flow(key: str) -> str:
    """One input by object key (what `callqa listen --deployment` starts), with the worker's own settings."""
    return process_call_flow(key, PipelineConfig.from_env()).status


@flow(name="callqa-rescore-deployed", persist_result=False)
def deployed_rescore_flow() -> int:
    """Re-scoring as a deployment (no audio, no model for speech: a CPU pool's work), with the worker's settings."""
    cfg = PipelineConfig.from_env()
    return rescore_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=cfg.concurrency))(cfg)


DEPLOYMENTS = {"batch": deployed_batch_flow, "call": deployed_call_flow, "rescore": deployed_rescore_flow}
def deploy(pool: str, *, cron: str | None = None, source: str | None = None, only: tuple[str, ...] = (),
           gpu_slots: int | None = None) -> list[str]:
    """Register the deployments (`only` these of DEPLOYMENTS; all by default) on the Prefect server at
    PREFECT_API_URL, for process workers of work pool `pool` (made if missing); with `gpu_slots`, set the
    global limit of transcriptions at once (set_transcription_slots). Returns the deployment names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:  # a worker starting meanwhile made it
                pass
        if gpu_slots is not None:
            set_transcription_slots(client, gpu_slots)
    where = source or str(Path(__file__).resolve().parent)
    names = []
    for name, fl in DEPLOYMENTS.items():
        if only and name not in only:
            continue
        fl.from_source(source=where, entrypoint=f"flows.py:{fl.fn.__name__}").deploy(
            name=name, work_pool_name=pool, build=False, push=False, print_next_steps=False, ignore_warnings=True,
            cron=cron if name == "batch" else None)
        names.append(f"{fl.name}/{name}")
    return names


def event_listener(cfg: PipelineConfig, *, token: str, debounce_seconds: float = 5.0, deployment: str | None = None):
    """(ingestor, ASGI app) for `callqa listen`: bucket notifications start `process_call_flow` per new or
    changed input after `debounce_seconds` of quiet on its stem (pipeline/ingest.py); with `deployment`, a
    run of that deployment (`callqa deploy`) on the work pool's workers instead of one in this process."""
    from pipeline.ingest import Ingestor, events_app

    def start(key: str):
        if deployment is None:
            return process_call_flow(key, cfg)
        from prefect.deployments import run_deployment

        return run_deployment(deployment, parameters={"key": key}, timeout=0)

    store = _store(cfg)
    ingestor = Ingestor(cfg.open_source(), lambda ref: store.needs_processing(ref.call_id, ref.etag),
                        start, bucket=cfg.s3.bucket if cfg.s3 else None,
                        debounce_seconds=debounce_seconds, concurrency=cfg.concurrency)
    return ingestor, events_app(ingestor, token)


def task_runner(cfg: PipelineConfig, dask_address: str | None = None):
    """The per-call task runner: a thread pool of `concurrency` threads; with `dask_address`, the Dask
    cluster at that address ("tcp://host:8786"), or "local": a local cluster of `concurrency` worker processes
    (one thread each: the models inside use the cores)."""
    if not dask_address:
        return ThreadPoolTaskRunner(max_workers=cfg.concurrency)
    from prefect_dask import DaskTaskRunner

    if dask_address == "local":
        return DaskTaskRunner(cluster_kwargs={"n_workers": cfg.concurrency, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    return DaskTaskRunner(address=dask_address)


def run_batch(cfg: PipelineConfig, *, dask_address: str | None = None) -> BatchSummary:
    """Entry point used by the CLI: per-call tasks on a thread pool sized from the config (bounded
    concurrency), or on a Dask cluster (`dask_address`, see task_runner)."""
    return batch_flow.with_options(task_runner=task_runner(cfg, dask_address))(cfg)


def run_rescore(cfg: PipelineConfig, *, dask_address: str | None = None) -> int:
    return rescore_flow.with_options(task_runner=task_runner(cfg, dask_address))(cfg)
