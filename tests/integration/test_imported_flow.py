"""Transcripts and chats in place of recordings through the real batch flow: real S3 server (Ceph RGW), real
Prefect (ephemeral), the shipped forms and policy with the real similarity model. A chat CSV, a WhisperX JSON
and a callqa transcript JSON, each with a sidecar, are scored, checked and redacted like transcribed calls;
a malformed one is quarantined; a second run processes nothing; rescore and reports take them too."""
from __future__ import annotations

import io
import json
import uuid

import pytest

from core.models import Segment, SpeakerInfo, Transcript
from infra.store import ResultsStore
from pipeline.config import PipelineConfig, S3Settings

from .s3util import read_object, s3_client

pytestmark = pytest.mark.integration

CHAT_CSV = ('role,text,timestamp\n'
            'agent,"Thank you for calling Northwind, this call may be recorded. My name is Sam. How can I help?",'
            '2026-11-27T09:30:00+08:00\n'
            'customer,"I was charged twice, this is a disgrace. I will go to the press about this.",'
            '2026-11-27T09:30:12+08:00\n'
            'agent,"I am so sorry to hear that. Can I verify your date of birth please?",2026-11-27T09:30:20+08:00\n'
            'customer,"Sure, it is the first of May. My card is 4111 1111 1111 1111.",2026-11-27T09:30:31+08:00\n'
            'agent,"Thank you. I have refunded the second charge. Is there anything else I can help you with?",'
            '2026-11-27T09:30:45+08:00\n'
            'customer,No thank you. Bye.,2026-11-27T09:30:52+08:00\n')
WHISPERX = {"language": "en", "segments": [
    {"start": 0.4, "end": 3.2, "text": " Thank you for calling, my name is Ann. How can I help?",
     "speaker": "SPEAKER_01",
     "words": [{"word": "Thank", "start": 0.4, "end": 0.7, "score": 0.95, "speaker": "SPEAKER_01"},
               {"word": "you", "start": 0.7, "end": 0.9, "score": 0.95, "speaker": "SPEAKER_01"}]},
    {"start": 3.6, "end": 7.0, "text": " I want a manager. Call me back on 415 555 0134.", "speaker": "SPEAKER_00"},
    {"start": 7.5, "end": 9.0, "text": " Of course. Goodbye.", "speaker": "SPEAKER_01"}]}
OURS = Transcript("elsewhere", "zh", 1.0, 8.0, (
    Segment(0.0, 2.0, "您好，我是客服小王，請問有什麼可以幫您？", speaker="S0"),
    Segment(2.5, 5.0, "你們再不處理，我就找律師起訴你們。", speaker="S1"),
    Segment(5.5, 8.0, "非常抱歉，我馬上為您處理。", speaker="S0")), "faster-whisper", "base",
    speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting"), SpeakerInfo("S1", "customer", 0.9, "greeting")))
SIDECAR = {"agent": "a-7", "queue": "billing", "direction": "inbound", "started_at": "2026-11-27T09:30:00+08:00"}
INPUTS = {
    "recordings/chats/c1.chat.csv": CHAT_CSV.encode(),
    "recordings/chats/c1.json": json.dumps(SIDECAR).encode(),
    "recordings/wx/w1.transcript.json": json.dumps(WHISPERX).encode(),
    "recordings/wx/w1.json": json.dumps({**SIDECAR, "agent": "a-8"}).encode(),
    "recordings/own/o1.transcript.json": OURS.to_json().encode(),
    "recordings/own/o1.json": json.dumps({**SIDECAR, "agent": "a-9", "language": "zh"}).encode(),
    "recordings/bad/b1.jsonl": b'{"role": "agent", "text": "hello"}\n{"role": "agent", "txet": "x"}\n',
}


def test_transcripts_and_chats_through_the_batch_flow(s3_server, tmp_path):
    from flows import batch_flow, process_call_flow, rescore_flow

    bucket = f"imported-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.make_bucket(bucket)
    for key, data in INPUTS.items():
        client.put_object(bucket, key, io.BytesIO(data), len(data))
    cfg = PipelineConfig(s3=S3Settings(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                                       secret_key=s3_server.secret_key, bucket=bucket),
                         database_url=f"sqlite:///{tmp_path / 'r.db'}", reports_dir=tmp_path / "reports")

    summary = batch_flow(cfg)

    by_id = {o.call_id: o for o in summary.outcomes}
    assert {k: (o.status, o.code) for k, o in by_id.items()} == {
        "chats/c1": ("done", None), "wx/w1": ("done", None), "own/o1": ("done", None),
        "bad/b1": ("quarantined", "E108")}, summary.outcomes
    assert summary.audio_seconds == 0.0, "nothing was transcribed"
    store = ResultsStore(cfg.database_url)
    for call_id, form in (("chats/c1", "inbound_service_en"), ("wx/w1", "inbound_service_en"),
                          ("own/o1", "inbound_service_zh")):
        card = json.loads(read_object(client, bucket, f"scorecards/{call_id}.json"))
        assert card["form_id"] == form and card["redacted"] is True, call_id
        assert store.scorecard(call_id)["form_id"] == form
        red = Transcript.from_json(read_object(client, bucket, f"redacted/transcripts/{call_id}.json").decode())
        assert red.call_id == call_id and {s.role for s in red.speakers} == {"agent", "customer"}, call_id
        stored = Transcript.from_json(read_object(client, bucket, f"transcripts/{call_id}.json").decode())
        assert stored.segments and read_object(client, bucket, f"metrics/{call_id}.json")
        assert not list(client.list_objects(bucket, prefix=f"redacted/audio/{call_id}")), "no audio, none redacted"
    greeting = {a["question_id"]: a for a in store.scorecard("chats/c1")["answers"]}["greeting"]
    assert greeting["answer"] == "pass" and greeting["evidence"][0]["role"] == "agent"
    chat_red = read_object(client, bucket, "redacted/transcripts/chats/c1.json").decode()
    assert "4111" not in chat_red and "[CARD]" in chat_red
    assert "0134" not in read_object(client, bucket, "redacted/transcripts/wx/w1.json").decode()
    own = Transcript.from_json(read_object(client, bucket, "transcripts/own/o1.json").decode())
    assert own.script == "zh-Hans" and "请问" in own.segments[0].text
    alerts = {(a["call_id"], a["rule_id"]) for a in store.alerts()}
    assert {("chats/c1", "media_threat"), ("wx/w1", "supervisor_request"), ("own/o1", "legal_threat")} <= alerts
    assert ("chats/c1", "missing_recording_disclosure") not in alerts
    assert "1111" not in json.dumps(store.alerts())
    assert (store.get("chats/c1").agent, store.get("wx/w1").agent, store.get("own/o1").agent) == ("a-7", "a-8", "a-9")
    record = json.loads(read_object(client, bucket, "quarantine/bad/b1.json"))
    assert record["code"] == "E108" and "line 2" in record["reason"]
    assert record["object_key"] == "recordings/bad/b1.jsonl"
    assert (tmp_path / "reports" / "calls" / "chats" / "c1.html").is_file()

    again = batch_flow(cfg)
    assert again.outcomes == (), "a re-run processes nothing twice"
    assert process_call_flow("recordings/chats/c1.chat.csv", cfg).status == "skipped", "same version as listed"
    assert all(r.attempts == 1 for r in store.calls())
    assert rescore_flow(cfg) == 3, "stored transcripts of imported calls are scored again"
