"""Object-key layout in the bucket, beside `recordings/`: one function per kind of object.

Unredacted material lives under `recordings/` and `transcripts/` only (access controlled there); everything
under the other prefixes went through the redaction boundary (pipeline.analysis) or holds no transcript text.

Inputs under the recordings prefix are told apart by their name alone (`input_kind`), so the pipeline's own
outputs and the metadata sidecars are never taken for calls:
    <name>.transcript.json          a transcript instead of a recording (callqa's own JSON or WhisperX JSON,
                                    told apart by content)
    <name>.jsonl / <name>.csv       a two-role chat log (`<name>.chat.jsonl` / `<name>.chat.csv` read alike)
    <name>.json                     the metadata sidecar of `<name>.<anything>`, never an input
    <name>.<anything else>          a recording (decoded by content)
and every result is written under one of `RESULT_PREFIXES`, which discovery skips."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

UNREDACTED_PREFIXES = ("recordings/", "transcripts/")
REPORTS_PREFIX = "reports/"
RESULT_PREFIXES = ("transcripts/", "metrics/", "quarantine/", "redacted/", "scorecards/", REPORTS_PREFIX)
UNREDACTED_RESULT_PREFIX = "transcripts/"
# Three kinds of material, each of which a site may keep in its own bucket under its own credentials:
#   raw         the inputs (recordings, sidecars, imported transcripts and chats): personal data, as uploaded
#   unredacted  the pipeline's unredacted transcripts: personal data
#   redacted    everything else the pipeline writes (redacted copies, scorecards, metrics, quarantine records,
#               reports): went through the redaction boundary or holds no transcript text
Material = Literal["raw", "unredacted", "redacted"]
MATERIALS: tuple[Material, ...] = ("raw", "unredacted", "redacted")

SIDECAR_SUFFIX = ".json"
TRANSCRIPT_SUFFIX = ".transcript.json"
CHAT_SUFFIXES = (".chat.jsonl", ".chat.csv", ".jsonl", ".csv")  # longest first: the whole suffix is the tag
InputKind = Literal["recording", "transcript", "chat", "sidecar"]


def material_of(key: str) -> Material:
    """Which kind of material the object at `key` is (see MATERIALS): decides its bucket and credentials."""
    if key.startswith(UNREDACTED_RESULT_PREFIX):
        return "unredacted"
    if key.startswith(RESULT_PREFIXES):
        return "redacted"
    return "raw"


def input_suffix(key: str) -> str:
    """The suffix that makes `key` a transcript or chat input ("" for recordings and sidecars), lower case."""
    name = key.rsplit("/", 1)[-1].lower()
    for suffix in (TRANSCRIPT_SUFFIX, *CHAT_SUFFIXES):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return ""


def input_kind(key: str) -> InputKind:
    """What an object under the recordings prefix is, by its name (see the module docstring)."""
    suffix = input_suffix(key)
    if suffix == TRANSCRIPT_SUFFIX:
        return "transcript"
    if suffix:
        return "chat"
    return "sidecar" if key.endswith(SIDECAR_SUFFIX) else "recording"


def input_stem(key: str) -> str:
    """`key` without its input suffix: `a/b.transcript.json`, `a/b.chat.csv` and `a/b.wav` all give `a/b`."""
    if suffix := input_suffix(key):
        return key[: -len(suffix)]
    p = PurePosixPath(key)
    return str(p.with_suffix("")) if p.suffix else key


def sidecar_key(key: str) -> str | None:
    """Where the metadata sidecar of input `key` would be (`<stem>.json`); None when that name is itself an
    input (a recording named `x.transcript.wav` has no sidecar: `x.transcript.json` is a transcript)."""
    candidate = input_stem(key) + SIDECAR_SUFFIX
    return None if candidate == key or input_kind(candidate) != "sidecar" else candidate


def transcript_key(call_id: str) -> str:
    return f"transcripts/{call_id}.json"


def metrics_key(call_id: str) -> str:
    return f"metrics/{call_id}.json"


def scorecard_key(call_id: str) -> str:
    return f"scorecards/{call_id}.json"


ORPHAN_SIDECARS_KEY = "quarantine/orphan-sidecars.json"  # metadata sidecars no recording claims


def quarantine_key(call_id: str) -> str:
    return f"quarantine/{call_id}.json"


def redacted_transcript_key(call_id: str) -> str:
    return f"redacted/transcripts/{call_id}.json"


def redacted_audio_key(call_id: str) -> str:
    return f"redacted/audio/{call_id}.wav"
