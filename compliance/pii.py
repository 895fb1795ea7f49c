"""Personal-data (PII) detection in transcript text: rule-based recognizers here, NER ones in compliance.ner.

Each recognizer finds one entity type with regexes plus a validator (checksums, plausible dates).
Speech-to-text often writes numbers as words ("four one one one", 「幺三八」), so `analyze` runs the
recognizers on the raw text and on a digit-normalised copy, mapping findings back to spans of the
original text. A context word shortly before a finding ("card", 身份证, ...) raises its score. Which
recognizers run by default, and the minimum score, come from compliance/recognizers/default.yaml
(compliance.recognizer_config).
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Iterable, Mapping, Sequence

import compliance.ner  # noqa: F401  registers the NER recognizers (no model is loaded at import)
from compliance.pii_types import (  # noqa: F401  (re-exported: the public API of compliance.pii)
    LANGUAGES,
    RECOGNIZERS,
    Language,
    Pattern,
    PatternRecognizer,
    PiiFinding,
    Recognizer,
    RecognizerSet,
    RegexRecognizer,
    Validator,
    check_language,
    register,
)
from compliance.speech_pii import agent_read_out, fold_long_numbers, widen_to_runs
from compliance.spoken import MIN_SPOKEN_DIGITS, OffsetMap, join_digit_runs, normalise_spoken_digits  # noqa: F401

CONTEXT_BOOST = 0.2
CONTEXT_CHARS = 20
CONTEXT_WORDS = 5


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# --- phone numbers ------------------------------------------------------------------------------
_SEP = r"(?:[\s\-]|[，,、]\s?)?"  # speech-to-text writes pauses in a number as commas (一三八，一二三四)
_NB, _NA = r"(?<![\d+])", r"(?!\d)"  # digit boundaries: \b is useless between CJK and digits
_EXT = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
_DATE_LIKE = re.compile(r"\d{1,2}[./\-]\d{1,2}[./\-]\d{4}|\d{4}[./\-]\d{1,2}[./\-]\d{1,2}")


def _digit_count(m: re.Match[str], lo: int, hi: int, what: str) -> str | None:
    n = len(_digits(re.sub(r"\(0\)|(?:x|ext\.?|extension)\s?\d+$", "", m.group(0))))
    return f"{what} ({n} digits)" if lo <= n <= hi else None


_SSN_LIKE = re.compile(r"\d{3}-\d{2}-\d{4}")


def _grouped_phone(m: re.Match[str]) -> str | None:
    if _DATE_LIKE.fullmatch(m.group(0)) or _SSN_LIKE.fullmatch(m.group(0)):
        return None
    return _digit_count(m, 7, 12, "digit groups shaped like a phone number")


@register
class PhoneRecognizer(PatternRecognizer):
    entity, name = "PHONE_NUMBER", "phone"
    patterns = (
        Pattern("cn_mobile", re.compile(_NB + rf"(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}" + _NA), 0.6),
        Pattern("tw_mobile", re.compile(_NB + rf"(?:\+886{_SEP}9\d{{2}}|09\d{{2}}){_SEP}\d{{3}}{_SEP}\d{{3}}" + _NA), 0.6),
        Pattern("hk_intl", re.compile(_NB + rf"\+852{_SEP}[569]\d{{3}}{_SEP}\d{{4}}" + _NA), 0.6),
        Pattern("hk_local", re.compile(_NB + rf"[569]\d{{3}}{_SEP}\d{{4}}" + _NA), 0.4),
        Pattern("us", re.compile(_NB + r"(?:\+1[\s.\-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.\-])\d{3}[\s.\-]\d{4}"
                                 + _EXT + _NA), 0.5),
        Pattern("intl_plus", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(0\))?(?:[ .\-]?\(?\d{1,4}\)?){2,6}"
                                        + _EXT + _NA), 0.5,
                validate=lambda m: _digit_count(m, 8, 15, "international number with + country code")),
        # European/Asian groupings ("0490 75 40 81", "(37) 788-063", "01.84.17.61.18") look like many other
        # numbers: they reach find_pii's 0.5 only with a phone word before them
        Pattern("grouped", re.compile(r"(?<![\w+.\-])(?:\(\d{2,4}\)[ .\-]?|\d{2,5}[ .\-])(?:\d{2,4}[ .\-]){0,3}\d{2,7}"
                                      + _EXT + _NA), 0.3, languages=("en",), validate=_grouped_phone, verified=False),
        # ten bare digits: how a spoken US number comes out of the normaliser; weak without context
        Pattern("us_compact", re.compile(_NB + r"(?:\+1)?[2-9]\d{2}[2-9]\d{6}" + _NA), 0.3, languages=("en",),
                verified=False),
    )


@register
class EmailRecognizer(PatternRecognizer):
    entity, name = "EMAIL_ADDRESS", "email"
    patterns = (Pattern("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"), 0.9),)


# --- national IDs -------------------------------------------------------------------------------
def cn_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a mainland resident ID (python-stdnum's stdnum.cn.ric)."""
    if not re.fullmatch(r"\d{17}", first17):
        raise ValueError(f"need the first 17 digits of a resident ID, got {first17!r}")
    from stdnum.cn import ric

    return ric.calc_check_digit(first17 + "0")  # stdnum expects a full number and ignores its last char


def _plausible_date(y: int, m: int, d: int) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def cn_id_valid(s: str) -> bool:
    """18-char mainland resident ID with a valid check character and a plausible birth date."""
    s = s.upper()
    if not re.fullmatch(r"\d{17}[\dX]", s) or cn_id_check_digit(s[:17]) != s[17]:
        return False
    return _plausible_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def _validate_cn_id(m: re.Match[str]) -> str | None:
    return "18-char resident ID with valid MOD 11-2 check digit and birth date" if cn_id_valid(m.group(0)) else None


# Taiwan letter codes are not alphabetical after H (I, O, W, X, Y, Z were added later).
_TW_LETTERS = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))


def tw_id_valid(s: str) -> bool:
    s = s.upper()
    if not re.fullmatch(r"[A-Z][12]\d{8}", s):
        return False
    code = _TW_LETTERS[s[0]]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(s[1:9], range(8, 0, -1))) + int(s[9])
    return total % 10 == 0


def hk_id_valid(s: str) -> bool:
    """Hong Kong identity card: 1-2 letters, 6 digits, a check digit (0-9 or A) making the weighted sum
    (a missing second letter counts 36; weights 9..2, then 1) a multiple of 11."""
    m = re.fullmatch(r"([A-Z]{1,2})(\d{6})[(（]?([0-9A])[)）]?", re.sub(r"\s", "", s.upper()))
    if m is None:
        return False
    letters, digits, check = m.groups()
    values = ([36] if len(letters) == 1 else []) + [ord(c) - 55 for c in letters] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1))) + (10 if check == "A" else int(check))
    return total % 11 == 0


_HK_ID = r"(?<![0-9A-Za-z])[A-Z]{1,2}\d{6}\s?[(（][0-9A][)）]"


@register
class NationalIdRecognizer(PatternRecognizer):
    entity, name = "NATIONAL_ID", "national_id"
    patterns = (
        Pattern("cn_resident_id", re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), 0.9,
                validate=_validate_cn_id),
        Pattern("tw_id", re.compile(r"(?<![0-9A-Za-z])[A-Za-z][12]\d{8}(?![0-9A-Za-z])"), 0.9,
                validate=lambda m: "Taiwan ID with valid checksum" if tw_id_valid(m.group(0)) else None),
        Pattern("hk_id", re.compile(_HK_ID), 0.9,
                validate=lambda m: "Hong Kong ID with valid check digit" if hk_id_valid(m.group(0)) else None),
        # written with its bracketed check digit the format alone says what it is, checksum or not
        Pattern("hk_id_format", re.compile(_HK_ID), 0.6,
                validate=lambda m: None if hk_id_valid(m.group(0)) else
                "Hong Kong ID format: letter, 6 digits, bracketed check digit"),
    )


# --- card / bank account numbers ----------------------------------------------------------------
def luhn_valid(number: str) -> bool:
    if not number.isdigit():
        raise ValueError(f"Luhn check needs digits only, got {number!r}")
    from stdnum import luhn

    return luhn.is_valid(number)


# Issuer prefixes: 3 (Amex, JCB, Diners), 4 (Visa), 5 (Mastercard), 6 (UnionPay, Discover), 2221-2720
# (Mastercard), 1800/2131 (old JCB), 2014/2149 (enRoute). Without them date-prefixed order numbers
# ("2024090918698571") pass as cards one time in ten (Luhn).
_CARD_PREFIX = re.compile(r"[3-6]|1800|2131|2014|2149|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)")


def _validate_card(m: re.Match[str]) -> str | None:
    digits = _digits(m.group(0))
    if not _CARD_PREFIX.match(digits) or not luhn_valid(digits):
        return None
    return "13-19 digits with a card issuer prefix passing the Luhn check"


@register
class CardNumberRecognizer(PatternRecognizer):
    entity, name = "CARD_NUMBER", "card_number"
    patterns = (
        Pattern("card_luhn", re.compile(r"(?<![\d+])\d(?:[ \-]?\d){12,18}(?!\d)"), 0.8, validate=_validate_card),
    )


# ACCOUNT_NUMBER: any 6-20 digit run is far too common (order numbers, amounts) to report on its own; the
# score stays below every sensible threshold unless an account word precedes it (see _BOOSTS).
@register
class AccountNumberRecognizer(PatternRecognizer):
    entity, name = "ACCOUNT_NUMBER", "account_number"
    patterns = (
        Pattern("digit_run", re.compile(r"(?<![\dA-Za-z+])\d(?:[ \-]?\d){5,19}(?![\dA-Za-z])"), 0.1,
                validate=lambda m: f"{len(_digits(m.group(0)))}-digit run"),
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


# Years as said aloud: "nineteen eighty five", "nineteen eighty-five", "nineteen oh two", "two thousand and one"
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_TWO_DIGITS = (rf"(?:{'|'.join(_TENS)})(?:[\s-]+(?:{'|'.join(_UNITS)}))?|{'|'.join(_TEENS)}"
               rf"|(?:oh|o)[\s-]+(?:{'|'.join(_UNITS)})")
_SPOKEN_YEAR_RE = (rf"(?:nineteen|twenty)[\s-]+(?:{_TWO_DIGITS})"
                   rf"|two[\s-]+thousand(?:[\s-]+(?:and[\s-]+)?(?:{_TWO_DIGITS}|{'|'.join(_UNITS)}))?")


def _two_digit_value(words: list[str]) -> int:
    if words[0] in ("oh", "o"):
        return _UNITS.index(words[1]) + 1
    if words[0] in _TEENS:
        return 10 + _TEENS.index(words[0])
    return 10 * (_TENS.index(words[0]) + 2) + (_UNITS.index(words[1]) + 1 if len(words) > 1 else 0)


def spoken_year(s: str) -> int:
    """1985 from "nineteen eighty five" / "nineteen eighty-five", 2001 from "two thousand and one"."""
    words = [w for w in re.split(r"[\s-]+", s.lower()) if w and w != "and"]
    if words[:2] == ["two", "thousand"]:
        rest = words[2:]
        return 2000 + (0 if not rest else _UNITS.index(rest[0]) + 1 if rest[0] in _UNITS and len(rest) == 1
                       else _two_digit_value(rest))
    return (19 if words[0] == "nineteen" else 20) * 100 + _two_digit_value(words[1:])


def _day_value(s: str) -> int:
    s = s.lower()
    return _ORD_WORDS[s] if s in _ORD_WORDS else int(re.sub(r"\D", "", s))


def _month_value(s: str) -> int:
    return next(i + 1 for i, m in enumerate(_MONTHS) if m.startswith(s.lower().rstrip(".")[:3]))


def _date_validator(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    y = int(g["y"]) if g["y"].isdigit() else spoken_year(g["y"])
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
            rf"\b(?:the\s+)?(?P<d>{_DAY_RE})\s+(?:of\s+)?(?P<mon>{_MONTH_RE}),?\s+(?P<y>\d{{4}}(?!\d)|(?:{_SPOKEN_YEAR_RE})\b)",
            re.I), 0.4,
            languages=("en",), validate=_date_validator),
        Pattern("en_month_day_year", re.compile(
            rf"\b(?P<mon>{_MONTH_RE})\s+(?:the\s+)?(?P<d>{_DAY_RE}),?\s+(?P<y>\d{{4}}(?!\d)|(?:{_SPOKEN_YEAR_RE})\b)",
            re.I), 0.4,
            languages=("en",), validate=_date_validator),
        Pattern("zh_ymd", re.compile(rf"(?<!\d)(?P<y>\d{{4}})\s*年\s*(?P<mo>{_ZH_SMALL})\s*月\s*(?P<d>{_ZH_SMALL})\s*[日号號]"),
                0.4, languages=("zh",), validate=_zh_date_validator),
    )


# --- context ------------------------------------------------------------------------------------
_PLACE_WORDS = ("live", "lives", "living", "address", "located", "i live at", "i live in", "地址", "住在", "住址",
                "位于", "家在")
_CONTEXT: dict[str, tuple[str, ...]] = {
    "PHONE_NUMBER": ("phone", "number", "mobile", "cell", "call", "tel", "telephone", "fax", "desk", "office",
                     "reach", "contact", "answering", "messages", "text", "sms", "whatsapp", "手机", "电话", "号码", "联系方式"),
    "EMAIL_ADDRESS": ("email", "e-mail", "mail", "邮箱", "电邮", "邮件"),
    "NATIONAL_ID": ("id", "identity", "identification", "身份证", "证件", "身份", "身分证", "身分"),
    "CARD_NUMBER": ("card", "account", "credit", "debit", "卡号", "银行卡", "信用卡", "账号", "账户", "卡"),
    "DATE_OF_BIRTH": ("born", "birth", "birthday", "dob", "出生", "生日"),
    "ACCOUNT_NUMBER": ("account", "acct", "membership", "member", "账号", "账户", "帐号", "帐户", "会员编号",
                       "会员号", "户号"),
    "PERSON": ("name", "my name is", "my name's", "this is", "speaking", "mr", "mrs", "ms", "miss", "dr", "mister",
               "姓名", "名字", "我叫", "我是", "我姓", "姓", "叫", "找一下", "请问是", "持卡人", "收件人", "联系人",
               "户名", "开户人", "本人", "同事", "工作人员", "客服", "经理"),
    "LOCATION": _PLACE_WORDS,
    "ADDRESS": _PLACE_WORDS,
}
_GENERIC_NUMBER_WORDS = ("number", "号码")
# a long number near any of these is personal data even when no checksum passes (see compliance.speech_pii)
_CONTEXT["NUMBER"] = tuple(dict.fromkeys(
    _CONTEXT["CARD_NUMBER"] + _CONTEXT["NATIONAL_ID"] + _CONTEXT["ACCOUNT_NUMBER"] + _CONTEXT["PHONE_NUMBER"]
    + ("passport", "licence", "license", "social security", "ssn", "iban", "sort code", "digits", "卡号", "证件号",
       "身份证号", "护照", "号码", "尾号")))
# Chinese often puts the verb after the date: 1985年3月12日出生的
_CONTEXT_AFTER: dict[str, tuple[str, ...]] = {"DATE_OF_BIRTH": ("出生", "生日"),
                                              "PERSON": ("先生", "女士", "小姐", "太太", "老师", "经理", "师傅", "你好", "您好")}
_CONTEXT_AFTER_EN: dict[str, tuple[str, ...]] = {"PERSON": ("speaking", "here speaking")}
CONTEXT_AFTER_CHARS = 4
_BOOSTS = {"ACCOUNT_NUMBER": 0.5}  # account numbers are reported only with context: see AccountNumberRecognizer


def context_words(entity: str) -> tuple[str, ...]:
    return _CONTEXT.get(entity, ())


def _context_word(text: str, start: int, words: Sequence[str], language: Language) -> str | None:
    words = sorted(words, key=len, reverse=True)  # "my name is" explains better than "name"
    window = text[max(0, start - CONTEXT_CHARS):start]
    if language == "zh":
        from core.chinese import to_script  # lazy: loads OpenCC dictionaries

        window = to_script(window, "zh-Hans").lower()  # context words are written in Simplified
        return next((w for w in words if w in window), None)
    tail = " ".join(re.findall(r"[\w\-]+", window.lower())[-CONTEXT_WORDS:])
    return next((w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", tail)), None)


PRIOR_CONTEXT_WORDS = 8  # en: how far into the previous turn (the question) context is looked for
PRIOR_CONTEXT_CHARS = 20  # zh


def _prior_context(prior: str, text: str, start: int, words: Sequence[str], language: Language) -> str | None:
    """Context from the other party's turn just before, for a finding near the start of this turn: the
    answer to "What's your date of birth?" is "Third of March, 1980."."""
    if not prior:
        return None
    if language == "zh":
        if len(text[:start]) > PRIOR_CONTEXT_CHARS:
            return None
        return _context_word(prior[-PRIOR_CONTEXT_CHARS:] + " ", PRIOR_CONTEXT_CHARS + 1, words, language)
    if len(re.findall(r"[\w\-]+", text[:start])) > PRIOR_CONTEXT_WORDS:
        return None
    tail = " ".join(re.findall(r"[\w\-']+", prior)[-PRIOR_CONTEXT_WORDS:]).lower()
    return next((w for w in sorted(words, key=len, reverse=True)
                 if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", tail)), None)


def _boost(f: PiiFinding, text: str, language: Language, extra: Mapping[str, Sequence[str]],
           prior: str = "") -> PiiFinding:
    where = "before it"
    words = _CONTEXT.get(f.entity, ()) + tuple(extra.get(f.entity, ()))
    if f.recognizer == "phone_lib":  # libphonenumber accepts most 10-11 digit strings: "account number" is no phone
        words = tuple(w for w in words if w not in _GENERIC_NUMBER_WORDS)
    word = _context_word(text, f.start, words, language)
    if word is None and language == "zh" and f.entity in _CONTEXT_AFTER:
        from core.chinese import to_script  # lazy: loads OpenCC dictionaries

        after = to_script(text[f.end:f.end + CONTEXT_AFTER_CHARS], "zh-Hans")
        word, where = next((w for w in _CONTEXT_AFTER[f.entity] if w in after), None), "after it"
    if word is None and language == "en" and f.entity in _CONTEXT_AFTER_EN:
        m = re.match(rf"\W{{0,3}}({'|'.join(_CONTEXT_AFTER_EN[f.entity])})\b", text[f.end:], re.I)
        word, where = (m.group(1).lower() if m else None), "after it"
    if word is None:
        word, where = _prior_context(prior, text, f.start, words, language), "in the question before it"
    if word is None:
        return f
    score = round(min(1.0, f.score + _BOOSTS.get(f.entity, CONTEXT_BOOST)), 6)
    return replace(f, score=score, context_boost=round(score - f.score, 6),
                   explanation=f"{f.explanation}; context word {word!r} {where}")


def _merge(findings: Iterable[PiiFinding]) -> list[PiiFinding]:
    kept: list[PiiFinding] = []
    # at equal score a checked finding (checksum, format) names the span, not an unverified long number
    for f in sorted(findings, key=lambda f: (-f.score, not f.verified, -(f.end - f.start), f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def analyze(text: str, language: Language,
            recognizers: Sequence[Recognizer] | RecognizerSet | None = None, *,
            prior_text: str = "", speaker_role: str | None = None) -> list[PiiFinding]:
    """All PII in `text`, overlapping findings merged (highest score wins), offsets into `text`.

    Without `recognizers` the shipped configuration (compliance/recognizers/default.yaml) decides which
    recognizers run and the minimum score; a `RecognizerSet` from `compliance.recognizers.load_recognizers`
    does the same for another file; a plain sequence runs those recognizers with no threshold.
    Number recognizers also see the text with digit runs joined ("4121. 6416." -> 41216416, "four one"
    -> 41). `prior_text` is the other party's turn just before (a question gives its answer context);
    `speaker_role` "agent" makes a long number read out count as personal data on its own."""
    check_language(language)
    if recognizers is None:
        from compliance.recognizer_config import default_recognizers  # lazy: avoids an import cycle

        recognizers = default_recognizers()
    if isinstance(recognizers, RecognizerSet):
        recs, min_score, extra = recognizers.for_language(language), recognizers.min_score, recognizers.context
        not_pii = recognizers.not_pii
    else:
        recs, min_score, extra, not_pii = tuple(recognizers), 0.0, {}, {}
    found = [f for r in recs for f in r.analyze(text, language)]
    digit_recs = [r for r in recs if getattr(r, "spoken_digits", False)]
    joined = join_digit_runs(text, language) if digit_recs else None
    if joined is not None and joined.text != text:
        for r in digit_recs:
            for f in r.analyze(joined.text, language):
                s, e = joined.spans[f.start][0], joined.spans[f.end - 1][1]
                found.append(replace(f, start=s, end=e, text=text[s:e],
                                     explanation=f"{f.explanation} (digits joined across pauses or said as words)"))
    runs = joined.runs if joined is not None else ()
    if speaker_role == "agent":
        found = [agent_read_out(f) for f in found]
    boosted = [_boost(f, text, language, extra, prior_text) for f in found if not _listed(f, not_pii)]
    return _merge(fold_long_numbers(widen_to_runs([f for f in boosted if f.score >= min_score], runs, text)))


def _listed(f: PiiFinding, not_pii: Mapping[str, frozenset[str]]) -> bool:
    """Configured false positives: courier and platform names, fillers, the company's own name."""
    listed = not_pii.get(f.entity)
    if not listed:
        return False
    key = f.text.strip(" ,.，。").lower()
    if re.search(r"[\u3400-\u9fff]", key):
        from core.chinese import to_script  # lazy: loads OpenCC dictionaries

        key = to_script(key, "zh-Hans")
    return key in listed
