"""Throughput against the number of workers, and where the shared parts saturate (issue 16).

    python bench/scaling_model.py [--text-calls 12] [--worker-rate 11.9] [--call-minutes 6]
                                  [--db-cores 4] [--s3-cores 4] [--prefect-cores 2] [--link-gbit 10]

Measured: three real batch runs (Prefect, ephemeral API) over a real S3 server (single-node Ceph RGW) and a
real PostgreSQL results DB, one call at a time: one synthesised stereo recording in a run of its own (as a
per-call flow run would be), three recordings in one run, then `--text-calls` imported chat logs (the
analysis alone). Every request to each shared part is counted and timed at the client: SQL statements
(SQLAlchemy cursor events), object-store calls (`S3Source` methods, with bytes moved) and Prefect API
requests (httpx). Client-observed time includes the network and the client's own work, so it overstates what
each service spends per call: the saturation points below are lower bounds.

Modelled: n workers, each transcribing `--worker-rate` audio seconds per wall second (default: the whole
pipeline on a stereo call with batched ASR on this 2-core machine, BENCHMARKS.md), on calls of
`--call-minutes`. A worker finishes rate / (60 * minutes) calls a second; each call puts on the results DB
and the Prefect API what a recording in a batch run did, and on the object store the text calls' requests
plus the recordings' bytes and transfer time scaled to the call's length. Utilisation of a part = calls/s x
demand / the part's cores (`--*-cores`); the network link carries the object store's bytes. The fleet's
throughput is n x rate until the first part reaches 100%.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Meter:
    requests: int = 0
    seconds: float = 0.0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float, nbytes: int = 0) -> None:
        with self.lock:
            self.requests, self.seconds, self.bytes = self.requests + 1, self.seconds + seconds, self.bytes + nbytes

    def snapshot(self) -> tuple[int, float, int]:
        with self.lock:
            return self.requests, self.seconds, self.bytes


METERS = {"db": Meter(), "s3": Meter(), "prefect": Meter()}


def instrument() -> None:
    """Count and time every SQL statement, object-store call and Prefect API request from here on."""
    import httpx
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from infra.storage import S3Source

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        METERS["db"].add(time.perf_counter() - conn.info["bench_t0"].pop())

    def timed(name: str, size):
        original = getattr(S3Source, name)

        def wrapper(self, *args, **kwargs):
            t0 = time.perf_counter()
            out = original(self, *args, **kwargs)
            if name == "read_range":  # a generator: time and bytes as it is consumed
                return _metered_chunks(out, t0)
            METERS["s3"].add(time.perf_counter() - t0, size(args, out))
            return out
        setattr(S3Source, name, wrapper)

    def _metered_chunks(chunks, t0):
        n = 0
        for chunk in chunks:
            n += len(chunk)
            yield chunk
        METERS["s3"].add(time.perf_counter() - t0, n)

    timed("download", lambda args, out: Path(out).stat().st_size)
    timed("read", lambda args, out: len(out or b""))
    timed("write", lambda args, out: len(args[1]) if len(args) > 1 else 0)
    for name in ("size", "list_recordings", "refs_under", "inventory", "ref_for", "read_range"):
        timed(name, lambda args, out: 0)

    for cls in (httpx.AsyncClient, httpx.Client):
        original = cls.send
        if getattr(original, "_bench", False):
            continue
        if cls is httpx.AsyncClient:
            async def send(self, request, *args, _orig=original, **kwargs):
                t0 = time.perf_counter()
                try:
                    return await _orig(self, request, *args, **kwargs)
                finally:
                    METERS["prefect"].add(time.perf_counter() - t0)
        else:
            def send(self, request, *args, _orig=original, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _orig(self, request, *args, **kwargs)
                finally:
                    METERS["prefect"].add(time.perf_counter() - t0)
        send._bench = True
        cls.send = send


def _chat_log(call) -> bytes:
    return "\n".join(json.dumps({"role": t["role"], "text": t["text"]}, ensure_ascii=False) for t in call.turns).encode()


def measure(text_calls: int, work: Path) -> dict:
    from demo.s3server import LocalS3Server
    from demo.synth import write_sample_calls
    from tests.integration.pg import PostgresCluster

    from bench.judgement import load_calls
    from pipeline.config import PipelineConfig, S3Settings

    pg = PostgresCluster().start()
    s3 = LocalS3Server()
    try:
        ep = s3.start(work / "ceph")
        db_url = pg.url(pg.create_database("scale"))
        from minio import Minio
        import io

        client = Minio(ep.endpoint, access_key=ep.access_key, secret_key=ep.secret_key, secure=ep.secure)
        bucket = "scale"
        client.make_bucket(bucket)

        def put(key: str, data: bytes) -> None:
            client.put_object(bucket, key, io.BytesIO(data), len(data))

        stereo = sorted((c for c in write_sample_calls(work / "samples") if c.channels == 2), key=lambda c: c.duration)

        def put_recording(call, key: str) -> None:
            put(f"recordings/{key}.wav", call.audio_path.read_bytes())
            put(f"recordings/{key}.json", call.audio_path.with_suffix(".json").read_bytes())

        cfg = PipelineConfig(s3=S3Settings(endpoint=ep.endpoint, access_key=ep.access_key,
                                           secret_key=ep.secret_key, bucket=bucket),
                             database_url=db_url, reports=False, concurrency=1)
        import flows

        instrument()
        parts = {}
        batches = (("single", lambda: put_recording(stereo[0], "one/r0")),  # a run of its own, as a per-call flow
                   ("batch", lambda: [put_recording(c, f"many/r{i}") for i, c in enumerate(stereo[:3])]),
                   ("text", lambda: [put_chat(c) for c in load_calls()[:text_calls]]))

        def put_chat(c) -> None:
            put(f"recordings/chat/{c.id}.jsonl", _chat_log(c))
            put(f"recordings/chat/{c.id}.json", json.dumps(
                {"agent": "a-1", "queue": c.queue, "direction": c.direction, "language": c.language}).encode())

        for part, upload in batches:
            upload()
            before = {k: m.snapshot() for k, m in METERS.items()}
            t0 = time.perf_counter()
            summary = flows.batch_flow(cfg)
            wall = time.perf_counter() - t0
            done = summary.count("done")
            assert done and done == len(summary.outcomes), [(o.call_id, o.status, o.code) for o in summary.outcomes]
            after = {k: m.snapshot() for k, m in METERS.items()}
            parts[part] = {"calls": done, "wall_s": round(wall, 2), "audio_s": round(summary.audio_seconds / done, 1),
                           **{k: {"requests": (after[k][0] - before[k][0]) / done,
                                  "seconds": (after[k][1] - before[k][1]) / done,
                                  "bytes": (after[k][2] - before[k][2]) / done} for k in METERS}}
            print(json.dumps({part: parts[part]}), flush=True)
        return parts
    finally:
        s3.stop()
        pg.stop()


def model(parts: dict, args) -> list[dict]:
    """Per-call demand on each shared part, then utilisation and throughput for each fleet size. Only the
    object store's share grows with the call's length (the recording read, the redacted audio written); the
    results DB and the Prefect API see a call's rows and state changes whatever its length."""
    recording, text = parts["batch"], parts["text"]
    scale = args.call_minutes * 60 / recording["audio_s"]

    def grows(what: str) -> float:
        return text["s3"][what] + max(0.0, recording["s3"][what] - text["s3"][what]) * scale

    cores = {"db": args.db_cores, "s3": args.s3_cores, "prefect": args.prefect_cores}
    per_call = {"db": recording["db"]["seconds"], "s3": grows("seconds"), "prefect": recording["prefect"]["seconds"]}
    link_bytes = grows("bytes")
    calls_per_worker = args.worker_rate / (args.call_minutes * 60)
    saturation = {k: cores[k] / (per_call[k] * calls_per_worker) for k in cores}
    saturation["link"] = args.link_gbit * 1e9 / 8 / (link_bytes * calls_per_worker)
    flow_per_call = cores["prefect"] / (parts["single"]["prefect"]["seconds"] * calls_per_worker)
    print(f"\nper {args.call_minutes:g}-minute call (batch runs): " + ", ".join(
        f"{k} {per_call[k] * 1000:.0f} ms" for k in cores) + f"; object store {link_bytes / 1e6:.1f} MB; "
        f"Prefect as one flow run per call (event-driven): {parts['single']['prefect']['seconds'] * 1000:.0f} ms")
    print("workers that saturate each part: " + ", ".join(f"{k} {v:,.0f}" for k, v in saturation.items())
          + f"; Prefect with a flow run per call: {flow_per_call:,.0f}")
    first = min(saturation, key=saturation.get)
    rows = []
    print(f"\n{'workers':>7} {'audio h/h':>10} {'db %':>6} {'s3 %':>6} {'prefect %':>9} {'link %':>7}")
    for n in args.workers:
        capped = min(n, saturation[first])
        rate = capped * calls_per_worker
        util = {k: 100 * rate * per_call[k] / cores[k] for k in cores}
        util["link"] = 100 * rate * link_bytes / (args.link_gbit * 1e9 / 8)
        rows.append({"workers": n, "audio_hours_per_hour": round(capped * args.worker_rate, 1),
                     **{k: round(v, 1) for k, v in util.items()}})
        print(f"{n:>7} {capped * args.worker_rate:>10,.1f} {util['db']:>6.1f} {util['s3']:>6.1f} "
              f"{util['prefect']:>9.1f} {util['link']:>7.1f}" + ("  <- capped by " + first if n > capped else ""))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text-calls", type=int, default=12)
    ap.add_argument("--worker-rate", type=float, default=11.9, help="audio seconds per wall second per worker")
    ap.add_argument("--call-minutes", type=float, default=6.0)
    ap.add_argument("--db-cores", type=float, default=4)
    ap.add_argument("--s3-cores", type=float, default=4)
    ap.add_argument("--prefect-cores", type=float, default=2)
    ap.add_argument("--link-gbit", type=float, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    ap.add_argument("--measured", type=Path, help="reuse a JSON of measured parts instead of measuring")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from pipeline.config import offline_defaults

    offline_defaults()
    if args.measured:
        parts = json.loads(args.measured.read_text())
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        try:
            parts = measure(args.text_calls, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    rows = model(parts, args)
    if args.json:
        args.json.write_text(json.dumps({"measured": parts, "model": rows, "args": {
            k: v for k, v in vars(args).items() if k not in ("measured", "json")}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
