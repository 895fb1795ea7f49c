"""process_recording / discover with a fake transcriber over a local folder: the state machine and the
bad-input handling, without models or servers (those are in tests/integration)."""
import json
import shutil

import pytest

from demo.badfiles import write_bad_recordings
from core.errors import StorageError
from pipeline.process import discover, process_recording
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from transcribe.base import TranscribeOptions

from .fakes import FakeTranscriber, write_tone_wav


@pytest.fixture
def folder(tmp_path):
    rec = tmp_path / "src" / "recordings"
    write_bad_recordings(rec)
    write_tone_wav(rec / "good.wav", 4.0)
    (rec / "good.json").write_text('{"agent": "a-1", "queue": "billing", "language": "zh"}')
    write_tone_wav(rec / "typo.wav", 2.0)
    (rec / "typo.json").write_text('{"agnet": "a-1"}')
    return tmp_path


def _run(src, store, fake):
    return {o.call_id: o for o in (process_recording(r, src, store, fake) for r in discover(src, store))}


def test_batch_quarantines_bad_input_and_goes_on(folder):
    src = LocalFolderSource(folder / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    before = {p.name: p.read_bytes() for p in (folder / "src" / "recordings").iterdir()}
    out = _run(src, store, FakeTranscriber())
    assert out["good"].status == "done"
    expected = {"empty": "E101", "corrupt": "E103", "meeting-notes": "E102", "silent": "E104",
                "header-only": "E101", "typo": "E110"}
    assert {k: (o.status, o.code) for k, o in out.items() if k != "good"} == \
        {k: ("quarantined", c) for k, c in expected.items()}
    for call_id, code in expected.items():
        record = json.loads(src.read(f"quarantine/{call_id}.json"))
        assert record["code"] == code and record["reason"]
        assert store.get(call_id).state == "quarantined"
    t = json.loads(src.read("transcripts/good.json"))
    assert t["language"] == "zh", "language from the sidecar is forced"
    assert t["segments"][0]["text"] == "繁体字 chunk", "Chinese normalised to Simplified"
    after = {p.name: p.read_bytes() for p in (folder / "src" / "recordings").iterdir()}
    assert after == before, "recordings are never modified or removed"
    # Re-run: nothing is processed twice, quarantined files wait for a new version.
    assert discover(src, store) == []
    assert _run(src, store, FakeTranscriber()) == {}


def test_replaced_recording_is_processed_again(folder):
    src = LocalFolderSource(folder / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    _run(src, store, FakeTranscriber())
    shutil.copyfile(folder / "src" / "recordings" / "good.wav", folder / "src" / "recordings" / "silent.wav")
    assert [r.call_id for r in discover(src, store)] == ["silent"]
    assert _run(src, store, FakeTranscriber())["silent"].status == "done"


class _FlakySource(LocalFolderSource):
    def __init__(self, *a, fail_writes: bool):
        super().__init__(*a)
        self.fail_writes = fail_writes

    def write(self, key, data, content_type="application/json"):
        if self.fail_writes and key.startswith("transcripts/"):
            raise StorageError("connection refused")
        super().write(key, data, content_type)


def test_storage_outage_marks_failed_and_next_run_finishes(folder):
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    flaky = _FlakySource(folder / "src", "recordings/", fail_writes=True)
    ref = next(r for r in flaky.list_recordings() if r.call_id == "good")
    with pytest.raises(StorageError):
        process_recording(ref, flaky, store, FakeTranscriber())
    assert store.get("good").state == "failed" and store.get("good").error_code == "E201"
    healthy = LocalFolderSource(folder / "src", "recordings/")
    assert "good" in [r.call_id for r in discover(healthy, store)]
    assert process_recording(ref, healthy, store, FakeTranscriber()).status == "done"
    assert process_recording(ref, healthy, store, FakeTranscriber()).status == "skipped"
    assert store.get("good").attempts == 2


def test_long_recording_is_transcribed_in_bounded_chunks(tmp_path):
    wav = write_tone_wav(tmp_path / "long.wav", 600.0, quiet_every=9.0)
    src = LocalFolderSource(tmp_path, "")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    fake = FakeTranscriber()
    ref = src.list_recordings()[0]
    out = process_recording(ref, src, store, fake, options=TranscribeOptions(chunk_seconds=120.0))
    assert out.status == "done" and abs(out.audio_seconds - 600.0) < 0.1
    assert len(fake.chunks) >= 5 and max(fake.chunks) <= 120 * 16000
    t = json.loads(src.read("transcripts/long.json"))
    starts = [s["start"] for s in t["segments"]]
    assert starts == sorted(starts) and starts[-1] > 480, "chunk offsets applied"


def test_stereo_call_is_split_by_channel_with_roles_metrics_and_exports(tmp_path):
    (tmp_path / "src").mkdir()
    write_tone_wav(tmp_path / "src" / "st.wav", 6.0, channels=2)
    (tmp_path / "src" / "st.json").write_text('{"attributes": {"agent_channel": 1}}')
    src = LocalFolderSource(tmp_path / "src", "")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    fake = FakeTranscriber()
    out = process_recording(src.list_recordings()[0], src, store, fake)
    assert out.status == "done" and len(fake.chunks) == 2, "one pass per channel"
    t = json.loads(src.read("transcripts/st.json"))
    assert {(s["speaker"], s["channel"], s["role"]) for s in t["speakers"]} == \
        {("S0", 0, "customer"), ("S1", 1, "agent")}
    assert all(w["role"] in ("agent", "customer") for s in t["segments"] for w in s["words"])
    metrics = json.loads(src.read("metrics/st.json"))
    assert metrics["call_id"] == "st"
    assert src.read("transcripts/st.rttm").decode().startswith("SPEAKER st 1 ")
    assert "-->" in src.read("transcripts/st.vtt").decode() and "-->" in src.read("transcripts/st.srt").decode()


class _BrokenModel(FakeTranscriber):
    def transcribe_chunk(self, *a, **k):
        from core.errors import ModelError

        raise ModelError("weights missing")


def test_model_problem_fails_the_call_for_retry_instead_of_quarantining_it(folder):
    from core.errors import ModelError

    src = LocalFolderSource(folder / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    ref = next(r for r in src.list_recordings() if r.call_id == "good")
    with pytest.raises(ModelError):
        process_recording(ref, src, store, _BrokenModel())
    assert store.get("good").state == "failed" and src.read("quarantine/good.json") is None
    assert process_recording(ref, src, store, FakeTranscriber()).status == "done"


def test_full_disk_during_a_call_is_e202_and_retried(folder, monkeypatch):
    """The worker's disk fills while a recording is copied to its temporary folder: the call is recorded as
    E202 (transient, not quarantined) and is processed on the next run once there is space."""
    import errno

    from core.errors import DiskFullError

    src = LocalFolderSource(folder / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    good = next(r for r in discover(src, store) if r.key.endswith("good.wav"))
    real_download = LocalFolderSource.download

    def full(self, ref, dest):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalFolderSource, "download", full)
    with pytest.raises(DiskFullError):
        process_recording(good, src, store, FakeTranscriber())
    rec = store.get("good")
    assert (rec.state, rec.error_code) == ("failed", "E202")
    monkeypatch.setattr(LocalFolderSource, "download", real_download)
    again = next(r for r in discover(src, store) if r.key.endswith("good.wav"))
    assert process_recording(again, src, store, FakeTranscriber()).status == "done"


def test_orphan_sidecar_leaves_a_trace_until_its_recording_arrives(folder):
    """A `<stem>.json` without a recording is listed in quarantine/orphan-sidecars.json (keys only there,
    count only in logs); once the recording arrives the list is emptied and the call is processed."""
    from core.keys import ORPHAN_SIDECARS_KEY

    rec = folder / "src" / "recordings"
    (rec / "late.json").write_text('{"agent": "a-2", "queue": "billing"}')
    src = LocalFolderSource(folder / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{folder}/r.db")
    assert all(r.call_id != "late" for r in discover(src, store))
    record = json.loads(src.read(ORPHAN_SIDECARS_KEY))
    assert record["sidecars"] == ["recordings/late.json"] and record["count"] == 1
    write_tone_wav(rec / "late.wav", 2.0)
    late = [r for r in discover(src, store) if r.call_id == "late"]
    assert late and late[0].sidecar_key == "recordings/late.json"
    assert json.loads(src.read(ORPHAN_SIDECARS_KEY))["sidecars"] == []
