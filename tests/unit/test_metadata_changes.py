"""Metadata that changes is an event: a sidecar that arrives after its recording, or a malformed sidecar
that is fixed, makes a new version of the call; only the stages that read metadata run again (no second
transcription), and a fixed sidecar releases its quarantine."""
from __future__ import annotations

import json
import os
import time

from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser
from pipeline.process import discover, process_recording

from .fakes import FakeTranscriber, write_tone_wav


def _batch(src, store, fake, analyser):
    return {o.call_id: o for o in (process_recording(r, src, store, fake, analyser=analyser, redact_audio=False)
                                   for r in discover(src, store))}


def _touch_later(path):
    t = time.time() + 5
    os.utime(path, (t, t))  # local etags are size + mtime: make the change visible whatever the clock


def test_late_sidecar_is_applied_without_transcribing_again(tmp_path):
    rec = tmp_path / "src"
    rec.mkdir()
    write_tone_wav(rec / "call.wav", 3.0)
    src, store, fake = LocalFolderSource(rec, ""), ResultsStore(f"sqlite:///{tmp_path}/r.db"), FakeTranscriber()
    analyser = CallAnalyser(store, src)  # no form, no policy: the analysis stage alone
    assert _batch(src, store, fake, analyser)["call"].status == "done"
    chunks = len(fake.chunks)
    assert store.get("call").agent is None
    assert _batch(src, store, fake, analyser) == {}, "nothing new"

    (rec / "call.json").write_text(json.dumps({"agent": "a-7", "queue": "billing"}))
    out = _batch(src, store, fake, analyser)
    assert out["call"].status == "done" and len(fake.chunks) == chunks, "not transcribed again"
    assert (store.get("call").agent, store.get("call").queue) == ("a-7", "billing")
    assert _batch(src, store, fake, analyser) == {}


def test_fixed_sidecar_releases_the_quarantine(tmp_path):
    rec = tmp_path / "src"
    rec.mkdir()
    write_tone_wav(rec / "call.wav", 3.0)
    (rec / "call.json").write_text('{"agnet": "a-1"}')
    src, store, fake = LocalFolderSource(rec, ""), ResultsStore(f"sqlite:///{tmp_path}/r.db"), FakeTranscriber()
    analyser = CallAnalyser(store, src)
    assert _batch(src, store, fake, analyser)["call"].code == "E110"
    assert _batch(src, store, fake, analyser) == {}, "quarantined until something changes"
    (rec / "call.json").write_text('{"agent": "a-1"}')
    _touch_later(rec / "call.json")
    assert _batch(src, store, fake, analyser)["call"].status == "done"
    assert store.get("call").state == "done" and store.get("call").agent == "a-1"
