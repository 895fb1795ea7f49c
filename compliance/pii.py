"""Personal-data (PII) detection in transcript text: rule-based recognizers, no models.

Each recognizer finds one entity type with regexes plus a validator (checksums, plausible dates).
Speech-to-text often writes numbers as words ("four one one one", 「幺三八」), so `analyze` runs the
recognizers on the raw text and on a digit-normalised copy, mapping findings back to spans of the
original text. A context word shortly before a finding ("card", 身份证, ...) raises its score.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Callable, Iterable, Literal, Protocol, Sequence, runtime_checkable

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
CONTEXT_BOOST = 0.2
CONTEXT_CHARS = 20
CONTEXT_WORDS = 5
MIN_SPOKEN_DIGITS = 4  # shorter runs ("one", "oh no") are ordinary speech, not numbers


@dataclass(frozen=True)
class PiiFinding:
    entity: str
    start: int  # char offsets into the analysed (original) text
    end: int
    text: str
    score: float
    recognizer: str
    pattern: str
    explanation: str
    context_boost: float = 0.0


@runtime_checkable
class Recognizer(Protocol):
    entity: str
    name: str

    def analyze(self, text: str, language: Language) -> list[PiiFinding]: ...


RECOGNIZERS: dict[str, type] = {}


def register(cls: type) -> type:
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"recognizer class {cls.__name__} needs a non-empty `name` attribute")
    if name in RECOGNIZERS and RECOGNIZERS[name] is not cls:
        raise ValueError(f"recognizer name {name!r} already registered by {RECOGNIZERS[name].__name__}")
    RECOGNIZERS[name] = cls
    return cls


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")


# --- pattern machinery --------------------------------------------------------------------------

Validator = Callable[[re.Match[str]], "str | None"]  # explanation when valid, None to reject


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    score: float
    languages: tuple[Language, ...] = LANGUAGES
    validate: Validator | None = None


class PatternRecognizer:
    entity: str = ""
    name: str = ""
    patterns: tuple[Pattern, ...] = ()

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        _check_language(language)
        out = []
        for p in self.patterns:
            if language not in p.languages:
                continue
            for m in p.regex.finditer(text):
                why = p.validate(m) if p.validate else f"matched {p.name}"
                if why is None:
                    continue
                out.append(PiiFinding(self.entity, m.start(), m.end(), m.group(0), p.score, self.name, p.name, why))
        return out


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# --- phone numbers ------------------------------------------------------------------------------
_SEP = r"[\s\-]?"
_NB, _NA = r"(?<![\d+])", r"(?!\d)"  # digit boundaries: \b is useless between CJK and digits


@register
class PhoneRecognizer(PatternRecognizer):
    entity, name = "PHONE_NUMBER", "phone"
    patterns = (
        Pattern("cn_mobile", re.compile(_NB + rf"(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}" + _NA), 0.6),
        Pattern("tw_mobile", re.compile(_NB + rf"(?:\+886{_SEP}9\d{{2}}|09\d{{2}}){_SEP}\d{{3}}{_SEP}\d{{3}}" + _NA), 0.6),
        Pattern("hk_intl", re.compile(_NB + rf"\+852{_SEP}[569]\d{{3}}{_SEP}\d{{4}}" + _NA), 0.6),
        Pattern("hk_local", re.compile(_NB + rf"[569]\d{{3}}{_SEP}\d{{4}}" + _NA), 0.4),
        Pattern("us", re.compile(_NB + r"(?:\+1[\s.\-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.\-])[2-9]\d{2}[\s.\-]\d{4}" + _NA), 0.5),
        # ten bare digits: how a spoken US number comes out of the normaliser; weak without context
        Pattern("us_compact", re.compile(_NB + r"(?:\+1)?[2-9]\d{2}[2-9]\d{6}" + _NA), 0.3, languages=("en",)),
    )


@register
class EmailRecognizer(PatternRecognizer):
    entity, name = "EMAIL_ADDRESS", "email"
    patterns = (Pattern("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"), 0.9),)


# --- national IDs -------------------------------------------------------------------------------
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"


def cn_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a mainland resident ID."""
    if not re.fullmatch(r"\d{17}", first17):
        raise ValueError(f"need the first 17 digits of a resident ID, got {first17!r}")
    return _CN_CHECK[sum(int(d) * w for d, w in zip(first17, _CN_WEIGHTS)) % 11]


def _plausible_date(y: int, m: int, d: int) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _validate_cn_id(m: re.Match[str]) -> str | None:
    s = m.group(0).upper()
    if cn_id_check_digit(s[:17]) != s[17]:
        return None
    if not _plausible_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return None
    return "18-char resident ID with valid MOD 11-2 check digit and birth date"


# Taiwan letter codes are not alphabetical after H (I, O, W, X, Y, Z were added later).
_TW_LETTERS = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))


def tw_id_valid(s: str) -> bool:
    s = s.upper()
    if not re.fullmatch(r"[A-Z][12]\d{8}", s):
        return False
    code = _TW_LETTERS[s[0]]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(s[1:9], range(8, 0, -1))) + int(s[9])
    return total % 10 == 0


@register
class NationalIdRecognizer(PatternRecognizer):
    entity, name = "NATIONAL_ID", "national_id"
    patterns = (
        Pattern("cn_resident_id", re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), 0.9,
                validate=_validate_cn_id),
        Pattern("tw_id", re.compile(r"(?<![0-9A-Za-z])[A-Za-z][12]\d{8}(?![0-9A-Za-z])"), 0.9,
                validate=lambda m: "Taiwan ID with valid checksum" if tw_id_valid(m.group(0)) else None),
    )


# --- card / bank account numbers ----------------------------------------------------------------
def luhn_valid(number: str) -> bool:
    if not number.isdigit():
        raise ValueError(f"Luhn check needs digits only, got {number!r}")
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@register
class CardNumberRecognizer(PatternRecognizer):
    entity, name = "CARD_NUMBER", "card_number"
    patterns = (
        Pattern("card_luhn", re.compile(r"(?<![\d+])\d(?:[ \-]?\d){12,18}(?!\d)"), 0.8,
                validate=lambda m: "13-19 digits passing the Luhn check" if luhn_valid(_digits(m.group(0))) else None),
    )


# --- dates of birth -----------------------------------------------------------------------------
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
             "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()
_ORD_WORDS = {w: i + 1 for i, w in enumerate(_ORDINALS)}
_ORD_WORDS.update({f"twenty{sep}{w}": 20 + i + 1 for i, w in enumerate(_ORDINALS[:9]) for sep in (" ", "-")})
_ORD_WORDS.update({"thirtieth": 30, "thirty first": 31, "thirty-first": 31})
_MONTH_RE = "|".join(m.capitalize() + "|" + m for m in _MONTHS) + "|" + "|".join(m[:3].capitalize() + r"\.?" for m in _MONTHS)
_DAY_RE = r"\d{1,2}(?:st|nd|rd|th)?|" + "|".join(sorted(_ORD_WORDS, key=len, reverse=True))


def _day_value(s: str) -> int:
    s = s.lower()
    return _ORD_WORDS[s] if s in _ORD_WORDS else int(re.sub(r"\D", "", s))


def _month_value(s: str) -> int:
    return next(i + 1 for i, m in enumerate(_MONTHS) if m.startswith(s.lower().rstrip(".")[:3]))


def _date_validator(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    y = int(g["y"])
    if "mon" in g and g["mon"]:
        ok = _plausible_date(y, _month_value(g["mon"]), _day_value(g["d"]))
    else:  # numeric: accept either month/day or day/month order
        a, b = int(g["a"]), int(g["b"])
        ok = _plausible_date(y, a, b) or _plausible_date(y, b, a)
    return "plausible past date (a possible date of birth)" if ok else None


_ZH_NUM = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _zh_small_number(s: str) -> int:
    """1-31 written as digits or Chinese numerals (三, 十二, 二十一, 三十)."""
    if s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (_ZH_NUM[tens] if tens else 1) * 10 + (_ZH_NUM[ones] if ones else 0)
    return _ZH_NUM[s] if len(s) == 1 else -1


def _zh_date_validator(m: re.Match[str]) -> str | None:
    try:
        ok = _plausible_date(int(m.group("y")), _zh_small_number(m.group("mo")), _zh_small_number(m.group("d")))
    except KeyError:
        return None
    return "plausible past date (a possible date of birth)" if ok else None


_ZH_SMALL = r"\d{1,2}|[一二三四五六七八九十两兩〇零]{1,3}"


@register
class DateOfBirthRecognizer(PatternRecognizer):
    entity, name = "DATE_OF_BIRTH", "date_of_birth"
    patterns = (
        Pattern("en_numeric", re.compile(r"(?<!\d)(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<y>\d{4})(?!\d)"), 0.4,
                validate=_date_validator),
        Pattern("en_day_month_year", re.compile(
            rf"\b(?:the\s+)?(?P<d>{_DAY_RE})\s+(?:of\s+)?(?P<mon>{_MONTH_RE}),?\s+(?P<y>\d{{4}})(?!\d)", re.I), 0.4,
            languages=("en",), validate=_date_validator),
        Pattern("en_month_day_year", re.compile(
            rf"\b(?P<mon>{_MONTH_RE})\s+(?:the\s+)?(?P<d>{_DAY_RE}),?\s+(?P<y>\d{{4}})(?!\d)", re.I), 0.4,
            languages=("en",), validate=_date_validator),
        Pattern("zh_ymd", re.compile(rf"(?<!\d)(?P<y>\d{{4}})\s*年\s*(?P<mo>{_ZH_SMALL})\s*月\s*(?P<d>{_ZH_SMALL})\s*[日号號]"),
                0.4, languages=("zh",), validate=_zh_date_validator),
    )


# --- spoken digits ------------------------------------------------------------------------------
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
    for run in re.finditer(r"[0-9%s](?:[\s\-]*[0-9%s])*" % (("".join(_ZH_DIGITS),) * 2), text):
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
        if current and not re.fullmatch(r"[\s,\-]*", text[prev_end:item[1]]):
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


# --- context ------------------------------------------------------------------------------------
_CONTEXT: dict[str, tuple[str, ...]] = {
    "PHONE_NUMBER": ("phone", "number", "mobile", "cell", "call", "手机", "电话", "号码", "联系方式"),
    "EMAIL_ADDRESS": ("email", "e-mail", "mail", "邮箱", "电邮", "邮件"),
    "NATIONAL_ID": ("id", "identity", "identification", "身份证", "证件", "身份"),
    "CARD_NUMBER": ("card", "account", "credit", "debit", "卡号", "银行卡", "信用卡", "账号", "账户", "卡"),
    "DATE_OF_BIRTH": ("born", "birth", "birthday", "dob", "出生", "生日"),
}


def _context_word(text: str, start: int, entity: str, language: Language) -> str | None:
    window = text[max(0, start - CONTEXT_CHARS):start]
    words = _CONTEXT.get(entity, ())
    if language == "zh":
        from transcribe.chinese import to_script  # lazy: loads OpenCC dictionaries

        window = to_script(window, "zh-Hans").lower()  # context words are written in Simplified
        return next((w for w in words if w in window), None)
    tail = " ".join(re.findall(r"[\w\-]+", window.lower())[-CONTEXT_WORDS:])
    return next((w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", tail)), None)


def _boost(f: PiiFinding, text: str, language: Language) -> PiiFinding:
    word = _context_word(text, f.start, f.entity, language)
    if word is None:
        return f
    score = round(min(1.0, f.score + CONTEXT_BOOST), 6)
    return replace(f, score=score, context_boost=round(score - f.score, 6),
                   explanation=f"{f.explanation}; context word {word!r} before it")


def _merge(findings: Iterable[PiiFinding]) -> list[PiiFinding]:
    kept: list[PiiFinding] = []
    for f in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def analyze(text: str, language: Language, recognizers: Sequence[Recognizer] | None = None) -> list[PiiFinding]:
    """All PII in `text`, overlapping findings merged (highest score wins), offsets into `text`."""
    _check_language(language)
    recs = list(recognizers) if recognizers is not None else [cls() for cls in RECOGNIZERS.values()]
    normalised, spans = normalise_spoken_digits(text, language)
    found = [f for r in recs for f in r.analyze(text, language)]
    if normalised != text:
        for r in recs:
            for f in r.analyze(normalised, language):
                s, e = spans[f.start][0], spans[f.end - 1][1]
                found.append(replace(f, start=s, end=e, text=text[s:e],
                                     explanation=f"{f.explanation} (spoken digits read as {f.text!r})"))
    return _merge(_boost(f, text, language) for f in found)
