"""Transcripts and chat logs in place of recordings: parsed strictly into the `Transcript` a transcribed call
would have, so they are scored and checked the same way (pipeline.process hands them to the same analysis).

Formats (chosen by the object's name, `core.keys.input_kind`):
- `<name>.transcript.json`: callqa's own transcript (`Transcript.to_json`: has `schema_version`) or WhisperX
  JSON (`segments` with `start`, `end`, `text`, `speaker` and optional `words` with `word`, `start`, `end`,
  `score`, `speaker`; optional `language`; `word_segments` is ignored). WhisperX leaves some words (numbers,
  symbols) without times: those share the time between their timed neighbours. A word without `score` is
  taken as certain (1.0).
- `<name>.jsonl` (one JSON object a line) or `<name>.csv` (a header row, then one message a row): a chat
  between two roles, each message with `role` (or `speaker`) `agent`/`customer`, `text`, and optionally
  `timestamp` (or `start`): seconds from the start, an ISO 8601 date-time or a clock time `hh:mm:ss`. Either
  every message has one or none does; they must not go backwards.

Times of a chat. With timestamps, a message starts at its timestamp (relative to the first) and lasts as
long as it would take to say it; a message never starts before the previous one ended (one that would is
pushed back), so messages do not overlap. Without timestamps the times are synthetic and monotonically
increasing: each message lasts as long as it takes to say it at an ordinary speaking pace (150 words or 240
Chinese characters a minute, `SECONDS_PER_WORD` / `SECONDS_PER_HAN`, at least `MIN_MESSAGE_SECONDS`), and the
next follows `GAP_SECONDS` later, as turns follow in a call. Form rules in seconds (`within_first: 20`,
`within_last: 30`, `near`) then see the opening and closing turns of a chat as they see a call's; silence,
hold and overtalk are zero. The transcript carries the warning W008 so reviewers know the times are not real.

Roles: speakers named `agent`/`customer` (any case) keep those roles (rule "file"); callqa's own JSON keeps
its `speakers`; other labels (WhisperX `SPEAKER_00`/`SPEAKER_01`) are labelled by `transcribe.roles` as
diarized audio is. Language: the file's, else the sidecar's (both given and different: E110), else the
run's forced language, else detected from the text (Chinese characters: zh, otherwise en). A language is
one a profile knows (`core.languages`: a code, an alias such as cmn or eng, a regional tag such as zh-TW),
and its profile converts the text to the configured script (zh: OpenCC to Simplified or Traditional), as
transcribed calls are.

A malformed file is `TranscriptFileError` (E108): the message names the file, the line or record (a JSON
path such as `segments[3].words[0].end`) and a corrected example, never the file's text.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any, Callable

from core.chinese import CJK, Script
from core.errors import MetadataError, RecordingTooLargeError
from core.keys import input_kind, input_suffix
from core.languages import LanguageRegistry, languages_or_default
from core.models import Call, Segment, SpeakerInfo, Transcript
from transcribe.imported_formats import (
    CSV_EXAMPLE, JSONL_EXAMPLE, ROLE_LABELS, WHISPERX_EXAMPLE, fail, parse_chat_csv, parse_chat_jsonl,
    parse_whisperx,
)
from transcribe.roles import DEFAULT_RULES, label_roles, speaker_order

MAX_BYTES = 64 * 1024**2  # a transcript of a 4-hour call with word times is a few MB
W_SYNTHETIC_TIMES = "W008 a chat log without timestamps: message times are synthetic (see transcribe.imported)"
OUR_EXAMPLE = ('{"call_id": "c-1", "language": "en", "language_probability": 1.0, "duration": 2.0, '
               '"backend": "faster-whisper", "model": "base", "schema_version": "1.0", "segments": [{"start": 0.0, '
               '"end": 2.0, "text": "Thank you for calling.", "words": [], "speaker": "S0"}], "speakers": '
               '[{"speaker": "S0", "role": "agent", "confidence": 1.0, "rule": "file"}]}')


@dataclass(frozen=True)
class FileRoles:
    """A role rule (`transcribe.roles.RoleRule`) that answers with the roles the file states."""

    infos: tuple[SpeakerInfo, ...]
    name: str = "file"

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        present = set(speaker_order(transcript))
        return tuple(i for i in self.infos if i.speaker in present) or None


def import_transcript(data: bytes, key: str, call: Call, *, chinese_script: Script = "zh-Hans",
                      language: str | None = None, languages: LanguageRegistry | None = None) -> Transcript:
    """The role-labelled transcript of the call whose input `key` (a `.transcript.json`, `.jsonl` or `.csv`)
    holds `data`. `language` is the run's forced language (used when neither the file nor the sidecar names
    one); `languages` the profiles (default: the configured ones). Raises TranscriptFileError (E108) for a
    malformed file, MetadataError (E110) when the sidecar names another language than the file."""
    languages = languages_or_default(languages)
    kind = input_kind(key)
    if kind not in ("transcript", "chat"):
        raise ValueError(f"not a transcript or chat input: {kind}")
    if len(data) > MAX_BYTES:
        raise RecordingTooLargeError(f"{key}: {len(data) / 1024**2:.0f} MiB, over the {MAX_BYTES // 1024**2} MiB "
                                     "a transcript or chat log may have; split it")
    csv_file = input_suffix(key).endswith(".csv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        fail(key, f"byte {e.start}", "is not UTF-8 text: save the file as UTF-8",
             WHISPERX_EXAMPLE if kind == "transcript" else CSV_EXAMPLE if csv_file else JSONL_EXAMPLE)
    warnings: tuple[str, ...] = ()
    if kind == "chat":
        parse = parse_chat_csv if csv_file else parse_chat_jsonl
        segments, timed = parse(text, key)
        file_language, backend, model = None, "imported", "chat-" + input_suffix(key).rsplit(".", 1)[-1]
        transcript = _new(call, segments, backend, model)
        given: tuple[SpeakerInfo, ...] | None = _file_roles(transcript, key)
        warnings = () if timed else (W_SYNTHETIC_TIMES,)
    else:
        doc = _load_json(text, key)
        if "schema_version" in doc:
            transcript, given = _ours(doc, key)
            file_language = transcript.language
        else:
            segments, file_language = parse_whisperx(doc, key)
            transcript = _new(call, segments, "imported", "whisperx")
            given = _file_roles(transcript, key)
    lang, probability = _language(file_language, call, language, transcript, key, languages)
    script = languages.script(lang, chinese_script)
    transcript = replace(transcript, call_id=call.id, language=lang, language_probability=probability,
                         script=script, warnings=transcript.warnings + warnings)
    if script:
        transcript = _to_script(transcript, languages.converter(lang, script))
    return label_roles(transcript, call, (FileRoles(given),) if given else DEFAULT_RULES)


def _duration(segments) -> float:
    return round(max((max([s.end, *(w.end for w in s.words)]) for s in segments), default=0.0), 3)


def _new(call: Call, segments: list[Segment], backend: str, model: str) -> Transcript:
    return Transcript(call_id=call.id, language="", language_probability=0.0, duration=_duration(segments),
                      segments=tuple(sorted(segments, key=lambda s: s.start)), backend=backend, model=model)


def _load_json(text: str, key: str) -> dict:
    try:
        doc = json.loads(text, parse_constant=lambda c: fail(key, "", f"{c} is not valid JSON", WHISPERX_EXAMPLE))
    except json.JSONDecodeError as e:
        fail(key, f"line {e.lineno} column {e.colno}", f"not valid JSON ({e.msg})", WHISPERX_EXAMPLE)
    if not isinstance(doc, dict):
        fail(key, "top level", "must be a JSON object with \"segments\"", WHISPERX_EXAMPLE)
    return doc


def _file_roles(transcript: Transcript, key: str) -> tuple[SpeakerInfo, ...] | None:
    """Roles from speaker labels that are role names; None (label as diarized audio) when none is."""
    labels = speaker_order(transcript)
    named = [s for s in labels if s in ROLE_LABELS]
    if not named:
        return None
    if len(named) != len(labels):
        fail(key, "speakers", f"{len(named)} speaker label(s) are role names (agent, customer) and "
             f"{len(labels) - len(named)} are not: name every speaker by role, or none (SPEAKER_00, SPEAKER_01 "
             "are then labelled as diarized audio)", WHISPERX_EXAMPLE)
    return tuple(SpeakerInfo(s, s, 1.0, "file") for s in named)  # type: ignore[arg-type]


def _ours(doc: dict, key: str) -> tuple[Transcript, tuple[SpeakerInfo, ...] | None]:
    """callqa's own transcript JSON, checked against `TRANSCRIPT_SCHEMA` and for times that go backwards."""
    import jsonschema  # a dependency of prefect; only needed for this format

    from core.models import TRANSCRIPT_SCHEMA

    errors = sorted(jsonschema.Draft202012Validator(TRANSCRIPT_SCHEMA).iter_errors(doc),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        fail(key, _path(e.absolute_path) or "top level", _schema_problem(e), OUR_EXAMPLE)
    for i, seg in enumerate(doc["segments"]):
        _times(seg, key, f"segments[{i}]", OUR_EXAMPLE)
        for j, w in enumerate(seg["words"]):
            _times(w, key, f"segments[{i}].words[{j}]", OUR_EXAMPLE)
    if not doc["segments"]:
        fail(key, "segments", "is empty: nothing was said", OUR_EXAMPLE)
    transcript = Transcript.from_dict(doc)
    transcript = replace(transcript, segments=tuple(sorted(transcript.segments, key=lambda s: s.start)),
                         duration=max(transcript.duration, _duration(transcript.segments)))
    return transcript, transcript.speakers or _file_roles(transcript, key)


def _times(d: dict, key: str, where: str, example: str) -> None:
    if d["start"] < 0 or not math.isfinite(d["start"]) or not math.isfinite(d["end"]):
        fail(key, where + ".start", "must be a finite number of seconds, 0 or more", example)
    if d["end"] < d["start"]:
        fail(key, where + ".end", "is before its start", example)


def _path(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _schema_problem(e) -> str:
    """What is wrong, in words that never repeat the file's values (they may be call content)."""
    v, value = e.validator, e.validator_value
    if v == "required":
        missing = [k for k in value if isinstance(e.instance, dict) and k not in e.instance]
        return f"missing {', '.join(map(repr, missing))}"
    if v == "additionalProperties":
        allowed = sorted(e.schema.get("properties", {}))
        return f"has a key callqa transcripts do not have (allowed: {', '.join(allowed)})"
    if v == "type":
        return f"must be of type {value if isinstance(value, str) else ' or '.join(value)}"
    if v == "const":
        return f"must be {value!r}"
    if v == "enum":
        return f"must be one of {', '.join(map(str, value))}"
    return f"fails the schema's {v!r} ({value})"


def _language(file_language: str | None, call: Call, forced: str | None, transcript: Transcript,
              key: str, languages: LanguageRegistry) -> tuple[str, float]:
    stated = _language_code(file_language, key, languages) if file_language is not None else None
    if stated and call.language and stated != call.language:
        raise MetadataError(f"the sidecar names language {call.language!r} but {key} is {stated!r}; correct one "
                            "of them (or leave \"language\" out of the sidecar)")
    if lang := stated or call.language or forced:
        return lang, 1.0
    return detect_language(" ".join(s.text for s in transcript.segments))


def _language_code(value: Any, key: str, languages: LanguageRegistry) -> str:
    """The profile code of a language tag: a code, an alias (cmn, zho, chi, eng) or a regional tag."""
    code = languages.resolve(value) if isinstance(value, str) else None
    if code is None:
        fail(key, "language", f"must be one of {', '.join(languages.codes)} (the languages callqa checks: a "
             "language profile's code or alias), or left out to detect it", '{"language": "zh", "segments": [...]}')
    return code


def detect_language(text: str) -> tuple[str, float]:
    """zh when Chinese characters are at least as many as the other words, else en; with the share of the
    winner as its probability."""
    han = len(CJK.findall(text))
    words = sum(1 for t in CJK.sub(" ", text).split() if any(c.isalpha() for c in t))
    if han and han >= words:
        return "zh", round(han / (han + words), 4)
    return "en", round(words / (han + words), 4) if words else 1.0


def _to_script(t: Transcript, convert: Callable[[str], str]) -> Transcript:
    segs = tuple(replace(s, text=convert(s.text), words=tuple(replace(w, text=convert(w.text)) for w in s.words))
                 for s in t.segments)
    return replace(t, segments=segs)


__all__ = ["CSV_EXAMPLE", "JSONL_EXAMPLE", "OUR_EXAMPLE", "WHISPERX_EXAMPLE", "FileRoles", "MAX_BYTES",
           "detect_language", "import_transcript"]
