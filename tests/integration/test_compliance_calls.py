"""Synthesised calls with scripted risks through the real pipeline (speech, Whisper, stereo split, roles),
the shipped policy, redaction of transcript and audio."""
from __future__ import annotations

import pytest

from compliance.alerts import default_policy_path, load_policy
from compliance.redact import find_pii
from pipeline.compliance_stage import check_stored_call
from pipeline.models import Transcript
from pipeline.process import process_recording
from pipeline.storage import LocalFolderSource
from pipeline.store import ResultsStore
from pipeline.synth import ScriptedTurn, synthesise_call

pytestmark = pytest.mark.integration
A, C = "agent", "customer"
SCRIPTS = {
    "risky": ("en", [(A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
                     (C, "This is the third time I call. If you do not fix it today, I will go to the press, "
                         "and my lawyer will sue you."),
                     (A, "I understand. Let me get my supervisor.")]),
    "clean": ("en", [(A, "Thank you for calling Northwind. This call may be recorded for quality purposes. "
                         "My name is Sarah. How can I help you?"),
                     (C, "Hello, I would like to change my delivery address please."),
                     (A, "Of course, that is done now. Have a nice day.")]),
    "zh_risky": ("zh", [(A, "您好，我是客服小王，请问有什么可以帮您？"),
                        (C, "你们再不处理，我就找律师起诉你们，还要发到网上曝光。")]),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory, faster_transcriber):
    root = tmp_path_factory.mktemp("compliance")
    for name, (language, turns) in SCRIPTS.items():
        synthesise_call([ScriptedTurn(r, t) for r, t in turns], language, root / "src" / f"{name}.wav", stereo=True)
        (root / "src" / f"{name}.json").write_text(f'{{"language": "{language}"}}')
    src = LocalFolderSource(root / "src", "")
    store = ResultsStore(f"sqlite:///{root}/r.db")
    policy = load_policy(default_policy_path())
    out = {}
    for ref in src.list_recordings():
        assert process_recording(ref, src, store, faster_transcriber).status == "done"
        out[ref.call_id] = {a["rule_id"]: a for a in check_stored_call(ref.call_id, src, store, policy)}
    return out, src


def test_threats_raise_reputation_alerts_with_customer_evidence(checked):
    alerts, _ = checked
    risky = alerts["risky"]
    assert {"media_threat", "legal_threat", "missing_recording_disclosure"} <= set(risky), sorted(risky)
    ev = risky["media_threat"]["evidence"][0]
    assert ev["role"] == "customer" and "press" in ev["quote"].lower() and ev["start"] > 2
    # espeak-ng Mandarin is hard for whisper base: 律师/起诉 survive, 曝光 usually does not
    assert "legal_threat" in alerts["zh_risky"], sorted(alerts["zh_risky"])


def test_clean_call_raises_no_alert(checked):
    alerts, _ = checked
    assert alerts["clean"] == {}, sorted(alerts["clean"])


def test_redacted_copies_exist_apart_from_the_originals(checked):
    _, src = checked
    for call_id in SCRIPTS:
        red = Transcript.from_json(src.read(f"redacted/transcripts/{call_id}.json").decode())
        assert find_pii(red) == []
        assert src.read(f"redacted/audio/{call_id}.wav")[:4] == b"RIFF"
        assert src.read(f"transcripts/{call_id}.json") is not None
