"""Fault injection on real runs: `callqa run` (real Prefect, real Whisper weights) on a local folder, its
process SIGKILLed right after a stage of a call is recorded (transcribed, then analysed, then redacted, one
resumed run after another); each run after one lease must do exactly the missing stages (a stored transcript
is never transcribed again), leave no temporary folder behind, and a last run must find nothing to do.

The kill comes from a small wrapper around the CLI that replaces `ResultsStore.mark_stage` in the child
process only: the product has no test hook."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LEASE_MINUTES = 0.05  # 3 s: the clean run may take the killed worker's call over after that
KILLER = """
import os, signal, sys
from infra.store import ResultsStore

after = os.environ["CALLQA_TEST_KILL_AFTER"]
record = ResultsStore.mark_stage

def record_then_die(self, call_id, stage, etag, version):
    record(self, call_id, stage, etag, version)
    if stage == after:
        os.kill(os.getpid(), signal.SIGKILL)

ResultsStore.mark_stage = record_then_die
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run in its own process group, output to files: a SIGKILLed run leaves its children (Prefect's
    temporary server) holding pipes, so they are killed with the group once the run itself has ended."""
    out, err = (Path(env["TMPDIR"]).parent / f"run-{time.monotonic_ns()}.{n}" for n in ("out", "err"))
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=o, stderr=e,
                             start_new_session=True)
        try:
            p.wait(timeout)
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(), err.read_text())


def _stages(db: Path) -> dict[str, tuple[str, str]]:
    with sa.create_engine(f"sqlite:///{db}").connect() as c:
        return {stage: (etag, str(done)) for stage, etag, done in
                c.execute(sa.text("SELECT stage, etag, done_at FROM call_stages"))}


def _state(db: Path) -> str:
    with sa.create_engine(f"sqlite:///{db}").connect() as c:
        return c.execute(sa.text("SELECT state FROM calls")).scalar_one()


def test_sigkill_after_each_stage_resumes_exactly_the_missing_stages(sample_calls, tmp_path):
    """One call, killed three times in a row: after `transcribed`, then (resumed) after `analysed`, then after
    `redacted`; each resume after the lease runs only what is missing (the stored transcript is never
    transcribed again), the fourth run finishes the call and a fifth finds nothing to do."""
    folder, calls = sample_calls
    call = min((c for c in calls if c.channels == 2 and c.language == "en"), key=lambda c: c.duration)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(call.audio_path, inbox / "call.wav")
    shutil.copyfile(call.audio_path.with_suffix(".json"), inbox / "call.json")
    db, temp = tmp_path / "r.db", tmp_path / "tmp"
    temp.mkdir()
    (tmp_path / "killer.py").write_text(KILLER)
    env = {**os.environ, "TMPDIR": str(temp), "CALLQA_LEASE_MINUTES": str(LEASE_MINUTES)}
    run = ["run", "--local", str(inbox), "--db", f"sqlite:///{db}"]

    transcribed = None
    for stage in ("transcribed", "analysed", "redacted"):
        killed = _run([str(tmp_path / "killer.py"), *run], {**env, "CALLQA_TEST_KILL_AFTER": stage})
        assert killed.returncode == -9, (stage, killed.returncode, killed.stderr[-2000:])
        stages = _stages(db)
        assert stage in stages and _state(db) == "processing", f"killed after {stage} was recorded, before done"
        transcribed = transcribed or stages["transcribed"]
        assert stages["transcribed"] == transcribed, f"resumed before {stage}: not transcribed again"
        time.sleep(LEASE_MINUTES * 60 + 1)  # the killed worker's lease runs out

    clean = _run(["-m", "pipeline.cli", *run], env)
    assert clean.returncode == 0, clean.stderr[-3000:]
    after = _stages(db)
    assert set(after) == {"transcribed", "analysed", "redacted", "reported"} and _state(db) == "done"
    assert len({etag for etag, _ in after.values()}) == 1, "every stage of the same version"
    assert after["transcribed"] == transcribed, "the stored transcript was not transcribed again"
    results = inbox if (inbox / "scorecards").exists() else next(p for p in tmp_path.rglob("scorecards")).parent
    assert (results / "scorecards" / "call.json").exists() and (results / "redacted" / "audio" / "call.wav").exists()
    redacted = json.loads((results / "redacted" / "transcripts" / "call.json").read_text())
    assert redacted["segments"], "the redacted transcript is complete"
    assert not list(temp.glob("callqa-*")), "the killed workers' temporary folders were swept"

    again = _run(["-m", "pipeline.cli", *run], env)  # a finished call is never processed again
    assert again.returncode == 0 and _stages(db) == after, "a fifth run does nothing"


def test_disk_full_during_a_batch_is_retried_and_leaves_nothing_behind(sample_calls, tmp_path):
    """The worker's temporary space is a 256 KiB tmpfs (a private mount namespace: `unshare -m`, gone with the
    process): the recording does not fit, so the call fails with E202 (retried, never quarantined) and leaves
    no partial file; the next run with room finishes every stage."""
    folder, calls = sample_calls
    call = min((c for c in calls if c.channels == 2 and c.duration >= 8), key=lambda c: c.duration)
    assert call.audio_path.stat().st_size > 256 * 1024
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(call.audio_path, inbox / "call.wav")
    db, temp = tmp_path / "r.db", tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    run = ["run", "--local", str(inbox), "--db", f"sqlite:///{db}"]
    full = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=256k tmpfs "$TMPDIR" && exec '
                           f'"{sys.executable}" -m pipeline.cli "$@"', "sh", *run],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert full.returncode != 0 and "E202" in full.stdout + full.stderr, (full.stdout + full.stderr)[-3000:]
    with sa.create_engine(f"sqlite:///{db}").connect() as c:
        state, code = c.execute(sa.text("SELECT state, error_code FROM calls")).one()
    assert (state, code) == ("failed", "E202"), "retried on the next run, not quarantined"
    assert not list(temp.iterdir()), "nothing written outside the full disk, nothing left"
    assert not list(inbox.rglob("*.partial"))

    clean = _run(["-m", "pipeline.cli", *run], env)
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert set(_stages(db)) == {"transcribed", "analysed", "redacted", "reported"} and _state(db) == "done"
    assert not list(temp.glob("callqa-*"))
