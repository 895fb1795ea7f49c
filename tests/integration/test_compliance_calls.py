"""Synthesised calls with scripted risks through the real pipeline (speech, Whisper, stereo split, roles),
the shipped policy, redaction of transcript and audio."""
from __future__ import annotations

import json

import pytest

from compliance.alerts import default_policy_path, load_policy
from compliance.redact import find_pii
from pipeline.compliance_stage import check_stored_call
from core.models import Transcript
from pipeline.process import process_recording
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from demo.synth import ScriptedTurn, synthesise_call

pytestmark = pytest.mark.integration
A, C = "agent", "customer"
# a Luhn-valid number whose digits espeak-ng and whisper base agree on (no repeated digits, no 5/7/9/0)
CARD = "Four one two one. Six four one six. One two eight six. One six four eight."
DISCLOSED = "Thank you for calling Northwind. This call may be recorded. My name is Sarah. How can I help you?"
SCRIPTS = {
    "risky": ("en", [(A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
                     (C, "This is the third time I call. If you do not fix it today, I will go to the press, "
                         "and my lawyer will sue you."),
                     (A, "I understand. Let me get my supervisor.")]),
    "clean": ("en", [(A, "Thank you for calling Northwind. This call may be recorded for quality purposes. "
                         "My name is Sarah. How can I help you?"),
                     (C, "Hello, I would like to change my delivery address please."),
                     (A, "Of course, that is done now. Have a nice day.")]),
    # "if you don't deal with it, I'll contact my lawyer and sue you": a lawyer named together with an announced
    # action (a bare mention of a lawyer is no threat under the policy's legal_threat rule)
    "zh_risky": ("zh", [(A, "您好，我是客服小王，请问有什么可以帮您？"),
                        (C, "再不处理，我要联系我的律师，起诉你们。")]),
    # one call per remaining risk; DISCLOSED keeps missing_recording_disclosure out of them
    "abuse": ("en", [(A, DISCLOSED),
                     (C, "You are an idiot. I want to speak to a manager right now."),
                     (A, "I am sorry you feel that way. One moment please."),
                     (C, "I will report you to the regulator and post this on twitter. This is terrible, "
                         "awful service and I am very angry.")]),
    "deletion": ("en", [(A, DISCLOSED),
                        (C, "Please delete my data and stop calling me."),
                        (A, "Can I interest you in our new premium plan instead?"),
                        (C, "No.")]),
    "pii": ("en", [(A, DISCLOSED),
                   (C, f"My card number is: {CARD}"),
                   (A, f"Thank you. Your card number is: {CARD}"),
                   (C, "Yes, that is right.")]),
    "verification": ("en", [(A, DISCLOSED),
                            (C, "Hi, what is my account balance?"),
                            (A, "Sure. Your last transaction was two hundred dollars. "
                                "And can I have your social security number?")]),
}
# the same customer about the same issue three times in ten days: the last of them is a repeated contact
CONTACTS = {"abuse": "2026-11-01T09:00:00+00:00", "deletion": "2026-11-04T09:00:00+00:00",
            "pii": "2026-11-08T09:00:00+00:00"}
EXPECTED = {"abuse": {"abusive_language", "supervisor_request", "regulator_threat", "media_threat",
                      "negative_ending"},
            "deletion": {"opt_out_ignored"},  # the agent carries on selling instead of confirming
            "pii": {"pii_read_out", "repeated_contact"},
            "verification": {"pii_before_verification", "unneeded_data_request"}}


@pytest.fixture(scope="module")
def checked(tmp_path_factory, faster_transcriber):
    root = tmp_path_factory.mktemp("compliance")
    for name, (language, turns) in SCRIPTS.items():
        synthesise_call([ScriptedTurn(r, t) for r, t in turns], language, root / "src" / f"{name}.wav", stereo=True)
        meta = {"language": language, "queue": "sales"}
        if name in CONTACTS:
            meta |= {"started_at": CONTACTS[name], "attributes": {"customer_id": "cust-1", "topic": "refund"}}
        (root / "src" / f"{name}.json").write_text(json.dumps(meta))
    src = LocalFolderSource(root / "src", "")
    store = ResultsStore(f"sqlite:///{root}/r.db")
    policy = load_policy(default_policy_path())
    refs = src.list_recordings()
    for ref in refs:
        assert process_recording(ref, src, store, faster_transcriber).status == "done"
    out = {}
    for call_id in sorted(SCRIPTS, key=lambda c: CONTACTS.get(c, "")):  # in the order the calls happened
        out[call_id] = {a["rule_id"]: a for a in check_stored_call(call_id, src, store, policy)}
    return out, src


def test_threats_raise_reputation_alerts_with_customer_evidence(checked):
    alerts, _ = checked
    risky = alerts["risky"]
    assert {"media_threat", "legal_threat", "missing_recording_disclosure"} <= set(risky), sorted(risky)
    ev = risky["media_threat"]["evidence"][0]
    assert ev["role"] == "customer" and "press" in ev["quote"].lower() and ev["start"] > 2
    # espeak-ng Mandarin is hard for whisper base, and what survives differs between CPUs (律师 on one machine,
    # nothing legal on another): whenever a legal word was heard from the customer, the alert must be raised
    _, src = checked
    heard = Transcript.from_json(src.read("transcripts/zh_risky.json").decode())
    customer = "".join(s.text for s in heard.segments if s.role == "customer")
    if any(w in customer for w in ("律师", "起诉", "法院", "告你们")):
        assert "legal_threat" in alerts["zh_risky"], (sorted(alerts["zh_risky"]), customer)
    else:
        assert "legal_threat" not in alerts["zh_risky"], "no legal word heard, no legal alert"


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


@pytest.mark.parametrize("call_id", sorted(EXPECTED))
def test_each_risk_raises_its_alert_with_evidence(checked, call_id):
    alerts, _ = checked
    got = alerts[call_id]
    assert EXPECTED[call_id] <= set(got), (call_id, sorted(got))
    assert "missing_recording_disclosure" not in got
    for rule_id in EXPECTED[call_id]:
        ev = got[rule_id]["evidence"][0]
        assert ev["detail"] and ev["rule_id"].split(".")[0] == rule_id
        if rule_id not in ("repeated_contact", "negative_ending"):  # call-level checks have no single quote
            assert ev["quote"] and ev["start"] is not None and ev["end"] > ev["start"]
    if call_id == "pii":
        read_out = got["pii_read_out"]["evidence"][0]
        assert read_out["role"] == "agent" and "[CARD" in read_out["quote"] and "4121" not in read_out["quote"]
    if call_id == "abuse":
        assert got["abusive_language"]["evidence"][0]["role"] == "customer"
        assert got["supervisor_request"]["evidence"][0]["start"] > 3


def test_redacted_audio_has_no_recognisable_pii_left(checked, tmp_path, faster_transcriber):
    """Transcribe the redacted recording again: the card number read out twice must be gone, the rest kept."""
    _, src = checked
    original = Transcript.from_json(src.read("transcripts/pii.json").decode())
    assert any(s.entity == "CARD_NUMBER" for s in find_pii(original)), "the original holds the card number"
    again = tmp_path / "again"
    again.mkdir()
    (again / "pii.wav").write_bytes(src.read("redacted/audio/pii.wav"))
    (again / "pii.json").write_text('{"language": "en"}')
    src2 = LocalFolderSource(again, "")
    store2 = ResultsStore(f"sqlite:///{tmp_path}/again.db")
    ref = src2.list_recordings()[0]
    assert process_recording(ref, src2, store2, faster_transcriber).status == "done"
    redone = Transcript.from_json(src2.read("transcripts/pii.json").decode())
    text = " ".join(s.text for s in redone.segments).lower()
    assert find_pii(redone) == [], text
    assert "4121" not in text.replace(" ", "") and "1648" not in text.replace(" ", "")
    assert "card number" in text and "how can i help you" in text, "only the personal data was covered"
    assert abs(redone.duration - original.duration) < 0.1
