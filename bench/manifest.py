"""Labelled evaluation data: the manifest format (documented in bench/MANIFEST.md).

A dataset is a folder with `manifest.jsonl`, one JSON object per line. `kind` is "call" (a recording,
the default) or "text" (label-only items: PII sentences, sentiment sentences, SOP ratings of text).
Every object is validated with pydantic (`extra="forbid"`); errors name the file, line and field.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MANIFEST_NAME = "manifest.jsonl"
Sentiment = Literal["negative", "neutral", "positive"]
SopAnswer = Literal["yes", "no", "na"]


class ManifestError(ValueError):
    """A manifest line is malformed: the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RefTurn(_Strict):
    speaker: str | None = None
    role: Literal["agent", "customer"] | None = None
    start: float | None = Field(None, ge=0)
    end: float | None = Field(None, ge=0)
    text: str = ""
    sentiment: Sentiment | None = None
    channel: Literal[0, 1] | None = None  # stereo: the channel this turn is on (WER per channel)

    @model_validator(mode="after")
    def _times(self):
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class PiiSpan(_Strict):
    """Gold personal data: char offsets into the item's reference text, or the literal text."""
    entity: str = Field(min_length=1)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    text: str | None = None

    @model_validator(mode="after")
    def _where(self):
        if self.start is None and self.end is None:
            if not self.text:
                raise ValueError("give start and end (char offsets) or text")
        elif self.start is None or self.end is None or self.end <= self.start:
            raise ValueError("start and end must both be given, with end > start")
        return self


class _Item(_Strict):
    id: str = Field(min_length=1)
    language: Literal["en", "zh"]
    sentiment: Sentiment | None = None  # call-level (calls: the customer's final sentiment) or sentence-level
    pii: tuple[PiiSpan, ...] | None = None  # None = not labelled; () = labelled, none present
    form: str | None = None
    sop: dict[str, SopAnswer] | None = None

    @model_validator(mode="after")
    def _sop_needs_form(self):
        if self.sop is not None and not self.form:
            raise ValueError("`sop` answers need the `form` id they refer to")
        return self


class CallItem(_Item):
    kind: Literal["call"] = "call"
    audio: str = Field(min_length=1)  # relative to the dataset folder
    channels: Literal[1, 2] | None = None  # checked against the file when given
    agent_channel: Literal[0, 1] | None = None  # stereo: which channel is the agent (default 0)
    direction: Literal["inbound", "outbound"] | None = None
    transcript: str | None = None  # reference text (the whole call)
    turns: tuple[RefTurn, ...] | None = None  # per-turn reference (text, and speakers/times for DER)
    rttm: str | None = None  # reference speaker turns for DER, relative path
    uem: str | None = None  # scored regions for DER, relative path
    alerts: tuple[str, ...] | None = None  # expected alert rule ids or categories; () = expect none

    @model_validator(mode="after")
    def _consistent(self):
        if self.transcript is not None and self.turns is not None:
            raise ValueError("give either `transcript` or `turns`, not both")
        if self.uem and not self.rttm:
            raise ValueError("`uem` needs `rttm`")
        if self.agent_channel is not None and self.channels == 1:
            raise ValueError("`agent_channel` only applies to stereo (channels: 2)")
        chans = [t.channel is not None for t in self.turns or ()]
        if any(chans) and not all(chans):
            raise ValueError("give `channel` on every turn or on none")
        if any(chans) and self.channels == 1:
            raise ValueError("turn `channel` needs a stereo recording (channels: 2)")
        if self.pii and self.reference_text() is None:
            raise ValueError("`pii` spans refer to the reference text: give `transcript` or `turns`")
        return self

    def reference_text(self) -> str | None:
        if self.transcript is not None:
            return self.transcript
        if self.turns is not None:
            return ("" if self.language == "zh" else " ").join(t.text for t in self.turns)
        return None


class TextItem(_Item):
    kind: Literal["text"]
    text: str | None = None  # one sentence / utterance
    turns: tuple[RefTurn, ...] | None = None  # a dialogue (role-labelled lines), e.g. for SOP ratings

    @model_validator(mode="after")
    def _has_text(self):
        if (self.text is None) == (self.turns is None):
            raise ValueError("a text item needs exactly one of `text` or `turns`")
        return self

    def reference_text(self) -> str:
        if self.text is not None:
            return self.text
        return ("" if self.language == "zh" else " ").join(t.text for t in self.turns)


Item = Annotated[CallItem | TextItem, Field(discriminator="kind")]


class _Line(_Strict):
    item: Item


def _check_spans(item: CallItem | TextItem) -> None:
    text = item.reference_text()
    for k, s in enumerate(item.pii or ()):
        if s.start is not None and text is not None and s.end > len(text):
            raise ValueError(f"pii[{k}] end {s.end} is past the reference text ({len(text)} chars)")
        if s.start is None and text is not None and s.text not in text:
            raise ValueError(f"pii[{k}] text {s.text!r} does not occur in the reference text")


def parse_line(raw: str) -> CallItem | TextItem:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    data.setdefault("kind", "call")
    item = _Line(item=data).item
    _check_spans(item)
    return item


def load_manifest(folder: Path) -> list[CallItem | TextItem]:
    """All items of `folder/manifest.jsonl`; raises ManifestError naming file, line and field."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no {MANIFEST_NAME} in {folder}")
    items, seen = [], {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            item = parse_line(raw)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno})") from None
        except ValidationError as e:
            msgs = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:] if p not in ('call', 'text')) or '(line)'}: "
                             f"{err['msg']}" for err in e.errors())
            raise ManifestError(f"{path}:{n}: {msgs}") from None
        except ValueError as e:
            raise ManifestError(f"{path}:{n}: {e}") from None
        if item.id in seen:
            raise ManifestError(f"{path}:{n}: id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = n
        if isinstance(item, CallItem):
            for field in ("audio", "rttm", "uem"):
                rel = getattr(item, field)
                if rel is not None and not (folder / rel).is_file():
                    raise ManifestError(f"{path}:{n}: {field} file {rel!r} not found in {folder}")
        items.append(item)
    if not items:
        raise ManifestError(f"{path}: no items")
    return items


def write_manifest(folder: Path, items: list[dict]) -> Path:
    """Write `items` (dicts) as manifest.jsonl, validating each one first."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for k, d in enumerate(items, 1):
        try:
            parse_line(json.dumps(d, ensure_ascii=False))
        except (ValidationError, ValueError) as e:
            raise ManifestError(f"item {k} ({d.get('id')!r}) is invalid: {e}") from None
    path = folder / MANIFEST_NAME
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in items), encoding="utf-8")
    return path
