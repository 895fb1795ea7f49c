"""Spoken digits in transcripts: speech-to-text often writes numbers as words ("four one one one",
「幺三八」). `normalise_spoken_digits` rewrites such runs as Arabic digits and keeps, per output char, the
span of the original text it came from, so findings on the normalised text map back to the original."""
from __future__ import annotations

import re

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
