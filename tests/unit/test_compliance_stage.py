"""Compliance stage over stored results: redacted transcript copy, alerts with redacted evidence in the DB
and out to a sink (Prefect events in the flow), unredacted material left where it was."""
import json

from compliance.alerts import default_policy_path, load_policy
from pipeline.compliance_stage import check_stored_call, redact_text
from core.models import Call, Segment, SpeakerInfo, Transcript, Word
from pipeline.process import transcript_key
from infra.storage import LocalFolderSource
from infra.store import ResultsStore


def _seg(start, text, speaker, role):
    words = tuple(Word(w, start + 0.3 * i, start + 0.3 * i + 0.25, 0.9, speaker, role)
                  for i, w in enumerate(text.split()))
    return Segment(start, words[-1].end, text, words, speaker=speaker, role=role)


def _stored(tmp_path, segs):
    src = LocalFolderSource(tmp_path, "")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    store.claim(Call("c1", "c1.wav", "e1"))
    t = Transcript("c1", "en", 1.0, 60.0, tuple(segs), "fake", "fake",
                   speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting", 0),
                             SpeakerInfo("S1", "customer", 0.9, "greeting", 1)))
    src.write(transcript_key("c1"), t.to_json().encode())
    store.mark_done("c1", transcript_key=transcript_key("c1"), language="en", duration=60.0)
    return src, store


def test_risky_call_raises_alerts_with_redacted_evidence(tmp_path):
    src, store = _stored(tmp_path, [
        _seg(0.5, "Thank you for calling, this call may be recorded. My name is Sarah.", "S0", "agent"),
        _seg(5.0, "My card is 4111 1111 1111 1111 and if you do not fix this I will go to the press.", "S1", "customer"),
        _seg(12.0, "Let me check. Your card 4111 1111 1111 1111 is active.", "S0", "agent"),
    ])
    sent = []
    alerts = check_stored_call("c1", src, store, load_policy(default_policy_path()),
                               sink=lambda call_id, a: sent.append((call_id, a["rule_id"])))
    rules = {a["rule_id"] for a in alerts}
    assert {"media_threat", "pii_read_out"} <= rules and "missing_recording_disclosure" not in rules
    media = next(a for a in alerts if a["rule_id"] == "media_threat")
    assert media["evidence"][0]["start"] == 5.0 and media["evidence"][0]["role"] == "customer"
    blob = json.dumps(store.alerts(), ensure_ascii=False) + json.dumps(sent)
    assert "4111" not in blob and "[CARD]" in blob, "evidence quotes are redacted before storage"
    assert sorted(sent) == sorted(("c1", r) for r in rules)
    redacted = src.read("redacted/transcripts/c1.json").decode()
    assert "4111" not in redacted and "[CARD]" in redacted
    assert "4111" in src.read(transcript_key("c1")).decode(), "the original is left where it was"


def test_clean_call_raises_none_and_recheck_does_not_duplicate(tmp_path):
    src, store = _stored(tmp_path, [
        _seg(0.5, "Thank you for calling, this call may be recorded. My name is Sarah. How can I help?", "S0", "agent"),
        _seg(6.0, "I would like to change my delivery address please.", "S1", "customer"),
        _seg(10.0, "Of course, that is done. Have a nice day.", "S0", "agent"),
    ])
    policy = load_policy(default_policy_path())
    assert check_stored_call("c1", src, store, policy) == []
    assert check_stored_call("missing", src, store, policy) is None


def test_redact_text_placeholders():
    assert redact_text("call me on 138 1234 5678 or a@b.com", "en") == "call me on [PHONE] or [EMAIL]"


def _stored_with_sidecar(src, store, call_id, started_at, attributes):
    src.write(f"{call_id}.json", json.dumps({"started_at": started_at, "attributes": attributes}).encode())
    store.claim(Call(call_id, f"{call_id}.wav", "e1"))
    t = Transcript(call_id, "en", 1.0, 60.0, (
        _seg(0.5, "Thank you for calling, this call may be recorded. My name is Sarah. How can I help?", "S0", "agent"),
        _seg(6.0, "My refund still has not arrived.", "S1", "customer"),
        _seg(10.0, "I have escalated it for you. Have a nice day.", "S0", "agent")), "fake", "fake",
        speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting", 0), SpeakerInfo("S1", "customer", 0.9, "greeting", 1)))
    src.write(transcript_key(call_id), t.to_json().encode())
    store.mark_done(call_id, transcript_key=transcript_key(call_id), language="en", duration=60.0)


def test_repeated_contact_uses_the_customers_earlier_calls_from_the_results_db(tmp_path):
    src, store = LocalFolderSource(tmp_path, ""), ResultsStore(f"sqlite:///{tmp_path}/r.db")
    policy = load_policy(default_policy_path())
    refund = {"customer_id": "cust-7", "topic": "refund"}
    _stored_with_sidecar(src, store, "d1", "2026-11-01T09:00:00+08:00", refund)
    _stored_with_sidecar(src, store, "d2", "2026-11-05T09:00:00+08:00", refund)
    _stored_with_sidecar(src, store, "d3", "2026-11-09T01:00:00+00:00", refund)
    _stored_with_sidecar(src, store, "other", "2026-11-10T09:00:00+08:00", {"customer_id": "cust-7", "topic": "card"})
    rules = {c: {a["rule_id"] for a in check_stored_call(c, src, store, policy)} for c in ("d1", "d2", "d3", "other")}
    assert "repeated_contact" not in rules["d1"] | rules["d2"] | rules["other"]
    assert "repeated_contact" in rules["d3"], "third refund call within 30 days"
    alert = next(a for a in store.alerts() if a["rule_id"] == "repeated_contact")
    assert alert["call_id"] == "d3" and "2 other call(s) about 'refund'" in alert["evidence"][0]["detail"]
    # a re-check records nothing twice and raises the same single alert
    assert {a["rule_id"] for a in check_stored_call("d3", src, store, policy)} == rules["d3"]
    assert len(store.contact_history("default/cust-7")) == 4  # kept per tenant (tests/unit/test_tenants.py)
    assert sum(a["rule_id"] == "repeated_contact" for a in store.alerts()) == 1
