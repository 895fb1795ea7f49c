"""GPU slots without a server: process_recording holds `transcription_slot()` around speech recognition only
(not the download and decoding, the import of a chat log, a resumed call's stored transcript, or the analysis
and writes); the slot's lease and the limit's create/resize/remove logic; the `callqa deploy` options. The
real Prefect limit across two workers is in tests/integration/test_deployments.py."""
from __future__ import annotations

import pytest

from pipeline.gpu_slots import TRANSCRIPTION_LIMIT, set_transcription_slots, slot_lease_seconds, transcription_slot
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.cli import main
from pipeline.process import process_recording

from .fakes import FakeTranscriber, write_tone_wav


class Slot:
    """A slot factory that records when it is held."""

    def __init__(self):
        self.held, self.taken = False, 0

    def __call__(self):
        return self

    def __enter__(self):
        assert not self.held
        self.held, self.taken = True, self.taken + 1

    def __exit__(self, *exc):
        self.held = False


class SlotCheckingTranscriber(FakeTranscriber):
    def __init__(self, slot: Slot):
        super().__init__()
        self.slot, self.outside = slot, 0

    def language_probabilities(self, audio):
        self.outside += not self.slot.held
        return super().language_probabilities(audio)

    def transcribe_chunk(self, audio, language, **kw):
        self.outside += not self.slot.held
        return super().transcribe_chunk(audio, language, **kw)


class SlotCheckingStore(ResultsStore):
    slot: Slot

    def claim(self, call):
        assert not self.slot.held, "claimed outside the slot"
        return super().claim(call)

    def mark_stage(self, call_id, stage, etag, version):
        assert not self.slot.held, f"{stage} recorded while the slot is held"
        super().mark_stage(call_id, stage, etag, version)


@pytest.fixture
def setup(tmp_path):
    rec = tmp_path / "src" / "recordings"
    rec.mkdir(parents=True)
    write_tone_wav(rec / "tone.wav", 3.0, channels=2)
    (rec / "chat.csv").write_text("role,text\nagent,hello how can I help\ncustomer,my bill is wrong\n")
    slot = Slot()
    store = SlotCheckingStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.slot = slot
    return LocalFolderSource(tmp_path / "src", "recordings/"), store, slot


def test_the_slot_is_held_around_speech_recognition_only(setup):
    source, store, slot = setup
    transcriber = SlotCheckingTranscriber(slot)
    refs = {r.call_id: r for r in source.list_recordings()}
    out = process_recording(refs["tone"], source, store, transcriber, transcription_slot=slot)
    assert out.status == "done" and slot.taken == 1 and not slot.held
    assert transcriber.chunks and transcriber.outside == 0, "every model call inside the slot"
    assert process_recording(refs["chat"], source, store, None, transcription_slot=slot).status == "done"
    assert slot.taken == 1, "an imported chat log needs no slot"


def test_a_resumed_call_with_its_transcript_stored_takes_no_slot(setup):
    source, store, slot = setup
    ref = next(r for r in source.list_recordings() if r.call_id == "tone")
    process_recording(ref, source, store, FakeTranscriber(), transcription_slot=slot)
    store.mark_failed("tone", ref.etag, code="E201", message="storage down", quarantined=False)
    out = process_recording(ref, source, store, SlotCheckingTranscriber(slot), transcription_slot=slot)
    assert out.status == "done" and slot.taken == 1, "the stored transcript served: no second slot"


def test_a_failed_transcription_gives_the_slot_back(setup):
    source, store, slot = setup

    class Broken(FakeTranscriber):
        def transcribe_chunk(self, *a, **kw):
            raise RuntimeError("model crashed")

    ref = next(r for r in source.list_recordings() if r.call_id == "tone")
    with pytest.raises(RuntimeError):
        process_recording(ref, source, store, Broken(), transcription_slot=slot)
    assert slot.taken == 1 and not slot.held


def test_no_server_means_no_slot(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with transcription_slot("c1", 10):  # ephemeral mode: nothing to ask, nothing to wait for
        pass


def test_the_slot_lease_follows_the_call_lease_with_the_servers_minimum():
    assert slot_lease_seconds(10) == 600 and slot_lease_seconds(0.1) == 60


class FakeClient:
    def __init__(self, limit: int | None):
        self.limit, self.calls = limit, []

    def read_global_concurrency_limit_by_name(self, name):
        from prefect.exceptions import ObjectNotFound

        assert name == TRANSCRIPTION_LIMIT
        if self.limit is None:
            raise ObjectNotFound(None)
        return self.limit

    def create_global_concurrency_limit(self, create):
        self.calls.append(("create", create.name, create.limit))

    def update_global_concurrency_limit(self, name, update):
        self.calls.append(("update", name, update.limit, update.active))

    def delete_global_concurrency_limit_by_name(self, name):
        self.calls.append(("delete", name))


@pytest.mark.parametrize("existing, slots, expected", [
    (None, 2, [("create", TRANSCRIPTION_LIMIT, 2)]),
    (1, 4, [("update", TRANSCRIPTION_LIMIT, 4, True)]),
    (1, 0, [("delete", TRANSCRIPTION_LIMIT)]),
    (None, 0, []),
])
def test_gpu_slots_create_resize_or_remove_the_limit(existing, slots, expected):
    client = FakeClient(existing)
    set_transcription_slots(client, slots)
    assert client.calls == expected


def test_deploy_options_are_checked(monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for bad, why in ((["--gpu-slots", "-1"], "0-1024"), (["--gpu-slots", "two"], "0-1024"),
                     (["--only", "transcribe"], "invalid choice")):
        with pytest.raises(SystemExit) as e:
            main(["deploy", *bad])
        assert e.value.code == 2 and why in capsys.readouterr().err
    assert main(["deploy", "--pool", "cpu", "--only", "rescore", "--gpu-slots", "0"]) == 2
    err = capsys.readouterr().err
    assert "[E401]" in err and "PREFECT_API_URL" in err, "no server named: a coded error, not a traceback"
