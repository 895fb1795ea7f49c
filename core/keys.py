"""Object-key layout in the bucket, beside `recordings/`: one function per kind of object.

Unredacted material lives under `recordings/` and `transcripts/` only (access controlled there); everything
under the other prefixes went through the redaction boundary (pipeline.analysis) or holds no transcript text."""
from __future__ import annotations

UNREDACTED_PREFIXES = ("recordings/", "transcripts/")
REPORTS_PREFIX = "reports/"


def transcript_key(call_id: str) -> str:
    return f"transcripts/{call_id}.json"


def metrics_key(call_id: str) -> str:
    return f"metrics/{call_id}.json"


def scorecard_key(call_id: str) -> str:
    return f"scorecards/{call_id}.json"


def quarantine_key(call_id: str) -> str:
    return f"quarantine/{call_id}.json"


def redacted_transcript_key(call_id: str) -> str:
    return f"redacted/transcripts/{call_id}.json"


def redacted_audio_key(call_id: str) -> str:
    return f"redacted/audio/{call_id}.wav"
