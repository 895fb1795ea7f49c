import json

import jsonschema
import pytest

from core.models import TRANSCRIPT_SCHEMA, Call, Segment, Transcript, Word


def _transcript():
    words = (Word("您好", 0.0, 0.5, 0.9), Word("退款", 0.6, 1.1, 0.8))
    return Transcript(call_id="2026/11/c1", language="zh", language_probability=0.97, duration=2.0,
                      segments=(Segment(0.0, 1.1, "您好退款", words),), backend="faster-whisper",
                      model="base", script="zh-Hans")


def test_transcript_json_round_trip_keeps_chinese_readable():
    t = _transcript()
    text = t.to_json()
    assert "退款" in text and "\\u" not in text
    assert Transcript.from_json(text) == t
    assert t.text == "您好退款"


def test_transcript_matches_published_schema():
    jsonschema.validate(json.loads(_transcript().to_json()), TRANSCRIPT_SCHEMA)
    bad = json.loads(_transcript().to_json())
    bad["segments"][0]["words"][0]["start"] = "zero"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, TRANSCRIPT_SCHEMA)


def test_word_rejects_negative_duration():
    with pytest.raises(ValueError):
        Word("x", 2.0, 1.0, 0.5)


def test_call_round_trip_with_timezone():
    from datetime import datetime, timezone

    c = Call(id="a", object_key="recordings/a.wav", etag="e", agent="a-1", queue="billing",
             direction="inbound", started_at=datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc))
    assert Call.from_dict(json.loads(json.dumps(c.to_dict()))) == c
