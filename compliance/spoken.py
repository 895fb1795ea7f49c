"""Spoken digits in transcripts: speech-to-text often writes numbers as words ("four one one one",
「幺三八」). `normalise_spoken_digits` rewrites such runs as Arabic digits and keeps, per output char, the
span of the original text it came from, so findings on the normalised text map back to the original."""
from __future__ import annotations

import re
from dataclasses import dataclass

from compliance.pii_types import Language, check_language as _check_language

MIN_SPOKEN_DIGITS = 4  # shorter runs ("one", "oh no") are ordinary speech, not numbers


_EN_DIGITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_EN_REPEAT = {"double": 2, "triple": 3}
_ZH_DIGITS = {"〇": "0", "零": "0", "幺": "1", "一": "1", "二": "2", "两": "2", "兩": "2", "三": "3", "四": "4",
              "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}

OffsetMap = tuple[tuple[int, int], ...]  # per normalised char: (start, end) of its source in the original


def normalise_spoken_digits(text: str, language: Language) -> tuple[str, OffsetMap]:
    """Rewrite runs of spoken digits as Arabic digits; `offset_map[i]` is the original span of char i."""
    _check_language(language)
    return _normalise_zh(text) if language == "zh" else _normalise_en(text)


def _normalise_zh(text: str) -> tuple[str, OffsetMap]:
    out = list(text)
    # groups may be separated by the commas speech-to-text writes for pauses: 一三八，一二三四，五六七八
    for run in re.finditer(r"[0-9%s](?:(?:[\s\-]|[，,、]\s?)*[0-9%s])*" % (("".join(_ZH_DIGITS),) * 2), text):
        chunk = run.group(0)
        if sum(ch.isdigit() or ch in _ZH_DIGITS for ch in chunk) >= MIN_SPOKEN_DIGITS and not chunk.isascii():
            for i in range(run.start(), run.end()):
                out[i] = _ZH_DIGITS.get(text[i], text[i])
    return "".join(out), tuple((i, i + 1) for i in range(len(text)))  # one char per char: identity map


def _normalise_en(text: str) -> tuple[str, OffsetMap]:
    tokens = list(re.finditer(r"[A-Za-z]+|\d+", text))
    runs: list[list[tuple[str, int, int]]] = []  # runs of (digits, start, end)
    current: list[tuple[str, int, int]] = []
    prev_end, i = None, 0
    while i < len(tokens):
        tok, word = tokens[i], tokens[i].group(0).lower()
        if word in _EN_REPEAT and i + 1 < len(tokens) and tokens[i + 1].group(0).lower() in _EN_DIGITS \
                and re.fullmatch(r"\s+", text[tok.end():tokens[i + 1].start()]):
            item = (_EN_DIGITS[tokens[i + 1].group(0).lower()] * _EN_REPEAT[word], tok.start(), tokens[i + 1].end())
            i += 2
        elif word in _EN_DIGITS or word.isdigit():
            item = (_EN_DIGITS.get(word, word), tok.start(), tok.end())
            i += 1
        else:
            if current:
                runs.append(current)
            current, prev_end, i = [], None, i + 1
            continue
        if current and not re.fullmatch(r"[\s,.\-]*", text[prev_end:item[1]]):  # "Four one. Six four."
            runs.append(current)
            current = []
        current.append(item)
        prev_end = item[2]
    if current:
        runs.append(current)

    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for run in runs:
        # all-Arabic runs are left as written: the raw pass already sees them, and joining them would
        # invent numbers ("in 2023, 2024")
        if sum(len(d) for d, _, _ in run) < MIN_SPOKEN_DIGITS or all(text[s:e].isdigit() for _, s, e in run):
            continue
        for k in range(pos, run[0][1]):
            out.append(text[k])
            spans.append((k, k + 1))
        for digits, s, e in run:
            for ch in digits:
                out.append(ch)
                spans.append((s, e))
        pos = run[-1][2]
    for k in range(pos, len(text)):
        out.append(text[k])
        spans.append((k, k + 1))
    return "".join(out), tuple(spans)


# --- digit runs as speech recognition writes them ----------------------------------------------------
# Whisper writes a number read out in groups in many ways: "4121. 6416.", "4121...6416", "4121…6416",
# "4121, 6416", 「一三八，一二三四」, "A, 1234, 56789", "four one two one six four...". `join_digit_runs` finds
# such runs and writes each as one compact token ("4121641612861648"), so the checksum and shape checks
# see the whole number however the pauses were punctuated.

_ZH_RUN_DIGITS = {**_ZH_DIGITS, "洞": "0"}  # 洞 is zero in read-out (radio/aviation) style
_RUN_TOKEN = re.compile(
    r"(?P<double>\b(?i:double|triple)\s+(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
    r"|(?P<word>\b(?i:zero|oh|o|one|two|three|four|five|six|seven|eight|nine)\b)"
    r"|(?P<alnum>(?<![A-Za-z0-9])(?:[A-Z0-9]*\d[A-Z0-9]*|[A-Z])(?![A-Za-z0-9]))"
    r"|(?P<zh>[%s])" % "".join(_ZH_RUN_DIGITS))
# what may stand between two groups of one number: spaces, line ends, ". ", "...", "…", commas, 、, dashes
_RUN_GAP = re.compile(r"(?:\s|\.{2,}|\.(?=\s)|…|[,，、。\-–—])*")
_EDGE_OH = {"oh", "o"}


Piece = tuple[int, int, str]  # (start, end, value) of one group or number word of a run


@dataclass(frozen=True)
class DigitRun:
    pieces: tuple[Piece, ...]  # the groups / words it was written as, in order
    spoken: bool  # some of it was written as words or Chinese numerals

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def end(self) -> int:
        return self.pieces[-1][1]

    @property
    def value(self) -> str:
        """Digits and spelled capitals, separators dropped ("A123456789")."""
        return "".join(v for _, _, v in self.pieces)

    @property
    def digits(self) -> int:
        return sum(ch.isdigit() for ch in self.value)


@dataclass(frozen=True)
class JoinedDigits:
    text: str  # the original text with every run written as its compact value
    spans: OffsetMap  # per char of `text`: its span in the original (a run's char: its piece's span)
    runs: tuple[DigitRun, ...]  # every run found, compacted or not


def _token_value(m: re.Match[str]) -> str | None:
    tok = m.group(0)
    if m.group("double"):
        rep, digit = tok.lower().split()
        return _EN_DIGITS[digit] * _EN_REPEAT[rep]
    if m.group("word"):
        return _EN_DIGITS[tok.lower()]
    if m.group("zh"):
        return _ZH_RUN_DIGITS[tok]
    return tok  # digit groups, and spelled letters, which come out in capitals


def _gap_joins(gap: str, before: Piece, after: Piece) -> bool:
    if gap == ".":  # "12.50" is a decimal; "4121.6416" is two groups read with a pause
        return len(before[2]) >= 3 and len(after[2]) >= 3 and before[2].isdigit() and after[2].isdigit()
    return bool(_RUN_GAP.fullmatch(gap))


def _has_digit(piece: Piece) -> bool:
    return any(ch.isdigit() for ch in piece[2])


def _trim(run: list[Piece], text: str) -> list[Piece]:
    """A lone "oh" set off by punctuation at either end ("Oh, 4121 ...") is an interjection, not a zero;
    capitals with no digit at either end are words ("OK", "I") unless one spelled letter leads a long
    number (a Taiwan ID read "A, 1234, 56789")."""
    if len(run) > 1 and text[run[0][0]:run[0][1]].lower() in _EDGE_OH and text[run[0][1]:run[1][0]].strip():
        run = run[1:]
    if len(run) > 1 and text[run[-1][0]:run[-1][1]].lower() in _EDGE_OH and text[run[-2][1]:run[-1][0]].strip():
        run = run[:-1]
    while run and not _has_digit(run[0]):
        if len(run[0][2]) == 1 and run[0][2] != "I" and DigitRun(tuple(run[1:]), False).digits >= 8:
            break
        run = run[1:]
    while run and not _has_digit(run[-1]):
        run = run[:-1]
    return run


def find_digit_runs(text: str, language: Language) -> list[DigitRun]:
    """Runs of digit groups, number words and spelled capitals separated only by pause punctuation, each
    holding at least MIN_SPOKEN_DIGITS digits."""
    _check_language(language)
    pieces: list[Piece] = []
    spoken: set[int] = set()  # start offsets of pieces written as words / numerals
    for m in _RUN_TOKEN.finditer(text):
        if language == "zh" and (m.group("word") or m.group("double")) or language == "en" and m.group("zh"):
            continue
        value = _token_value(m)
        if value is None:
            continue
        if not m.group("alnum"):
            spoken.add(m.start())
        pieces.append((m.start(), m.end(), value))
    groups: list[list[Piece]] = []
    for p in pieces:
        if groups and _gap_joins(text[groups[-1][-1][1]:p[0]], groups[-1][-1], p):
            groups[-1].append(p)
        else:
            groups.append([p])
    out = []
    for group in groups:
        run = _trim(group, text)
        if run and (r := DigitRun(tuple(run), any(s in spoken for s, _, _ in run))).digits >= MIN_SPOKEN_DIGITS:
            out.append(r)
    return out


def join_digit_runs(text: str, language: Language) -> JoinedDigits:
    """`text` with each digit run (see `find_digit_runs`) written compactly, and the offset map back. Runs
    already written as one group of digits are left as they are."""
    runs = tuple(find_digit_runs(text, language))
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for r in (r for r in runs if len(r.pieces) > 1 or r.spoken):
        for k in range(pos, r.start):
            out.append(text[k])
            spans.append((k, k + 1))
        for s, e, value in r.pieces:
            out.extend(value)
            spans.extend([(s, e)] * len(value))
        pos = r.end
    for k in range(pos, len(text)):
        out.append(text[k])
        spans.append((k, k + 1))
    return JoinedDigits("".join(out), tuple(spans), runs)
