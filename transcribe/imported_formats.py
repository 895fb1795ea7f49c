"""The strict readers behind `transcribe.imported`: WhisperX JSON and two-role chat logs (CSV, JSONL) into
segments. Formats, times and roles are described in `transcribe.imported`; every problem is a
`TranscriptFileError` (E108) naming the file, the line or record and a corrected example, never quoting the
file's text (only key and column names that look like names)."""
from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
from datetime import datetime
from typing import Any, Iterable, NoReturn

from core.chinese import CJK
from core.errors import TranscriptFileError
from core.models import Segment, Word

ROLE_LABELS = ("agent", "customer")
SECONDS_PER_WORD = 0.4  # 150 words a minute
SECONDS_PER_HAN = 0.25  # 240 Chinese characters a minute
MIN_MESSAGE_SECONDS = 1.0
GAP_SECONDS = 0.5  # between chat messages without timestamps

WHISPERX_EXAMPLE = ('{"language": "en", "segments": [{"start": 0.0, "end": 2.1, "text": "Thank you for calling.", '
                    '"speaker": "SPEAKER_00", "words": [{"word": "Thank", "start": 0.0, "end": 0.3, "score": 0.98, '
                    '"speaker": "SPEAKER_00"}]}]}')
CSV_EXAMPLE = ('a header row, then one message a row (lines shown separated by " | "): role,text,timestamp | '
               'agent,"Thank you for calling, how can I help?",2026-11-27T09:30:00+08:00 | '
               'customer,I would like a refund.,2026-11-27T09:30:07+08:00')
JSONL_EXAMPLE = ('one JSON object a line: {"role": "agent", "text": "Thank you for calling, how can I help?", '
                 '"timestamp": 0} then {"role": "customer", "text": "I would like a refund.", "timestamp": 6.5}')

_WHISPERX_TOP = ("segments", "word_segments", "language")
_SEGMENT_KEYS = ("start", "end", "text", "speaker", "words")
_WHISPER_EXTRA = ("id", "seek", "tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob",
                  "chars")  # what whisper writes beside them; read (the log-probs) or ignored
_WORD_KEYS = ("word", "start", "end", "score", "speaker")
_CHAT_KEYS = ("role", "speaker", "text", "timestamp", "start")
_SAFE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,31}")  # quoted in messages; anything else may be call content
_CLOCK = re.compile(r"(\d{1,3}):([0-5]\d):([0-5]\d(?:\.\d+)?)")


def fail(key: str, where: str, problem: str, example: str) -> NoReturn:
    raise TranscriptFileError(f"{key}{' ' + where if where else ''}: {problem}; expected e.g. {example}")


def _name(k: Any) -> str:
    return repr(k) if isinstance(k, str) and _SAFE_NAME.fullmatch(k) else "a key"


def _check_keys(d: dict, allowed: Iterable[str], key: str, where: str, example: str, what: str = "key") -> None:
    allowed = tuple(allowed)
    for k in d:
        if k not in allowed:
            close = difflib.get_close_matches(str(k).lower(), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            fail(key, where, f"unknown {what} {_name(k)} ({hint})", example)


def _seconds(v: Any, key: str, where: str, example: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        fail(key, where, "must be a number of seconds, 0 or more", example)
    return float(v)


def _role(v: Any, key: str, where: str, example: str) -> str:
    role = v.strip().lower() if isinstance(v, str) else None
    if role not in ROLE_LABELS:
        fail(key, where, "must be agent or customer", example)
    return role


def speaker_label(v: Any, key: str, where: str, example: str) -> str:
    """A speaker label as given; role names (any case) in lower case."""
    if not isinstance(v, str) or not v.strip():
        fail(key, where, "must be a speaker label (agent, customer, or SPEAKER_00 style)", example)
    return v.strip().lower() if v.strip().lower() in ROLE_LABELS else v.strip()


# ---- WhisperX ----

def parse_whisperx(doc: dict, key: str) -> tuple[list[Segment], Any]:
    """Segments of a WhisperX result and its `language` (None when absent). Every segment needs a speaker
    (its own, or one on each of its words)."""
    ex = WHISPERX_EXAMPLE
    _check_keys(doc, _WHISPERX_TOP, key, "top level", ex)
    segments = doc.get("segments")
    if not isinstance(segments, list):
        fail(key, "segments", "must be a list of segments", ex)
    if not segments:
        fail(key, "segments", "is empty: nothing was said", ex)
    out = []
    for i, s in enumerate(segments):
        where = f"segments[{i}]"
        if not isinstance(s, dict):
            fail(key, where, "must be an object with start, end, text and speaker", ex)
        _check_keys(s, _SEGMENT_KEYS + _WHISPER_EXTRA, key, where, ex)
        for k in ("start", "end", "text"):
            if k not in s:
                fail(key, where, f"missing {k!r}", ex)
        start, end = _seconds(s["start"], key, where + ".start", ex), _seconds(s["end"], key, where + ".end", ex)
        if end < start:
            fail(key, where + ".end", "is before its start", ex)
        if not isinstance(s["text"], str):
            fail(key, where + ".text", "must be a string", ex)
        speaker = speaker_label(s["speaker"], key, where + ".speaker", ex) if s.get("speaker") is not None else None
        raw_words = s.get("words", [])
        if not isinstance(raw_words, list):
            fail(key, where + ".words", "must be a list of words", ex)
        words = _words(raw_words, start, end, key, where, ex)
        if speaker is None and (not words or any(w.speaker is None for w in words)):
            fail(key, where, "has no speaker (give the segment a \"speaker\", e.g. SPEAKER_00 or agent)", ex)
        if not s["text"].strip() and not words:
            fail(key, where + ".text", "is empty", ex)
        logprob = {k: float(s[k]) for k in ("avg_logprob", "no_speech_prob")
                   if isinstance(s.get(k), (int, float)) and not isinstance(s.get(k), bool) and math.isfinite(s[k])}
        out.append(Segment(start, end, s["text"].strip(), words, speaker=speaker, **logprob))
    return out, doc.get("language")


def _words(raw: list, seg_start: float, seg_end: float, key: str, where: str, ex: str) -> tuple[Word, ...]:
    parsed: list[tuple[str, float | None, float | None, float, str | None]] = []
    for j, w in enumerate(raw):
        at = f"{where}.words[{j}]"
        if not isinstance(w, dict):
            fail(key, at, "must be an object with word, start, end", ex)
        _check_keys(w, _WORD_KEYS, key, at, ex)
        if not isinstance(w.get("word"), str):
            fail(key, at + ".word", "must be a string", ex)
        if ("start" in w) != ("end" in w):
            fail(key, at, "has only one of start and end (give both, or neither for an unaligned word)", ex)
        start = _seconds(w["start"], key, at + ".start", ex) if "start" in w else None
        end = _seconds(w["end"], key, at + ".end", ex) if "end" in w else None
        if start is not None and end is not None and end < start:
            fail(key, at + ".end", "is before its start", ex)
        score = w.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
            fail(key, at + ".score", "must be a number from 0 to 1", ex)
        spk = speaker_label(w["speaker"], key, at + ".speaker", ex) if w.get("speaker") is not None else None
        parsed.append((w["word"].strip(), start, end, float(score), spk))
    return tuple(Word(text, s, e, p, speaker) for text, s, e, p, speaker in _fill_times(parsed, seg_start, seg_end)
                 if text)


def _fill_times(words: list, seg_start: float, seg_end: float) -> list:
    """Untimed words (WhisperX leaves numbers and symbols unaligned) share the gap between their timed
    neighbours (the segment's bounds at either end) evenly."""
    out, i, n = list(words), 0, len(words)
    while i < n:
        if out[i][1] is not None:
            i += 1
            continue
        j = i
        while j < n and out[j][1] is None:
            j += 1
        left = out[i - 1][2] if i > 0 else seg_start
        right = max(left, words[j][1] if j < n else seg_end)
        step = (right - left) / (j - i)
        for k in range(i, j):
            a = round(left + step * (k - i), 3)
            out[k] = (out[k][0], a, max(a, round(a + step, 3)), out[k][3], out[k][4])
        i = j
    return out


# ---- chat logs ----

def message_seconds(text: str) -> float:
    """How long saying `text` takes at an ordinary pace (the length of a chat message on the time line)."""
    han = len(CJK.findall(text))
    words = sum(1 for t in CJK.sub(" ", text).split() if any(c.isalnum() for c in t))
    return round(max(MIN_MESSAGE_SECONDS, han * SECONDS_PER_HAN + words * SECONDS_PER_WORD), 3)


def _stamp(v: Any, key: str, where: str, ex: str) -> float | datetime:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _seconds(v, key, where, ex)
    if isinstance(v, str):
        s = v.strip()
        if m := _CLOCK.fullmatch(s):
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        try:
            return _seconds(float(s), key, where, ex)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(s)
        except ValueError:
            pass
    fail(key, where, "must be seconds (6.5), an ISO 8601 date-time (2026-11-27T09:30:07+08:00) or a clock "
         "time (09:30:07)", ex)


def _chat(messages: list[tuple[str, str, str, Any]], key: str, ex: str) -> tuple[list[Segment], bool]:
    """Segments from (where, role, text, raw timestamp or None) in file order; whether the file had times."""
    if not messages:
        fail(key, "", "has no messages", ex)
    timed = messages[0][3] is not None
    stamps: list[float] = []
    first: float | datetime | None = None
    for where, _, _, raw in messages:
        if (raw is not None) != timed:
            problem = "timestamp missing" if timed else "has a timestamp but the first message has none"
            fail(key, where, problem + "; give every message a timestamp, or none", ex)
        if not timed:
            continue
        t = _stamp(raw, key, where + " timestamp", ex)
        if first is None:
            first = t
        if isinstance(t, datetime) != isinstance(first, datetime) or (
                isinstance(t, datetime) and (t.tzinfo is None) != (first.tzinfo is None)):
            fail(key, where + " timestamp", "is of another kind than the first message's (mix neither seconds "
                 "and date-times nor date-times with and without a UTC offset)", ex)
        rel = (t - first).total_seconds() if isinstance(t, datetime) else t - first
        if stamps and rel < stamps[-1]:
            fail(key, where + " timestamp", "is earlier than the previous message's (messages go in time order)",
                 ex)
        stamps.append(rel)
    segments, prev_end = [], 0.0
    for i, (_, role, text, _) in enumerate(messages):
        start = max(stamps[i], prev_end) if timed else (prev_end + GAP_SECONDS if i else 0.0)
        start = round(start, 3)
        end = round(start + message_seconds(text), 3)
        segments.append(Segment(start, end, text, (), speaker=role, role=role))
        prev_end = end
    return segments, timed


def _message(record: dict, key: str, where: str, ex: str) -> tuple[str, str, str, Any]:
    for a, b in (("role", "speaker"), ("timestamp", "start")):
        if a in record and b in record:
            fail(key, where, f"has both {a!r} and {b!r}: give one", ex)
    if "role" not in record and "speaker" not in record:
        fail(key, where, "missing 'role' (agent or customer)", ex)
    if "text" not in record:
        fail(key, where, "missing 'text'", ex)
    role_key = "role" if "role" in record else "speaker"
    role = _role(record[role_key], key, f"{where} {role_key}", ex)
    if not isinstance(record["text"], str):
        fail(key, where + " text", "must be a string", ex)
    if not record["text"].strip():
        fail(key, where + " text", "is empty (leave out messages without text, e.g. attachments)", ex)
    stamp = record.get("timestamp", record.get("start"))
    return where, role, record["text"].strip(), None if stamp == "" else stamp


def parse_chat_jsonl(text: str, key: str) -> tuple[list[Segment], bool]:
    messages = []
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): JSON strings may hold U+2028
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            record = json.loads(line, parse_constant=lambda c: fail(key, where, f"{c} is not valid JSON",
                                                                     JSONL_EXAMPLE))
        except json.JSONDecodeError as e:
            fail(key, f"{where} column {e.colno}", f"not valid JSON ({e.msg})", JSONL_EXAMPLE)
        if not isinstance(record, dict):
            fail(key, where, "must be a JSON object", JSONL_EXAMPLE)
        _check_keys(record, _CHAT_KEYS, key, where, JSONL_EXAMPLE)
        messages.append(_message(record, key, where, JSONL_EXAMPLE))
    return _chat(messages, key, JSONL_EXAMPLE)


def parse_chat_csv(text: str, key: str) -> tuple[list[Segment], bool]:
    ex = CSV_EXAMPLE
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # strict: an unclosed quote is an error
    header: list[str] | None = None
    messages, line = [], 1
    try:
        for row in reader:
            where, line = f"line {line}", reader.line_num + 1  # a quoted field may span lines
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, key, where)
                continue
            if len(row) != len(header):
                fail(key, where, f"has {len(row)} fields but the header has {len(header)} (put text holding "
                     "commas in double quotes)", ex)
            messages.append(_message(dict(zip(header, row)), key, where, ex))
    except csv.Error as e:
        fail(key, f"line {line}", f"is not valid CSV ({e}; close every double quote, double a quote inside one)",
             ex)
    return _chat(messages, key, ex)


def _header(row: list[str], key: str, where: str) -> list[str]:
    names = [c.strip().lower() for c in row]
    if any(n in ROLE_LABELS for n in names):
        fail(key, where, "looks like a message: the first line must name the columns", CSV_EXAMPLE)
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        fail(key, where, "has one column: separate columns with commas", CSV_EXAMPLE)
    _check_keys(dict.fromkeys(names), _CHAT_KEYS, key, where + " (header)", CSV_EXAMPLE, what="column")
    if len(set(names)) != len(names):
        fail(key, where + " (header)", "names a column twice", CSV_EXAMPLE)
    return names
