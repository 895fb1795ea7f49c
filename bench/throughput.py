"""Throughput and peak memory per stage and for the whole pipeline, each configuration in a fresh process.

The parent starts one worker process per (stage, calls, concurrency) and samples the resident memory of
the worker and all its descendants (ffmpeg decoders, Prefect's ephemeral API server) every 50 ms:
`peak_tree_mb` is the highest sum of their proportional set sizes (PSS, /proc/PID/smaps_rollup: pages shared
between processes counted once in total) seen, at least the worker's own peak; `peak_self_mb` is the
worker's own RSS high-water mark (VmHWM). The Ceph S3 daemons are not in the tree (started once, outside). Model loading
happens before the clock starts and is reported apart (`load_s`). Throughput = audio seconds / wall seconds
of the timed part. Concurrency c = c threads sharing one loaded model, as the Prefect batch flow does.

Stages:
  decode      ffmpeg decode of every call to 16 kHz float (infra.audio.iter_chunks, 300 s chunks)
  transcribe  faster-whisper base int8 via transcribe_conversation (stereo: each channel; no diarization)
  diarize     pyannote on the mono mixdown, 2 speakers (decode not timed)
  score       scorecard (shipped form; e5 loads only if the form has `similar` rules, the shipped ones have
              none) + sentiment on the stored transcripts
  compliance  PII find + transcript redaction + audio redaction (tone) + policy alerts
  pipeline    flows.run_batch against the real Ceph S3 server (demo/s3server.py): download, decode,
              transcription (+ diarization for mono), results, redacted audio, scoring, compliance
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ("decode", "transcribe", "diarize", "score", "compliance", "pipeline")


@dataclass(frozen=True)
class Job:
    stage: str
    files: tuple[str, ...]
    concurrency: int
    transcripts: str  # folder: written by transcribe, read by score/compliance
    s3: dict | None = None  # endpoint, access_key, secret_key (pipeline stage)
    label: str = ""


def _durations(files) -> list[float]:
    from infra.audio import inspect_recording

    return [inspect_recording(Path(f)).duration for f in files]


def _call_for(path: Path, transcript=None):
    from pipeline.metadata import CallMetadata, build_call
    from infra.storage import RecordingRef

    return build_call(RecordingRef(path.name, "bench", 1, path.stem), CallMetadata(direction="inbound", language="en"))


def _pool(fn, items, c: int) -> list:
    with ThreadPoolExecutor(max_workers=c) as ex:
        return list(ex.map(fn, items))


def run_job(job: Job) -> dict:
    files = [Path(f) for f in job.files]
    audio_s = sum(_durations(files))
    tdir = Path(job.transcripts)
    t0 = time.perf_counter()
    if job.stage == "decode":
        from infra.audio import iter_chunks

        load_s = 0.0
        work = lambda p: sum(len(c) for _, c in iter_chunks(p, 300.0))  # noqa: E731
    elif job.stage == "transcribe":
        from infra.audio import inspect_recording
        from pipeline.conversation import transcribe_conversation
        from transcribe.registry import build_transcriber

        model = build_transcriber("faster-whisper", "base", "cpu")
        load_s = time.perf_counter() - t0
        tdir.mkdir(parents=True, exist_ok=True)

        def work(p):
            t = transcribe_conversation(model, p, _call_for(p), inspect_recording(p))
            (tdir / f"{p.stem}.json").write_text(t.to_json())
    elif job.stage == "diarize":
        from infra.audio import load_audio
        from transcribe.diarize import PyannoteDiarizer

        diarizer = PyannoteDiarizer(device="cpu")
        load_s = time.perf_counter() - t0
        audio = {p: load_audio(p) for p in files}  # decode is its own stage
        work = lambda p: diarizer.diarize(audio[p], num_speakers=2)  # noqa: E731
    elif job.stage in ("score", "compliance"):
        from core.metrics import conversation_metrics
        from core.models import Transcript
        from scoring.sentiment import LexiconSentiment, sentiment_summary

        transcripts = {p: Transcript.from_json((tdir / f"{p.stem}.json").read_text()) for p in files}
        sentiment = LexiconSentiment()
        if job.stage == "score":
            from scoring.review import Reviewer
            from scoring.similarity import E5SimilarityModel

            reviewer = Reviewer(similarity=E5SimilarityModel())
            load_s = time.perf_counter() - t0
            work = lambda p: reviewer.review(_call_for(p), transcripts[p], conversation_metrics(transcripts[p]))  # noqa: E731
        else:
            import tempfile

            from compliance.alerts import default_policy_path, evaluate_policy, load_policy
            from compliance.pii import analyze
            from compliance.redact import find_pii, redact_audio, redact_transcript

            policy = load_policy(default_policy_path())
            for lang, text in (("en", "warm up John Smith in London"),):  # the calls are English
                analyze(text, lang)  # NER models load on first use: keep that out of the timed part
            load_s = time.perf_counter() - t0
            out = Path(tempfile.mkdtemp(prefix="callqa-redact-"))

            def work(p):
                t = transcripts[p]
                spans = find_pii(t)
                redact_transcript(t, spans)
                redact_audio(p, out / p.name, [(s.start, s.end) for s in spans], mode="tone")
                evaluate_policy(policy, t, conversation_metrics(t), sentiment=sentiment_summary(t, sentiment),
                                call=_call_for(p))
    elif job.stage == "pipeline":
        return run_pipeline(job, files, audio_s)
    else:
        raise ValueError(f"unknown stage {job.stage!r}; choose from {STAGES}")
    t1 = time.perf_counter()
    _pool(work, files, job.concurrency)
    wall = time.perf_counter() - t1
    return _result(job, len(files), audio_s, wall, load_s)


def _result(job: Job, n: int, audio_s: float, wall: float, load_s: float, **extra) -> dict:
    return {"stage": job.stage, "label": job.label, "calls": n, "concurrency": job.concurrency,
            "audio_s": round(audio_s, 1), "wall_s": round(wall, 2), "audio_s_per_s": round(audio_s / wall, 2),
            "load_s": round(load_s, 2),
            "peak_self_mb": _vm_hwm_mb(), **extra}


def _vm_hwm_mb() -> int:
    """The worker's own peak RSS. Not ru_maxrss: on Linux that survives exec, so it would report the
    parent's size at fork time when that was larger."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_pipeline(job: Job, files: list[Path], audio_s: float) -> dict:
    import uuid

    from minio import Minio

    import flows
    from pipeline.config import PipelineConfig, S3Settings

    s3 = job.s3
    client = Minio(s3["endpoint"], access_key=s3["access_key"], secret_key=s3["secret_key"], secure=False)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    client.make_bucket(bucket)
    for p in files:  # uploads are not timed
        client.fput_object(bucket, f"recordings/{p.name}", str(p))
        client.put_object(bucket, f"recordings/{p.stem}.json",
                          *_bytes(b'{"direction": "inbound", "language": "en"}'))
    db = Path(job.transcripts) / f"{bucket}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    cfg = PipelineConfig(s3=S3Settings(endpoint=s3["endpoint"], access_key=s3["access_key"],
                                       secret_key=s3["secret_key"], bucket=bucket, prefix="recordings/"),
                         database_url=f"sqlite:///{db}", concurrency=job.concurrency)
    empty = cfg.model_copy(update={"s3": cfg.s3.model_copy(update={"prefix": "nothing-here/"})})
    t0 = time.perf_counter()
    flows.run_batch(empty)  # starts Prefect's ephemeral server, discovers nothing
    flows._transcriber(cfg), flows._diarizer(cfg), flows._reviewer(cfg), flows._policy(cfg)  # models, once
    from compliance.pii import analyze

    for lang, text in (("en", "warm up John Smith in London"),):  # the calls are English
        analyze(text, lang)  # NER models load on first use, once per process
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = flows.run_batch(cfg)
    wall = time.perf_counter() - t1
    if summary.count("done") != len(files):
        raise RuntimeError(f"pipeline: {summary.count('done')} of {len(files)} calls done: "
                           f"{[(o.call_id, o.status, o.code) for o in summary.outcomes if o.status != 'done']}")
    return _result(job, len(files), audio_s, wall, load_s, includes="prefect+s3+all stages")


def _bytes(b: bytes):
    import io

    return io.BytesIO(b), len(b)


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split between their users, so a forked child or a
    shared library is not counted twice); 0 for a process that is gone or a zombie (no memory left)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def measure(job: Job, *, timeout: float | None = None) -> dict:
    """Run `job` in a fresh worker process; add the peak PSS of its whole process tree."""
    import psutil

    import tempfile

    if not Path("/proc/self/smaps_rollup").is_file():
        raise RuntimeError("no /proc/self/smaps_rollup: the memory figures need Linux 4.14 or later")
    out_f, err_f = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # files: a full pipe would block
    proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(asdict(job))],
                            stdout=out_f, stderr=err_f, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    root, peak, t0 = psutil.Process(proc.pid), 0, time.monotonic()
    while proc.poll() is None:
        try:
            pids = [proc.pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.Error:
            pids = [proc.pid]
        peak = max(peak, sum(_pss(pid) for pid in pids))
        if timeout and time.monotonic() - t0 > timeout:
            proc.kill()
            raise TimeoutError(f"{job.stage} ({job.label}) ran past {timeout} s")
        time.sleep(0.05)
    proc.wait()
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise RuntimeError(f"worker {job.stage} ({job.label}) failed with {proc.returncode}:\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    # sampling can miss a peak shorter than 50 ms; the worker's own high-water mark is exact
    res["peak_tree_mb"] = max(round(peak / 2**20), res["peak_self_mb"])
    return res


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        d = json.loads(sys.argv[2])
        job = Job(**{**d, "files": tuple(d["files"])})
        print(json.dumps(run_job(job)))
        return
    raise SystemExit("internal worker; run the benchmarks with: python bench/run.py [--quick]")


if __name__ == "__main__":
    main()
