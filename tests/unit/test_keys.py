"""Object keys that would escape their prefix are quarantined (E111) under an opaque id, never retried as
transient; two recordings with one stem keep distinct ids; report links survive '#' in a call id."""
from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import UnsafeKeyError
from infra.storage import LocalFolderSource, RecordingRef, _pair_recordings, unsafe_key
from infra.store import ResultsStore
from pipeline.process import process_recording
from reports.data import CallInfo


@pytest.mark.parametrize("key", ["recordings/../etc/x.wav", "../x.wav", "recordings/a/../../b.wav", "/abs.wav",
                                 "recordings/a\\b.wav", "recordings/a\x00.wav"])
def test_unsafe_keys_get_an_opaque_id(key):
    assert unsafe_key(key)
    [ref] = _pair_recordings([(key, "e", 1)], "recordings/")
    assert ref.unsafe and ref.call_id.startswith("unsafe-") and ".." not in ref.call_id


def test_two_recordings_with_one_stem_keep_distinct_ids():
    refs = _pair_recordings([("recordings/dup.wav", "e1", 1), ("recordings/dup.flac", "e2", 1),
                             ("recordings/dup.json", "e3", 1), ("recordings/solo.wav", "e4", 1)], "recordings/")
    assert sorted(r.call_id for r in refs) == ["dup~flac", "dup~wav", "solo"]
    assert all(r.sidecar_key == "recordings/dup.json" for r in refs if r.call_id.startswith("dup"))


def test_unsafe_key_is_quarantined_not_retried(tmp_path):
    src = LocalFolderSource(tmp_path, "")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    [ref] = _pair_recordings([("../outside.wav", "e", 10)], "")
    outcome = process_recording(ref, src, store, transcriber=None)  # never reaches the transcriber
    assert (outcome.status, outcome.code) == ("quarantined", "E111")
    assert store.get(ref.call_id).state == "quarantined"
    assert not (tmp_path.parent / "outside.json").exists()
    with pytest.raises(UnsafeKeyError):
        src.write("../escape.json", b"{}")


def test_report_links_quote_the_call_id():
    info = CallInfo("2026/a#b?c", "a", "q", "inbound", "en", 1.0, datetime(2026, 1, 1), True)
    assert info.page == "calls/2026/a#b?c.html" and info.href == "calls/2026/a%23b%3Fc.html"


def test_local_results_and_the_db_are_private(tmp_path):
    import stat

    src = LocalFolderSource(tmp_path / "root", "")
    src.write("transcripts/a/b.json", b"{}")
    f = tmp_path / "root" / "transcripts" / "a" / "b.json"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    ResultsStore(f"sqlite:///{tmp_path}/r.db")
    assert stat.S_IMODE((tmp_path / "r.db").stat().st_mode) == 0o600
