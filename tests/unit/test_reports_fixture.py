"""Shared data for the report tests (no tests here): a small results DB + local source, with real scoring
(scoring.review) and the real compliance stage on hand-built transcripts. Only the sentence-similarity
model is stubbed (it matches everything)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np

from compliance.alerts import default_policy_path, load_policy
from pipeline.compliance_stage import check_stored_call
from core.models import Call, Segment, SpeakerInfo, Transcript, Word
from pipeline.process import score_stored_call, transcript_key
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from scoring.review import Reviewer

PHONE = "415 555 0134"
PHONE_DIGITS = ("4155550134", "415 555 0134", "555 0134")
ZH_AGENT, ZH_QUEUE = "王芳", "账单查询"
A, C = "agent", "customer"

CALLS = {
    "good": dict(agent="a-1001", queue="billing", started=datetime(2026, 11, 20, 9, 0), language="en", turns=[
        (A, "Thank you for calling Northwind, this call may be recorded. My name is Sarah. How can I help you today?"),
        (C, "This is terrible, I was charged twice and I am very angry."),
        (A, "I am so sorry to hear that, I understand how frustrating that is. Can I verify your date of birth please?"),
        (C, "Sure, it is the first of May."),
        (A, "Thank you. I have refunded the second charge, so to recap, the duplicate payment is refunded today."),
        (C, "Great, thank you so much, that is wonderful and very helpful."),
        (A, "Is there anything else I can help you with? Thank you for calling, have a great day."),
    ]),
    "autofail": dict(agent="a-1001", queue="billing", started=datetime(2026, 11, 22, 14, 30), language="en", turns=[
        (A, "Hello, Northwind."),
        # the customer starts annoyed and ends upset after a dismissive agent: a "worsened" outcome
        (C, f"Hi, I'm still waiting for an answer about my bill. Call me back on {PHONE} today or I will go to the "
            "press about this."),
        (A, "That's not my problem, figure it out yourself."),
        (C, "This is awful, I am very upset and disappointed."),
    ]),
    "other": dict(agent="a-2002", queue="sales", started=datetime(2026, 11, 25, 11, 0), language="en", turns=[
        (A, "Thank you for calling Northwind, this call may be recorded. My name is Tom. How can I help?"),
        (C, "I want to change my delivery address please."),
        (A, "Of course, that is done now. Have a nice day."),
    ]),
    "zh": dict(agent=ZH_AGENT, queue=ZH_QUEUE, started=datetime(2026, 11, 24, 10, 0), language="zh", turns=[
        (A, "您好，我是客服小王，请问有什么可以帮您？"),
        (C, "你们再不处理，我就找律师起诉你们。"),
        (A, "非常抱歉给您带来不便，我马上为您处理。"),
        (C, "好的，谢谢，太好了。"),
    ]),
}


class StubSimilarity:
    def encode(self, texts):
        return np.ones((len(texts), 4)) / 2.0


def _segments(turns, language):
    segs, t = [], 0.5
    for role, text in turns:
        speaker = "S0" if role == A else "S1"
        tokens = list(text) if language == "zh" else text.split()
        step = 0.2 if language == "zh" else 0.3
        words = tuple(Word(w, t + step * i, t + step * i + step * 0.8, 0.9, speaker, role) for i, w in enumerate(tokens))
        segs.append(Segment(t, words[-1].end, text, words, speaker=speaker, role=role))
        t = words[-1].end + 1.0
    return tuple(segs), t


def build(root: Path) -> tuple[ResultsStore, LocalFolderSource]:
    src = LocalFolderSource(root / "src", "")
    store = ResultsStore(f"sqlite:///{root}/r.db")
    reviewer = Reviewer(similarity=StubSimilarity())
    policy = load_policy(default_policy_path())
    for call_id, spec in CALLS.items():
        meta = {"agent": spec["agent"], "queue": spec["queue"], "direction": "inbound",
                "started_at": spec["started"].isoformat(), "language": spec["language"]}
        src.write(f"{call_id}.json", json.dumps(meta, ensure_ascii=False).encode())
        store.claim(Call(call_id, f"{call_id}.wav", "e1", agent=spec["agent"], queue=spec["queue"],
                         direction="inbound", started_at=spec["started"], language=spec["language"]))
        segs, duration = _segments(spec["turns"], spec["language"])
        t = Transcript(call_id, spec["language"], 1.0, duration, segs, "fake", "fake",
                       script="zh-Hans" if spec["language"] == "zh" else None,
                       speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting", 0),
                                 SpeakerInfo("S1", "customer", 0.9, "greeting", 1)))
        src.write(transcript_key(call_id), t.to_json().encode())
        store.mark_done(call_id, transcript_key=transcript_key(call_id), language=spec["language"], duration=duration)
        assert score_stored_call(call_id, src, store, reviewer)
        assert check_stored_call(call_id, src, store, policy) is not None
    return store, src
