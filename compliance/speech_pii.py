"""Recognizers for personal data as speech recognition writes it, and the masking of long numbers.

- `PhoneLibRecognizer`: phone numbers of the configured regions validated by libphonenumber
  (`phonenumbers`), on the text as written and on the digit-joined copy ("212. 555. 0147." -> 2125550147).
- `SpokenEmailRecognizer`: "jane dot doe at mail dot com", "wang li 艾特 163 点 com".
- `LongNumberRecognizer`, `agent_read_out`, `widen_to_runs`, `fold_long_numbers`: privacy errs on the side of
  masking. ASR drops and adds digits, so a card or ID that fails its checksum by one digit is still a card or
  ID: a long digit run near a number context word (this turn or the question before it) or read out by the
  agent becomes an unverified NUMBER finding, a finding that covers only part of a run is widened to the
  whole run, and a long number a more specific finding covers takes that finding's name.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

import phonenumbers

from compliance.pii_types import Language, PiiFinding, check_language, register
from compliance.spoken import MIN_SPOKEN_DIGITS, DigitRun, find_digit_runs

PHONE_REGIONS = ("US", "GB", "CN", "HK", "TW")
PHONE_LIB_SCORE = 0.5  # a valid number written with its country code (as the shape patterns score it)
# national formats: many reference numbers are valid phone numbers somewhere (every 8-digit number starting
# 2/3/5/6/9 is a valid HK number), so these need a phone word before them to reach the redaction threshold
PHONE_LIB_NATIONAL_SCORE = 0.3
LONG_NUMBER_SCORE = 0.4  # below the redaction threshold on its own: needs a context word or an agent
AGENT_READ_OUT_BONUS = 0.15


@register
class PhoneLibRecognizer:
    entity, name = "PHONE_NUMBER", "phone_lib"
    spoken_digits = True

    def __init__(self, regions: Sequence[str] = PHONE_REGIONS):
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone region(s) {', '.join(unknown)}; use ISO 3166 codes such as "
                             f"{', '.join(PHONE_REGIONS)}")
        self.regions = tuple(regions)

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        check_language(language)
        if not re.search(r"\d{3}", text):
            return []
        out: dict[tuple[int, int], PiiFinding] = {}
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                if (m.start, m.end) in out:
                    continue
                digits = sum(ch.isdigit() for ch in m.raw_string)
                intl = m.raw_string.lstrip().startswith("+")
                kind = "international" if intl else f"{phonenumbers.region_code_for_number(m.number)} national"
                score = PHONE_LIB_SCORE if intl else PHONE_LIB_NATIONAL_SCORE
                out[(m.start, m.end)] = PiiFinding(
                    self.entity, m.start, m.end, m.raw_string, score, self.name, "libphonenumber",
                    f"valid {kind} phone number ({digits} digits, libphonenumber)")
        return sorted(out.values(), key=lambda f: f.start)


_EN_LOCAL = r"[a-z0-9]+(?:\s*(?:dot|underscore|dash|hyphen|[._\-])\s*[a-z0-9]+)*"
_EN_DOMAIN = r"[a-z0-9\-]+(?:\s*(?:dot|\.)\s*[a-z0-9\-]+)*\s*(?:dot|\.)\s*(?:com|net|org|edu|gov|io|co|uk|cn|hk|tw|" \
             r"de|fr|info|biz|me|us|ca|au)"
_ZH_DOT = r"(?:点|點|dot|\.)"
_ZH_LOCAL = rf"[A-Za-z0-9]+(?:\s*(?:{_ZH_DOT}|下划线|下劃線|_)\s*[A-Za-z0-9]+)*"
_ZH_DOMAIN = rf"[A-Za-z0-9]+(?:\s*{_ZH_DOT}\s*[A-Za-z0-9]+)*\s*{_ZH_DOT}\s*(?:com|net|org|cn|hk|tw|edu)"


@register
class SpokenEmailRecognizer:
    entity, name = "EMAIL_ADDRESS", "spoken_email"
    spoken_digits = False
    _en = re.compile(rf"\b{_EN_LOCAL}\s+at\s+{_EN_DOMAIN}\b", re.I)
    _zh = re.compile(rf"(?<![A-Za-z0-9]){_ZH_LOCAL}\s*(?:艾特|at|@)\s*{_ZH_DOMAIN}(?![A-Za-z])", re.I)

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        check_language(language)
        out = []
        for m in (self._zh if language == "zh" else self._en).finditer(text):
            if "@" in m.group(0) and " " not in m.group(0):
                continue  # written e-mails are the email recognizer's
            out.append(PiiFinding(self.entity, m.start(), m.end(), m.group(0), 0.7, self.name, "spoken_email",
                                  "e-mail address spelled out ('at', 'dot')"))
        return out


@register
class LongNumberRecognizer:
    """An unverified NUMBER finding per digit run (as ASR writes it: see compliance.spoken) of at least
    `min_digits` digits. Alone it scores below the redaction threshold: a context word (this turn or the
    question before it) or an agent reading it out (`agent_read_out`) lifts it over."""

    entity, name = "NUMBER", "long_number"
    spoken_digits = False  # finds its own runs

    def __init__(self, min_digits: int = 8):
        if min_digits < MIN_SPOKEN_DIGITS:
            raise ValueError(f"long_number_digits must be at least {MIN_SPOKEN_DIGITS}, not {min_digits}")
        self.min_digits = min_digits

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        out = []
        for r in find_digit_runs(text, language):
            if r.digits < self.min_digits or _years_only(r):
                continue
            out.append(PiiFinding("NUMBER", r.start, r.end, text[r.start:r.end], LONG_NUMBER_SCORE, self.name,
                                  "digit_run", f"{r.digits}-digit number passing no checksum", verified=False))
        return out


def agent_read_out(f: PiiFinding) -> PiiFinding:
    """An agent reading a long number out is disclosing it, whatever it is."""
    if f.recognizer != LongNumberRecognizer.name:
        return f
    return replace(f, score=round(min(1.0, f.score + AGENT_READ_OUT_BONUS), 6),
                   explanation=f"{f.explanation}, read out by the agent")


def _years_only(run: DigitRun) -> bool:
    """"in 2023, 2024 and 2025": a list of years is not a number read out."""
    return all(re.fullmatch(r"(?:19|20)\d\d", v) for _, _, v in run.pieces)


def widen_to_runs(findings: Sequence[PiiFinding], runs: Sequence[DigitRun], text: str) -> list[PiiFinding]:
    """A finding covering part of a digit run covers all of it: the digits read out around a phone or card
    number that ASR split oddly (or that carry an extra digit) are part of the same read-out."""
    out = []
    for f in findings:
        for r in runs:
            if f.start < r.end and f.end > r.start and (f.start > r.start or f.end < r.end):
                s, e = min(f.start, r.start), max(f.end, r.end)
                # what was checked is a part: the whole run is no longer verified
                f = replace(f, start=s, end=e, text=text[s:e], verified=False,
                            explanation=f"{f.explanation}; widened to the whole digit run")
        out.append(f)
    return out


def fold_long_numbers(findings: Sequence[PiiFinding]) -> list[PiiFinding]:
    """A long number that a more specific finding covers is that finding, which keeps the higher of the two
    scores, so masking never depends on which one names the span. The name goes first to a covering finding
    whose own context word confirms its entity ("Mobile: 0688 872 49 99"), else to a checked one (checksum,
    libphonenumber); otherwise the span stays an unverified NUMBER."""
    numbers = [f for f in findings if f.recognizer == LongNumberRecognizer.name]
    out = [f for f in findings if f.recognizer != LongNumberRecognizer.name]
    for n in numbers:
        covering = [i for i, c in enumerate(out) if c.start <= n.start and c.end >= n.end]
        named = [i for i in covering if out[i].context_boost > 0] or [i for i in covering if out[i].verified]
        if not named:
            out.append(n)
            continue
        i = max(named, key=lambda i: out[i].score)
        if n.score > out[i].score:
            out[i] = replace(out[i], score=n.score,
                             explanation=f"{out[i].explanation}; as a long digit run it scores {n.score:g}")
    return out
