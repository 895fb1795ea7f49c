"""Typed contracts between stages: Call, Word, Segment, Transcript (+ diarization Turn, SpeakerInfo).

Frozen dataclasses; JSON is WhisperX-like (segments with words, speaker, start/end) and written with
ensure_ascii=False so Chinese stays readable. `TRANSCRIPT_SCHEMA` is the stable JSON schema of that file.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

SCHEMA_VERSION = "1.0"
Direction = Literal["inbound", "outbound", "internal", "unknown"]
Role = Literal["agent", "customer", "unknown"]
ROLES: tuple[Role, ...] = ("agent", "customer", "unknown")


TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # a client company's id: sidecars, form and policy folders


@dataclass(frozen=True)
class Call:
    id: str
    object_key: str
    etag: str
    agent: str | None = None
    queue: str | None = None
    direction: Direction = "unknown"
    started_at: datetime | None = None
    language: str | None = None  # forced language from metadata (a language profile's code); None = detect
    size_bytes: int = 0
    tenant: str = "default"  # the client company the call belongs to (sidecar `tenant`): picks its forms/policy
    # Free-form telephony metadata (the sidecar's "attributes"), e.g. {"agent_channel": 0}.
    attributes: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat() if self.started_at else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Call":
        d = dict(d)
        if d.get("started_at"):
            d["started_at"] = datetime.fromisoformat(d["started_at"])
        return cls(**d)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float
    speaker: str | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Word ends before it starts: {self.start} > {self.end}")


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    channel: int | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    role: str | None = None


@dataclass(frozen=True)
class Turn:
    """One diarization turn: `speaker` talks from `start` to `end` (seconds from call start)."""
    speaker: str
    start: float
    end: float
    role: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Turn of {self.speaker!r} ends before it starts: {self.start} > {self.end}")


@dataclass(frozen=True)
class SpeakerInfo:
    """Who a transcript speaker is, and which rule decided it with what confidence (0-1)."""
    speaker: str
    role: Role
    confidence: float
    rule: str
    channel: int | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"SpeakerInfo role must be one of {ROLES}, not {self.role!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"SpeakerInfo confidence must be within 0..1, not {self.confidence}")


@dataclass(frozen=True)
class Transcript:
    call_id: str
    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    backend: str
    model: str
    script: str | None = None  # "zh-Hans" / "zh-Hant" after normalisation; None for non-Chinese
    schema_version: str = SCHEMA_VERSION
    warnings: tuple[str, ...] = field(default=())
    speakers: tuple[SpeakerInfo, ...] = ()  # filled by transcribe.roles.label_roles
    overlaps: tuple[tuple[float, float], ...] = ()  # (start, end) where two speakers talk at once

    @property
    def text(self) -> str:
        """Segments joined as the language's profile joins words ("" for zh, " " otherwise)."""
        from core.languages import default_languages  # same layer; read on first use, not at import

        return default_languages().joiner(self.language).join(s.text.strip() for s in self.segments).strip()

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Transcript":
        segs = tuple(
            Segment(**{**s, "words": tuple(Word(**w) for w in s.get("words", ()))})
            for s in d["segments"]
        )
        return cls(**{**d, "segments": segs, "warnings": tuple(d.get("warnings", ())),
                      "speakers": tuple(SpeakerInfo(**s) for s in d.get("speakers", ())),
                      "overlaps": tuple((float(a), float(b)) for a, b in d.get("overlaps", ()))})

    @classmethod
    def from_json(cls, text: str) -> "Transcript":
        return cls.from_dict(json.loads(text))


_num = {"type": "number"}
_opt_str = {"type": ["string", "null"]}
WORD_SCHEMA = {
    "type": "object",
    "required": ["text", "start", "end", "probability"],
    "properties": {"text": {"type": "string"}, "start": _num, "end": _num, "probability": _num,
                   "speaker": _opt_str, "role": _opt_str},
    "additionalProperties": False,
}
SEGMENT_SCHEMA = {
    "type": "object",
    "required": ["start", "end", "text", "words"],
    "properties": {
        "start": _num, "end": _num, "text": {"type": "string"},
        "words": {"type": "array", "items": WORD_SCHEMA},
        "speaker": _opt_str, "channel": {"type": ["integer", "null"]},
        "avg_logprob": {"type": ["number", "null"]}, "no_speech_prob": {"type": ["number", "null"]},
        "role": _opt_str,
    },
    "additionalProperties": False,
}
SPEAKER_SCHEMA = {
    "type": "object",
    "required": ["speaker", "role", "confidence", "rule"],
    "properties": {
        "speaker": {"type": "string"}, "role": {"enum": list(ROLES)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1}, "rule": {"type": "string"},
        "channel": {"type": ["integer", "null"]},
    },
    "additionalProperties": False,
}
TRANSCRIPT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "callqa transcript",
    "type": "object",
    "required": ["call_id", "language", "duration", "segments", "backend", "model", "schema_version"],
    "properties": {
        "call_id": {"type": "string"}, "language": {"type": "string"},
        "language_probability": _num, "duration": _num,
        "segments": {"type": "array", "items": SEGMENT_SCHEMA},
        "backend": {"type": "string"}, "model": {"type": "string"}, "script": _opt_str,
        "schema_version": {"const": SCHEMA_VERSION},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "speakers": {"type": "array", "items": SPEAKER_SCHEMA},
        "overlaps": {"type": "array", "items": {"type": "array", "items": _num, "minItems": 2, "maxItems": 2}},
    },
    "additionalProperties": False,
}
