"""Deployments and work pools on the real stack, started once for the module (tests/integration/prefect_stack.py):
a Prefect server (`prefect server start`) whose database is PostgreSQL, the results DB on the same PostgreSQL
cluster, the inputs in a bucket on the Ceph S3 gateway, `callqa deploy`, and two `callqa worker` process
workers on loopback (one flow run at a time each, a temporary folder each: two machines). Settings reach the
runs through the workers' settings file and environment only (the deployments' parameters carry none);
scoring is off there (no speech or text model but Whisper: the module's time goes to the runs themselves).

- Two batch runs at once (one per worker) over one bucket and one DB, text inputs and two recordings: every
  call is processed exactly once (the runs' own tables of calls, and the DB's attempts). GPU slots: `callqa
  deploy --only batch call --gpu-slots 1` (the fixture) made the global concurrency limit
  `callqa-transcription`, so the recordings are transcribed one after the other (the intervals the runs log
  while holding the slot never overlap) and all calls finish; imports take no slot; re-scoring deploys to a
  pool of its own (CPU).
- A worker SIGKILLed (with its flow run) while a recording is being transcribed: after the call's lease
  lapses, a batch run on the other worker finishes it, once (the second attempt), with every stage and
  result in the bucket.
"""
from __future__ import annotations

import io
import json
import time
import uuid
import wave
from datetime import datetime, timedelta, timezone

import pytest

from infra.store import ResultsStore

from .prefect_stack import Stack, wait_for
from .s3util import s3_client
from .test_imported_flow import CHAT_CSV, INPUTS, SIDECAR

pytestmark = pytest.mark.integration
POOL, CPU_POOL = "callqa-test", "callqa-test-cpu"
LEASE_MINUTES = 0.1  # 6 s: another worker may take a killed worker's call over after that (heartbeat: 2 s)
TEXT_CALLS = {"chats/c1": "done", "chats/c2": "done", "wx/w1": "done", "own/o1": "done", "bad/b1": "quarantined"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_server, s3_server):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("deployments")
    bucket = f"deploy-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.make_bucket(bucket)
    db = postgres_server.url(postgres_server.create_database("results"))
    stack = Stack(tmp, database_url=db, pool=POOL,
                  prefect_db_url=postgres_server.url(postgres_server.create_database("prefect"), "asyncpg"),
                  s3_env={"CALLQA_S3_ENDPOINT": s3_server.endpoint, "CALLQA_S3_ACCESS_KEY": s3_server.access_key,
                          "CALLQA_S3_SECRET_KEY": s3_server.secret_key, "CALLQA_S3_BUCKET": bucket},
                  settings=f"database_url: {db}\nreports: false\nscoring: false\ndiarization: none\n"
                           f"device: cpu\nlease_minutes: {LEASE_MINUTES}\n")
    # the schema made once before the workers start, with every table a run registers (flows imports them all):
    # two processes creating the same new table at once on PostgreSQL collide (pg_type unique violation)
    import flows  # noqa: F401

    stack.s3, stack.bucket, stack.store = client, bucket, ResultsStore(db)
    try:
        t0 = time.monotonic()
        stack.start_server()
        print(f"Prefect server on PostgreSQL up in {time.monotonic() - t0:.1f} s")
        for name in ("w1", "w2"):  # they start (and make the pool) while the flows are deployed
            stack.start_worker(name)
        deployed = stack.callqa("deploy", "--pool", POOL, "--only", "batch", "call", "--gpu-slots", "1")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert [line for line in deployed.stdout.splitlines() if line.startswith("deployed ")] == [
            f"deployed {name} -> work pool {POOL}" for name in ("callqa-batch-deployed/batch",
                                                                 "callqa-call-deployed/call")], deployed.stdout
        assert "callqa-transcription: 1 transcription(s) at once" in deployed.stdout
        with temporary_settings({PREFECT_API_URL: stack.api}):  # this process talks to the same server
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as c:  # both polling before any run is started
                wait_for(lambda: len(c.read_workers_for_work_pool(POOL)) >= 2, 180, "both workers")
            yield stack
    finally:
        stack.stop()
        stack.store.engine.dispose()


def _put(stack: Stack, key: str, data: bytes) -> None:
    stack.s3.put_object(stack.bucket, key, io.BytesIO(data), len(data))


def _put_recording(stack: Stack, call, key: str, seconds: float | None = None) -> None:
    """A synthesised call and its sidecar; with `seconds`, only its beginning (less to transcribe)."""
    data = call.audio_path.read_bytes()
    if seconds is not None:
        with wave.open(str(call.audio_path)) as w:
            params, frames = w.getparams(), w.readframes(int(seconds * w.getframerate()))
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setparams(params)
            w.writeframes(frames)
        data = out.getvalue()
    _put(stack, key, data)
    _put(stack, key.rsplit(".", 1)[0] + ".json", call.audio_path.with_suffix(".json").read_bytes())


def _start(deployment: str, **parameters):
    from prefect.deployments import run_deployment

    return run_deployment(deployment, parameters=parameters, timeout=0)


def _finish(stack: Stack, runs, timeout: float = 420):
    """Wait until the flow runs are final; assert they completed; returns them as read back."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        def final():
            now = [client.read_flow_run(r.id) for r in runs]
            return now if all(r.state.is_final() for r in now) else None

        done = wait_for(final, timeout, "the flow runs")
    for r in done:
        print(f"flow run {r.name}: picked up after {(r.start_time - r.created).total_seconds():.1f} s, "
              f"ran {r.total_run_time.total_seconds():.1f} s")
    assert all(r.state.is_completed() for r in done), [r.state.message for r in done] + [stack.log_tail()]
    return done


def _batch_tables(runs) -> list[list[dict]]:
    """The `callqa-batch-calls` table of each batch run (published by its batch subflow)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey, FlowRunFilter

    with get_client(sync_client=True) as client:
        tables = []
        for run in runs:
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
            children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                parent_task_run_id={"any_": [t.id for t in tasks]}))
            arts = client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["callqa-batch-calls"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[c.id for c in children])))
            assert len(arts) == 1, (run.id, len(arts))
            data = arts[0].data
            tables.append(json.loads(data) if isinstance(data, str) else data)
        return tables


def _slot_intervals(since) -> dict[str, list]:
    """call id -> [taken, released] times, from the runs' `transcription slot` logs on the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTextSearch, LogFilterTimestamp

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(text=LogFilterTextSearch(query="transcription slot"),
                                          timestamp=LogFilterTimestamp(after_=since)), limit=200)
    out: dict[str, list] = {}
    for log in logs:
        words = log.message.split()  # "transcription slot taken|released for <call> after <s> s"
        if words[:2] == ["transcription", "slot"]:
            out.setdefault(words[4], [None, None])[words[2] == "released"] = log.timestamp
    return out


def test_two_batch_runs_at_once_process_each_call_once_with_one_gpu_slot(stack, sample_calls):
    """Two batch runs at once (one per worker) over text inputs and two recordings: every call settled by
    exactly one run, once; the one slot of `callqa deploy --gpu-slots 1` (fixture) keeps the recordings'
    transcriptions apart, whichever workers or threads they land on; re-scoring deploys to a CPU pool."""
    from prefect.client.orchestration import get_client

    from flows import deploy
    from pipeline.gpu_slots import TRANSCRIPTION_LIMIT

    assert deploy(CPU_POOL, only=("rescore",)) == ["callqa-rescore-deployed/rescore"]
    with get_client(sync_client=True) as client:
        pools = {d.name: d.work_pool_name for d in client.read_deployments()}
        limit = client.read_global_concurrency_limit_by_name(TRANSCRIPTION_LIMIT)
    assert pools == {"batch": POOL, "call": POOL, "rescore": CPU_POOL}, pools
    assert (limit.limit, limit.active) == (1, True)

    for key, data in INPUTS.items():
        _put(stack, key, data)
    _put(stack, "recordings/chats/c2.chat.csv", CHAT_CSV.encode())
    _put(stack, "recordings/chats/c2.json", json.dumps({**SIDECAR, "agent": "a-2"}).encode())
    _, calls = sample_calls
    recordings = sorted((c for c in calls if c.channels == 1), key=lambda c: c.duration)[:2]
    expected = {**TEXT_CALLS, **{f"gpu/g{i}": "done" for i in range(len(recordings))}}
    for i, call in enumerate(recordings):
        _put_recording(stack, call, f"recordings/gpu/g{i}.wav", seconds=8)
    since = datetime.now(timezone.utc)

    runs = _finish(stack, [_start("callqa-batch-deployed/batch") for _ in range(2)])
    assert {r.work_pool_name for r in runs} == {POOL}
    assert sorted(r.start_time for r in runs)[1] < min(r.end_time for r in runs), "the two runs overlapped"
    rows = {c.id: (c.state, c.attempts) for c in stack.store.calls() if c.id in expected}
    assert rows == {c: (state, 1) for c, state in expected.items()}, rows
    tables = _batch_tables(runs)
    for call, state in expected.items():  # each call settled by exactly one of the two runs
        settled = [row["status"] for t in tables for row in t if row["call"] == call and row["status"] != "skipped"]
        assert settled == [state], (call, tables)
    for result in ("redacted/transcripts/chats/c2.json", "redacted/audio/gpu/g1.wav"):
        assert stack.s3.stat_object(stack.bucket, result).size > 0, result

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(TRANSCRIPTION_LIMIT)
    assert (limit.limit, limit.active_slots) == (1, 0), "one slot, given back"
    # run logs reach the server in batches, after the run's final state: wait for both calls' pairs
    def complete():
        found = _slot_intervals(since)
        return found if len(found) >= 2 and all(None not in v for v in found.values()) else None

    try:
        intervals = wait_for(complete, 30, "both calls' slot logs")
    except AssertionError:
        intervals = _slot_intervals(since)
    assert sorted(intervals) == ["gpu/g0", "gpu/g1"], "recordings took a slot, imports did not"
    assert all(None not in v for v in intervals.values()), intervals
    (a0, a1), (b0, b1) = sorted(intervals.values())
    assert a1 <= b0, f"transcriptions overlapped: {intervals}"  # the one slot held by one call at a time


def test_a_killed_workers_call_is_finished_by_the_other_after_its_lease(stack, sample_calls):
    from prefect.client.orchestration import get_client

    from pipeline.gpu_slots import set_transcription_slots

    with get_client(sync_client=True) as client:
        set_transcription_slots(client, 0)  # a killed worker's GPU slot would be held for the server's minimum lease
    _, calls = sample_calls
    shortest = min((c for c in calls if c.channels == 1 and c.language == "en"), key=lambda c: c.duration)
    key, call_id = "recordings/kill/k1.wav", "kill/k1"
    _put_recording(stack, shortest, key)
    run = _start("callqa-call-deployed/call", key=key)

    def transcribing():  # the worker that has decoded the recording (its PCM files) and not yet transcribed it
        busy = [w for w in ("w1", "w2") if any(stack.tmpdir(w).glob("callqa-*/pcm/*"))]
        return busy[0] if busy and "transcribed" not in stack.store.stages(call_id) else None

    victim = wait_for(transcribing, 300, "the call's transcription to start", every=0.05)
    time.sleep(0.2)  # decoded: speech recognition under way
    stack.kill(victim)
    killed_at = datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as the results DB stores times
    record = stack.store.get(call_id)
    assert record.state == "processing" and record.attempts == 1
    assert "transcribed" not in stack.store.stages(call_id), "killed while transcribing"
    with get_client(sync_client=True) as client:
        assert not client.read_flow_run(run.id).state.is_completed()

    store = ResultsStore(stack.database_url, lease=timedelta(minutes=LEASE_MINUTES))
    wait_for(lambda: store.needs_processing(call_id, record.etag), 120, "the killed worker's lease to lapse")
    survivor = _finish(stack, [_start("callqa-batch-deployed/batch")])
    [table] = _batch_tables(survivor)
    assert [r["status"] for r in table if r["call"] == call_id] == ["done"], table
    record = stack.store.get(call_id)
    assert (record.state, record.attempts) == ("done", 2), "finished once, by the second attempt"
    stages = stack.store.stages(call_id, record.etag)
    assert set(stages) == {"transcribed", "analysed", "redacted"}, stages
    assert all(done > killed_at for _, done in stages.values()), "every stage done after the kill"
    for result in (f"transcripts/{call_id}.json", f"redacted/transcripts/{call_id}.json",
                   f"redacted/audio/{call_id}.wav", f"metrics/{call_id}.json"):
        assert stack.s3.stat_object(stack.bucket, result).size > 0, result
    store.engine.dispose()
