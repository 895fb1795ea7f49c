"""`callqa demo`: the whole spine on the embedded default.

A real S3 server (Ceph RGW on loopback), synthesised English and Mandarin two-speaker calls plus broken
recordings uploaded to it, the Prefect batch flow in ephemeral mode, SQLite, and the packaged model.
Runs the batch twice to show that a re-run processes nothing twice; the reports are rebuilt after each
batch into `<workdir>/reports/`.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from demo.badfiles import write_bad_recordings

BUCKET = "calls"  # inputs (the main user)
UNREDACTED_BUCKET, REDACTED_BUCKET = "calls-unredacted", "calls-redacted"  # each owned by a user of its own
PREFIX = "recordings/"


def upload_folder(client, bucket: str, folder: Path, prefix: str) -> int:
    n = 0
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.endswith(".turns.json"):
            client.fput_object(bucket, prefix + f.relative_to(folder).as_posix(), str(f))
            n += 1
    return n


def _workspace(cfg, *, keep_open: bool) -> bool:
    from demo.workspace import DEMO_PASSWORD, add_demo_users, serve
    from infra.store import ResultsStore

    store = ResultsStore(cfg.database_url)
    users = add_demo_users(store)
    print(f"[demo] workspace users (password {DEMO_PASSWORD!r}, demo only): " +
          ", ".join(f"{name} ({role}{' ' + agent if agent else ''})" for name, role, agent in users))
    return serve(store, cfg.open_source(), keep_open=keep_open)


def prepare_samples(folder: Path) -> None:
    from demo.synth import write_risk_calls, write_sample_calls

    write_sample_calls(folder / "good")
    write_risk_calls(folder / "risk")
    write_bad_recordings(folder / "bad")
    # A good recording with a misleading name: WAV content uploaded as .mp3 (decoded by content, warned).
    first = sorted((folder / "good").glob("*.wav"))[0]
    shutil.copyfile(first, folder / "bad" / "mislabeled-wav.mp3")


def _show_call(source, call_id: str) -> None:
    """One line per call: language, who is who, and a few conversation metrics (synthetic calls only)."""
    t, m, card = (json.loads(source.read(f"{kind}/{call_id}.json") or b"{}")
                  for kind in ("transcripts", "metrics", "scorecards"))
    who = ", ".join(f"{s['speaker']}={s['role']}({s['confidence']:.1f},{s['rule']})" for s in t["speakers"])
    failed = [a["question_id"] for a in card["answers"] if a["answer"] == "fail"]
    print(f"[demo] {call_id:28} {t['language']} | {who} | agent talk {m['agent']['talk_ratio'] or 0:.0%}, "
          f"overtalk {m['overtalk_seconds']:.1f}s | {card['form_id']}: {card['total']}"
          f"{' AUTO-FAIL' if card['auto_failed'] else ''}, failed {failed}, customer sentiment "
          f"{card['sentiment']['outcome']}")


def run_demo(workdir: Path, *, backend: str = "faster-whisper", keep_server: bool = False,
             serve: bool | None = None) -> int:
    """The demo end to end; then the workspace on its results (`serve`: keep it open until Ctrl-C; None: only
    when run from a terminal; False: do not start it)."""
    from flows import run_batch
    from pipeline.config import PipelineConfig, S3AreaSettings, S3Settings
    from demo.s3server import LocalS3Server

    shutil.rmtree(workdir / "s3", ignore_errors=True)
    (workdir / "callqa.db").unlink(missing_ok=True)
    samples = workdir / "samples"
    if not all((samples / d).is_dir() for d in ("good", "risk", "bad")):
        print(f"[demo] synthesising sample calls into {samples}")
        prepare_samples(samples)
    server = LocalS3Server()
    print("[demo] starting the local S3 server (Ceph RGW on loopback)")
    ep = server.start(workdir / "s3")
    try:
        from minio import Minio

        client = Minio(ep.endpoint, access_key=ep.access_key, secret_key=ep.secret_key, secure=False)
        client.make_bucket(BUCKET)
        n = upload_folder(client, BUCKET, samples, PREFIX)
        print(f"[demo] uploaded {n} objects to s3://{BUCKET}/{PREFIX} at http://{ep.endpoint}")
        areas = {}
        for kind, bucket in (("unredacted", UNREDACTED_BUCKET), ("redacted", REDACTED_BUCKET)):
            owner = server.add_user(f"callqa-{kind}")
            Minio(owner.endpoint, access_key=owner.access_key, secret_key=owner.secret_key,
                  secure=False).make_bucket(bucket)
            areas[kind] = S3AreaSettings(bucket=bucket, access_key=owner.access_key, secret_key=owner.secret_key)
        print(f"[demo] unredacted transcripts go to s3://{UNREDACTED_BUCKET}, redacted results and reports to "
              f"s3://{REDACTED_BUCKET}, each under an S3 user of its own")
        cfg = PipelineConfig(
            s3=S3Settings(endpoint=ep.endpoint, access_key=ep.access_key, secret_key=ep.secret_key,
                          bucket=BUCKET, prefix=PREFIX, **areas),
            database_url=f"sqlite:///{workdir / 'callqa.db'}", backend=backend, reports_dir=workdir / "reports")
        from pipeline.summary import print_summary

        print("[demo] batch run 1")
        first = run_batch(cfg)
        print_summary(first)
        print("[demo] batch run 2 (nothing new: every call is skipped or already settled)")
        second = run_batch(cfg)
        print_summary(second)
        source = cfg.open_source()
        for o in first.outcomes:
            if o.status == "done" and o.call_id.startswith(("good/", "risk/")):
                _show_call(source, o.call_id)
        from infra.store import ResultsStore

        by_call: dict[str, list[str]] = {}
        for a in ResultsStore(cfg.database_url).alerts():
            by_call.setdefault(a["call_id"], []).append(a["rule_id"])
        for call_id, rules in sorted(by_call.items()):
            print(f"[demo] alerts {call_id:28} {', '.join(rules)}")
        print(f"[demo] results DB: {workdir / 'callqa.db'}; Prefect home: {workdir / 'prefect'}")
        print(f"[demo] reports: {workdir / 'reports' / 'index.html'} (also under reports/ in s3://{REDACTED_BUCKET}); "
              f"scorecards, alerts.html, coaching.html, dashboard.html")
        ok = first.count("done") > 0 and first.count("failed") == 0 and second.count("done") == 0
        if serve is not False:
            ok = _workspace(cfg, keep_open=sys.stdin.isatty() if serve is None else serve) and ok
        return 0 if ok else 1
    finally:
        if keep_server:
            print(f"[demo] S3 server left running at {ep.endpoint} (access key {ep.access_key})")
        else:
            server.stop()
