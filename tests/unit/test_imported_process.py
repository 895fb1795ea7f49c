"""Transcripts and chat logs in the recordings prefix: discovery tells them from sidecars and from the
pipeline's own outputs, and process_recording takes them through the same claim, analysis (redaction
boundary), writes and idempotence as recordings, without a transcriber; a malformed one is quarantined."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from compliance.alerts import default_policy_path, load_policy
from core import keys
from core.models import Segment, SpeakerInfo, Transcript, Word
from infra.storage import LocalFolderSource, _pair_recordings
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser
from pipeline.process import discover, process_recording, reanalyse_stored_call
from scoring.review import Reviewer

from .fakes import FakeTranscriber, write_tone_wav


class StubSimilarity:
    """The sentence-similarity model stubbed (it matches everything); the rest of scoring is real."""

    def encode(self, texts):
        return np.ones((len(texts), 4)) / 2.0


CHAT = ('role,text\n'
        'agent,"Thank you for calling Northwind, this call may be recorded. My name is Sam. How can I help you?"\n'
        'customer,I was charged twice and I am very angry. I will go to the press about this.\n'
        'agent,"I am so sorry. Can I verify your date of birth please?"\n'
        'customer,"Sure, it is the first of May 1980. My card is 4111 1111 1111 1111."\n'
        'agent,"Thank you. I have refunded the second charge. Is there anything else I can help you with?"\n'
        'customer,No thank you. Bye.\n')
WHISPERX = {"language": "en", "segments": [
    {"start": 0.4, "end": 3.0, "text": "Thank you for calling, my name is Ann, how can I help?",
     "speaker": "SPEAKER_01"},
    {"start": 3.4, "end": 6.0, "text": "Call me back on 415 555 0134 please.", "speaker": "SPEAKER_00"},
    {"start": 6.5, "end": 8.0, "text": "Of course. Goodbye.", "speaker": "SPEAKER_01"}]}
SIDECAR = {"agent": "a-7", "queue": "billing", "direction": "inbound", "started_at": "2026-11-27T09:30:00+08:00"}


def _ours(call_id: str = "x") -> str:
    w = (Word("您好，", 0.0, 0.5, 0.9, "S0", "agent"),)
    return Transcript(call_id, "zh", 1.0, 4.0, (
        Segment(0.0, 1.5, "您好，請問有什麼可以幫您？", w, speaker="S0", role="agent"),
        Segment(2.0, 3.5, "我要投訴，我找律師起訴你們。", (), speaker="S1", role="customer")),
        "faster-whisper", "base",
        speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting"),
                  SpeakerInfo("S1", "customer", 0.9, "greeting"))).to_json()


def test_names_decide_what_is_an_input():
    k = keys
    assert [k.input_kind(x) for x in ("r/a.wav", "r/a.json", "r/a.transcript.json", "r/a.chat.csv", "r/a.CSV",
                                      "r/a.jsonl", "r/a.chat.jsonl")] == \
        ["recording", "sidecar", "transcript", "chat", "chat", "chat", "chat"]
    assert {k.input_stem(x) for x in ("r/a.wav", "r/a.transcript.json", "r/a.chat.csv", "r/a.jsonl")} == {"r/a"}
    assert k.sidecar_key("r/a.transcript.json") == k.sidecar_key("r/a.chat.csv") == "r/a.json"
    assert k.sidecar_key("r/x.transcript.wav") is None, "x.transcript.json is a transcript, not its sidecar"
    # every result is under a prefix discovery skips, whatever its extension (reports write .csv files)
    for fn in (k.transcript_key, k.metrics_key, k.scorecard_key, k.quarantine_key, k.redacted_transcript_key,
               k.redacted_audio_key, lambda c: k.REPORTS_PREFIX + c + ".csv"):
        assert fn("a/b").startswith(k.RESULT_PREFIXES)


def test_discovery_pairs_transcripts_and_chats_with_sidecars_and_skips_outputs():
    entries = [(f"recordings/{n}", f"e-{n}", 10) for n in (
        "chat.csv", "chat.json", "wx.transcript.json", "wx.json", "own.transcript.json", "log.chat.jsonl",
        "dup.wav", "dup.transcript.json", "dup.json", "orphan.json", "x.transcript.wav")]
    entries += [("transcripts/chat.json", "t", 1), ("reports/alerts.csv", "r", 1), ("quarantine/a.json", "q", 1)]
    refs = {r.call_id: r for r in _pair_recordings(entries, "recordings/")}
    assert sorted(refs) == ["chat", "dup~transcript-json", "dup~wav", "log", "own", "wx", "x.transcript"]
    assert (refs["chat"].kind, refs["chat"].sidecar_key, refs["chat"].etag) == \
        ("chat", "recordings/chat.json", "e-chat.csv+e-chat.json")
    assert (refs["wx"].kind, refs["wx"].sidecar_key) == ("transcript", "recordings/wx.json")
    assert refs["own"].sidecar_key is None and refs["log"].kind == "chat" and refs["log"].is_text
    assert refs["dup~wav"].sidecar_key == refs["dup~transcript-json"].sidecar_key == "recordings/dup.json"
    assert refs["x.transcript"].kind == "recording" and refs["x.transcript"].sidecar_key is None
    # with the whole folder as the prefix, the pipeline's own outputs are still not inputs
    assert {r.call_id for r in _pair_recordings(entries, "")} >= {"recordings/chat"}
    assert not [r for r in _pair_recordings(entries, "") if not r.key.startswith("recordings/")]


class _NoTranscriber(FakeTranscriber):
    def transcribe_chunk(self, *a, **kw):
        raise AssertionError("a transcript input is never transcribed")


@pytest.fixture
def setup(tmp_path):
    rec = tmp_path / "src" / "recordings"
    rec.mkdir(parents=True)
    (rec / "chat.chat.csv").write_text(CHAT)
    (rec / "chat.json").write_text(json.dumps(SIDECAR))
    (rec / "wx.transcript.json").write_text(json.dumps(WHISPERX))
    (rec / "wx.json").write_text(json.dumps({**SIDECAR, "agent": "a-8"}))
    (rec / "own.transcript.json").write_text(_ours(), encoding="utf-8")
    (rec / "own.json").write_text(json.dumps({**SIDECAR, "language": "zh"}))
    (rec / "bad.jsonl").write_text('{"role": "agent", "text": "hi"}\n{"role": "agnet", "text": "x"}\n')
    (rec / "clash.csv").write_text("role,text\nagent,Hello there\n")
    (rec / "clash.json").write_text(json.dumps({"language": "zh"}))  # the sidecar forces zh: no clash, zh
    write_tone_wav(rec / "audio.wav", 2.0)
    src = LocalFolderSource(tmp_path / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    analyser = CallAnalyser(store, src, reviewer=Reviewer(similarity=StubSimilarity()),
                            policy=load_policy(default_policy_path()))
    return rec, src, store, analyser


def _batch(src, store, analyser, transcriber=None):
    fake = transcriber or FakeTranscriber()
    return {o.call_id: o for o in (process_recording(r, src, store, None if r.is_text else fake,
                                                     analyser=analyser, redact_audio=True)
                                   for r in discover(src, store))}


def test_transcripts_and_chats_are_scored_checked_and_redacted_like_calls(setup):
    rec, src, store, analyser = setup
    out = _batch(src, store, analyser)
    assert {k: (o.status, o.code) for k, o in out.items()} == {
        "chat": ("done", None), "wx": ("done", None), "own": ("done", None), "clash": ("done", None),
        "audio": ("done", None), "bad": ("quarantined", "E108")}
    assert out["chat"].audio_seconds == 0.0 and out["chat"].transcript_key == "transcripts/chat.json"
    chat = Transcript.from_json(src.read("transcripts/chat.json").decode())
    assert [s.role for s in chat.speakers] == ["agent", "customer"] and chat.warnings[0].startswith("W008")
    card = store.scorecard("chat")
    assert card["form_id"] == "inbound_service_en"
    answers = {a["question_id"]: a["answer"] for a in card["answers"]}
    assert answers["greeting"] == answers["closing"] == answers["further_help"] == "pass", answers
    alerts = store.alerts()
    assert {a["rule_id"] for a in alerts if a["call_id"] == "chat"} == {"media_threat"}, "disclosure was made"
    assert "legal_threat" in {a["rule_id"] for a in alerts if a["call_id"] == "own"}
    red = src.read("redacted/transcripts/chat.json").decode()
    assert "4111" not in red and "[CARD]" in red, "through the redaction boundary"
    assert "1111" not in json.dumps(alerts) and "1111" not in src.read("scorecards/chat.json").decode()
    assert src.read("redacted/audio/chat.wav") is None and src.read("redacted/audio/audio.wav") is not None
    assert store.get("chat").agent == "a-7" and store.get("wx").agent == "a-8", "sidecars read"
    wx = Transcript.from_json(src.read("transcripts/wx.json").decode())
    assert {s.speaker: s.role for s in wx.speakers} == {"SPEAKER_01": "agent", "SPEAKER_00": "customer"}
    assert "0134" not in src.read("redacted/transcripts/wx.json").decode()
    own = Transcript.from_json(src.read("transcripts/own.json").decode())
    assert own.call_id == "own" and own.script == "zh-Hans"
    assert own.segments[0].text == "您好，请问有什么可以帮您？"
    assert store.scorecard("own")["form_id"] == "inbound_service_zh"
    assert Transcript.from_json(src.read("transcripts/clash.json").decode()).language == "zh"
    q = json.loads(src.read("quarantine/bad.json"))
    assert q["code"] == "E108" and "line 2 role" in q["reason"] and q["object_key"] == "recordings/bad.jsonl"
    assert store.get("bad").state == "quarantined" and (rec / "bad.jsonl").exists(), "nothing is lost"
    assert store.get("chat").duration == chat.duration > 0
    # idempotent: nothing processed twice
    assert discover(src, store) == [] and _batch(src, store, analyser) == {}
    assert all(r.attempts == 1 for r in store.calls())
    # outputs written beside the inputs (whole folder as the prefix) are still not taken for inputs
    assert {r.call_id for r in LocalFolderSource(src.root, "").list_recordings()} == \
        {f"recordings/{c}" for c in ("chat", "wx", "own", "bad", "clash", "audio")}


def _later(path):
    t = time.time() + 5
    os.utime(path, (t, t))  # local etags are size + mtime


def test_changed_transcript_file_and_sidecar_are_new_versions(setup):
    rec, src, store, analyser = setup
    _batch(src, store, analyser)
    (rec / "bad.jsonl").write_text('{"role": "agent", "text": "Thank you for calling"}\n'
                                   '{"role": "customer", "text": "hello"}\n')
    _later(rec / "bad.jsonl")
    (rec / "wx.json").write_text(json.dumps({**SIDECAR, "agent": "a-9", "attributes": {"agent_channel": 1}}))
    _later(rec / "wx.json")
    out = _batch(src, store, analyser, _NoTranscriber())
    assert {k: o.status for k, o in out.items()} == {"bad": "done", "wx": "done"}
    assert store.get("bad").state == "done" and store.get("wx").agent == "a-9"
    wx = Transcript.from_json(src.read("transcripts/wx.json").decode())
    assert {s.speaker: s.role for s in wx.speakers} == {"SPEAKER_01": "agent", "SPEAKER_00": "customer"}
    # a sidecar that now contradicts the file's language quarantines it (E110) until one of them is fixed
    (rec / "own.json").write_text(json.dumps({"language": "en"}))
    _later(rec / "own.json")
    assert _batch(src, store, analyser)["own"].code == "E110"


def test_rescore_reads_the_stored_transcript_and_the_sidecar(setup):
    rec, src, store, analyser = setup
    _batch(src, store, analyser)
    assert reanalyse_stored_call("chat", src, store, analyser) is True
    assert store.scorecard("chat")["form_id"] == "inbound_service_en"
    assert store.get("chat").agent == "a-7"
