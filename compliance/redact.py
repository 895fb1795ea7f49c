"""PII redaction: locate findings of `compliance.pii` in a transcript (segment, chars, seconds) and
mask them in the transcript text/words and in the recording.

Times come from the words that overlap a finding's character span, so a number spoken as several
words ("four five six seven") covers all of them. Words are aligned to the segment text by finding
each word's text in order; when that fails (ASR text and words disagree) timing falls back to the
character position's proportional place inside the segment.
"""
from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from compliance.pii import PiiFinding, analyze
from infra.audio import AudioSource, DecodedAudio, probe
from core.errors import CorruptAudioError
from core.languages import LanguageRegistry, languages_or_default
from core.models import Segment, Transcript, Word

_PLACEHOLDERS = {
    "PHONE_NUMBER": "PHONE", "CARD_NUMBER": "CARD", "EMAIL_ADDRESS": "EMAIL", "DATE_OF_BIRTH": "DOB",
    "NATIONAL_ID": "ID", "ACCOUNT_NUMBER": "ACCOUNT",
}
TONE_HZ = 1000.0
TONE_LEVEL = 0.1  # about -20 dBFS: audible as a bleep, never louder than speech

REDACT_MIN_SCORE = 0.5  # findings below this (e.g. digit groups with no phone word) stay in the text


@dataclass(frozen=True)
class PiiSpan:
    segment_index: int
    entity: str
    char_start: int  # offsets into segments[segment_index].text
    char_end: int
    start: float  # seconds from call start
    end: float
    speaker: str | None
    role: str | None
    finding: PiiFinding


def placeholder(finding: PiiFinding) -> str:
    """`[PHONE]`, `[CARD]`, `[ACCOUNT]`, `[PERSON]`, `[LOCATION]`, `[ADDRESS]`, ...; mainland resident IDs
    become `[CN_ID]`, Taiwan IDs `[TW_ID]`."""
    if finding.entity == "NATIONAL_ID" and finding.pattern in ("cn_resident_id", "tw_id"):
        return f"[{finding.pattern.split('_')[0].upper()}_ID]"
    name = _PLACEHOLDERS.get(finding.entity) or re.sub(r"[^A-Z0-9]+", "_", finding.entity.upper())
    return f"[{name}]"


def _word_offsets(seg: Segment) -> list[tuple[int, int]] | None:
    """Char (start, end) of each word in `seg.text`, or None when the words cannot be found in order."""
    offsets, pos = [], 0
    for w in seg.words:
        token = w.text.strip()
        if not token:
            offsets.append((pos, pos))
            continue
        i = seg.text.find(token, pos)
        if i < 0:
            return None
        offsets.append((i, i + len(token)))
        pos = i + len(token)
    return offsets


def _overlapping(offsets: list[tuple[int, int]], start: int, end: int) -> list[int]:
    return [i for i, (ws, we) in enumerate(offsets) if ws < end and we > start and we > ws]


def _proportional(seg: Segment, start: int, end: int) -> tuple[float, float]:
    n = max(len(seg.text), 1)
    dur = seg.end - seg.start
    return seg.start + dur * start / n, seg.start + dur * end / n


def _span_times(seg: Segment, offsets: list[tuple[int, int]] | None, start: int, end: int) -> tuple[float, float]:
    idx = _overlapping(offsets, start, end) if offsets is not None else []
    if not idx:
        return _proportional(seg, start, end)
    return seg.words[idx[0]].start, seg.words[idx[-1]].end


TURN_GAP = 3.0  # seconds: a speaker's consecutive segments closer than this are analysed as one turn


def speaker_turns(parts: Sequence) -> list[list[int]]:
    """Indices of consecutive non-empty parts (segments or utterances: `text`, `speaker`, `role`, `start`,
    `end`) by one speaker less than TURN_GAP apart: whisper often splits a number read out slowly ("4121." /
    "64161286." / "1648.") across segments, so detection runs on whole turns."""
    turns: list[list[int]] = []
    for i, part in enumerate(parts):
        if not part.text.strip():
            continue
        prev = parts[turns[-1][-1]] if turns else None
        if prev is not None and prev.speaker == part.speaker and prev.role == part.role \
                and part.start - prev.end <= TURN_GAP:
            turns[-1].append(i)
        else:
            turns.append([i])
    return turns


_BOUNDARY_PUNCT = ".,;:。，、；："


def join_turn(texts: list[str], language: str, languages: LanguageRegistry | None = None) -> tuple[str, list[int]]:
    """One analysable text for a speaker's consecutive segments, and where each segment starts in it. The
    punctuation whisper puts at a segment's end becomes the separator (same length, so offsets hold):
    "4121." + "6416." must read as one digit sequence "4121 6416"."""
    space = languages_or_default(languages).joiner(language)  # the language profile's word joiner
    out, starts = "", []
    for i, t in enumerate(texts):
        starts.append(len(out))
        if i < len(texts) - 1 and t and t[-1] in _BOUNDARY_PUNCT:
            out += t[:-1] + " "
        else:
            out += t + (space if i < len(texts) - 1 else "")
    return out, starts


# what the other party says in the middle of a read-out without taking the turn ("4121 6416" / "uh-huh" /
# "1286 1648"): the speaker's number goes on across it
BACKCHANNELS = frozenset((
    "uh-huh mm-hmm mhm mm hmm uh huh yeah yes yep yup ok okay right sure go on got it alright all right "
    "嗯 嗯嗯 嗯哼 好 好的 对 對 是 是的 哦 噢 啊 行 明白 收到").split()) | {"got it", "go on", "all right", "uh huh"}


def is_backchannel(text: str) -> bool:
    words = re.sub(r"[.,!?;:。，、！？；：…\s]+", " ", text.lower()).strip()
    if not words:
        return False
    if words in BACKCHANNELS:
        return True
    tokens = words.split()
    return len(tokens) <= 3 and all(t in BACKCHANNELS for t in tokens)


@dataclass(frozen=True)
class AnalysisTurn:
    """One speaker's stretch of speech as personal-data detection reads it."""

    parts: tuple[int, ...]  # indices of the segments/utterances, in order
    text: str  # their texts joined (see join_turn)
    starts: tuple[int, ...]  # where each part starts in `text`
    role: str | None
    prior_text: str  # the other party's turn just before: a question gives its answer context


def analysis_turns(parts: Sequence, language: str, languages: LanguageRegistry | None = None) -> list[AnalysisTurn]:
    """Speaker turns (see speaker_turns), a speaker's turns on either side of a short backchannel by the
    other party joined into one, each with the other party's previous turn as context."""
    groups = speaker_turns(parts)
    turns: list[list[int]] = []
    i = 0
    while i < len(groups):
        group, first = list(groups[i]), parts[groups[i][0]]
        while i + 2 < len(groups) and (parts[groups[i + 2][0]].speaker, parts[groups[i + 2][0]].role) \
                == (first.speaker, first.role) and is_backchannel(" ".join(parts[k].text for k in groups[i + 1])):
            turns.append(list(groups[i + 1]))  # the backchannel stays a turn of its own
            group += groups[i + 2]
            i += 2
        turns.append(group)
        i += 1
    turns.sort(key=lambda g: g[0])
    joined = [join_turn([parts[k].text for k in g], language, languages) for g in turns]
    out = []
    for n, (group, (text, starts)) in enumerate(zip(turns, joined)):
        speaker = parts[group[0]].speaker
        prior = next((joined[m][0] for m in range(n - 1, -1, -1) if parts[turns[m][0]].speaker != speaker), "")
        out.append(AnalysisTurn(tuple(group), text, tuple(starts), parts[group[0]].role, prior))
    return out


def pii_rules(language: str | None, languages: LanguageRegistry | None = None) -> str | None:
    """The built-in PII rule set ("en" or "zh": patterns, spoken digits, context words, the recognizers
    configured for it) that the language's profile names (`pii`); None when it names none."""
    profile = languages_or_default(languages).get(language)
    return profile.pii if profile is not None else None


def find_pii(transcript: Transcript, *, min_score: float = REDACT_MIN_SCORE,
             languages: LanguageRegistry | None = None) -> list[PiiSpan]:
    """PII findings with score >= `min_score`, found per speaker turn (see analysis_turns) and located per
    segment in chars and seconds (a finding that crosses segments gives one span per segment it covers).
    The transcript's language profile (`languages`, default: the configured ones) names the rule set."""
    languages = languages_or_default(languages)
    rules = pii_rules(transcript.language, languages)
    if rules is None:
        raise ValueError("PII detection supports the languages whose profile names a PII rule set "
                         f"({', '.join(c for c in languages.codes if pii_rules(c, languages))}), "
                         f"not {transcript.language!r}")
    spans: list[PiiSpan] = []
    for turn in analysis_turns(transcript.segments, transcript.language, languages):
        found = analyze(turn.text, rules, prior_text=turn.prior_text,  # type: ignore[arg-type]
                        speaker_role=turn.role)
        for f in found:
            if f.score < min_score:
                continue
            for si, s0 in zip(turn.parts, turn.starts):
                seg = transcript.segments[si]
                cs, ce = max(f.start, s0) - s0, min(f.end, s0 + len(seg.text)) - s0
                while cs < ce and (seg.text[cs].isspace() or seg.text[cs] in _BOUNDARY_PUNCT):
                    cs += 1
                while ce > cs and (seg.text[ce - 1].isspace() or seg.text[ce - 1] in _BOUNDARY_PUNCT):
                    ce -= 1
                if ce <= cs:
                    continue
                offsets = _word_offsets(seg) if seg.words else None
                start, end = _span_times(seg, offsets, cs, ce)
                idx = _overlapping(offsets, cs, ce) if offsets is not None else []
                first = seg.words[idx[0]] if idx else None
                spans.append(PiiSpan(
                    segment_index=si, entity=f.entity, char_start=cs, char_end=ce, start=start, end=end,
                    speaker=(first.speaker if first and first.speaker else seg.speaker),
                    role=(first.role if first and first.role else seg.role), finding=f))
    return spans


def _redact_words(seg: Segment, seg_spans: list[PiiSpan]) -> tuple[Word, ...]:
    offsets = _word_offsets(seg)
    replacement: dict[int, Word] = {}
    dropped: set[int] = set()
    for sp in seg_spans:
        if offsets is not None:
            idx = _overlapping(offsets, sp.char_start, sp.char_end)
        else:  # unaligned words: mask those whose time overlaps the span's proportional time
            idx = [i for i, w in enumerate(seg.words) if w.start < sp.end and w.end > sp.start]
        if not idx:
            continue
        first, last = seg.words[idx[0]], seg.words[idx[-1]]
        replacement[idx[0]] = replace(first, text=placeholder(sp.finding), end=max(first.end, last.end),
                                      probability=min(seg.words[i].probability for i in idx))
        dropped.update(idx[1:])
    return tuple(replacement.get(i, w) for i, w in enumerate(seg.words) if i not in dropped)


def redact_transcript(transcript: Transcript, spans: list[PiiSpan]) -> Transcript:
    """Copy of `transcript` with each span's text and words replaced by a typed placeholder."""
    by_segment: dict[int, list[PiiSpan]] = {}
    for sp in spans:
        if not 0 <= sp.segment_index < len(transcript.segments):
            raise ValueError(f"PiiSpan segment_index {sp.segment_index} outside the transcript's "
                             f"{len(transcript.segments)} segments")
        seg = transcript.segments[sp.segment_index]
        if not 0 <= sp.char_start < sp.char_end <= len(seg.text):
            raise ValueError(f"PiiSpan chars {sp.char_start}..{sp.char_end} outside segment "
                             f"{sp.segment_index} of length {len(seg.text)}")
        by_segment.setdefault(sp.segment_index, []).append(sp)
    segments = list(transcript.segments)
    for si, seg_spans in by_segment.items():
        seg_spans.sort(key=lambda s: s.char_start)
        for a, b in zip(seg_spans, seg_spans[1:]):
            if b.char_start < a.char_end:
                raise ValueError(f"overlapping PII spans in segment {si}: "
                                 f"{a.char_start}..{a.char_end} and {b.char_start}..{b.char_end}")
        seg = segments[si]
        text = seg.text
        for sp in reversed(seg_spans):  # right to left keeps earlier offsets valid
            text = text[:sp.char_start] + placeholder(sp.finding) + text[sp.char_end:]
        segments[si] = replace(seg, text=text, words=_redact_words(seg, seg_spans))
    return replace(transcript, segments=tuple(segments),
                   warnings=transcript.warnings + (f"redacted {len(spans)} spans",))


def _merge_intervals(intervals: list[tuple[float, float]], pad: float) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if b < a:
            raise ValueError(f"redaction interval ends before it starts: {a} > {b}")
        a, b = max(0.0, a - pad), b + pad  # past the end is harmless: the streamed blocks end there
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


BLOCK_SECONDS = 30.0  # redaction streams the recording in blocks: memory does not grow with call length


def audio_intervals(spans: list[PiiSpan]) -> list[tuple[float, float]]:
    """Seconds to cover in the audio: one interval per finding, from its first to its last piece, so the
    pause between segments of a number read out slowly is covered too."""
    by_finding: dict[tuple, list[PiiSpan]] = {}
    for sp in spans:
        by_finding.setdefault((sp.speaker, sp.finding), []).append(sp)
    return sorted((min(s.start for s in group), max(s.end for s in group)) for group in by_finding.values())


def _decode_error(proc: subprocess.Popen, stderr: bytes) -> CorruptAudioError:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    # ffmpeg prefixes errors with the input path, which may name a customer: keep only the reason
    reason = re.sub(r"^.*?: ", "", lines[-1]) if lines else "no diagnostic"
    return CorruptAudioError(f"ffmpeg could not decode the recording for redaction (exit {proc.returncode}): {reason}")


def redact_audio(src: AudioSource, dst: Path, intervals: list[tuple[float, float]], *,
                 mode: Literal["tone", "silence"] = "tone", pad: float = 0.1) -> None:
    """Write `dst` (16-bit WAV, same rate/channels/length as `src`) with the padded intervals replaced
    by a low 1 kHz tone or silence. `src`: the call decoded once (`DecodedAudio`: its samples at the
    recording's own rate are read from its file, nothing decoded or probed) or a recording's path (probed
    and decoded here). Streams: memory stays at one block whatever the call's length."""
    if mode not in ("tone", "silence"):
        raise ValueError(f"redact_audio mode must be 'tone' or 'silence', not {mode!r}")
    if pad < 0:
        raise ValueError(f"redact_audio pad must be >= 0, not {pad}")
    merged = _merge_intervals(intervals, pad)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(src, DecodedAudio):
        frames, rate = src.frames()
        channels = src.channels
        block = int(BLOCK_SECONDS * rate)
        blocks = (np.array(frames[i:i + block], dtype="<f4") for i in range(0, len(frames), block))
        try:
            _write_redacted(dst, blocks, rate, channels, merged, mode)
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        return
    stream = next((s for s in probe(src).get("streams", ()) if s.get("codec_type") == "audio"), None)
    if stream is None:
        raise CorruptAudioError("no audio stream to redact")
    rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    block = int(BLOCK_SECONDS * rate)
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-vn", "-f", "f32le",
                             "-acodec", "pcm_f32le", "-ar", str(rate), "-ac", str(channels), "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def piped():
        while raw := proc.stdout.read(block * channels * 4):
            samples = np.frombuffer(raw[: len(raw) - len(raw) % (channels * 4)], dtype="<f4")
            yield samples.reshape(-1, channels).copy()

    try:
        _write_redacted(dst, piped(), rate, channels, merged, mode)
        stderr = proc.stderr.read()
        if proc.wait(timeout=600) != 0:
            raise _decode_error(proc, stderr)
    except BaseException:
        proc.kill()
        proc.wait()
        dst.unlink(missing_ok=True)
        raise


def _write_redacted(dst: Path, blocks, rate: int, channels: int, merged: list[tuple[float, float]],
                    mode: str) -> None:
    """16-bit WAV from float32 blocks (frames x channels, writable), the merged intervals covered."""
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        offset = 0  # frames written so far
        for samples in blocks:
            for a, b in merged:
                i = max(int(round(a * rate)) - offset, 0)
                j = min(int(round(b * rate)) - offset, len(samples))
                if i >= j:
                    continue
                if mode == "silence":
                    samples[i:j] = 0.0
                else:
                    t = (np.arange(i, j) + offset) / rate
                    samples[i:j] = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t))[:, None]
            w.writeframes((np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes())
            offset += len(samples)


def redact_text(text: str, language: str, speaker_role: str | None = None, *,
                languages: LanguageRegistry | None = None) -> str:
    """`text` with every finding that the redacted transcript would also mask replaced by its placeholder
    (an agent's quote is read as the agent's: a long number it reads out is masked). Detection runs again:
    for text that does not come from an analysed transcript (legacy stored scorecards)."""
    rules = pii_rules(language, languages) or "en"  # a language without rules is still masked, as English
    found = [f for f in analyze(text, rules, speaker_role=speaker_role)  # type: ignore[arg-type]
             if f.score >= REDACT_MIN_SCORE]
    for f in sorted(found, key=lambda f: f.start, reverse=True):
        text = text[: f.start] + placeholder(f) + text[f.end:]
    return text


def known_values(transcript: Transcript, spans: Sequence[PiiSpan]) -> tuple[tuple[str, str], ...]:
    """(text as it stands in the transcript, placeholder) of every span, longest first: what `mask_known`
    replaces in quotes taken from this transcript (evidence), so they are masked exactly like the redacted
    transcript without running detection again."""
    pairs = {(transcript.segments[sp.segment_index].text[sp.char_start:sp.char_end], placeholder(sp.finding))
             for sp in spans}
    return tuple(sorted((p for p in pairs if p[0].strip()), key=lambda p: (-len(p[0]), p[0])))


def mask_known(text: str, values: Sequence[tuple[str, str]]) -> str:
    """`text` with every known personal value replaced by its placeholder; a value made of letters or digits
    is replaced only where it stands as a whole word ("Li" is masked, "Like" is not)."""
    for value, ph in values:
        left = r"(?<![A-Za-z0-9])" if value[0].isascii() and value[0].isalnum() else ""
        right = r"(?![A-Za-z0-9])" if value[-1].isascii() and value[-1].isalnum() else ""
        text = re.sub(left + re.escape(value) + right, lambda _m, ph=ph: ph, text)
    return text
