"""Types shared by the PII recognizers: findings, the recognizer protocol and registry, regex patterns.

Kept apart from `compliance.pii` so that `compliance.ner` and `compliance.spoken` can use them without an
import cycle; `compliance.pii` re-exports every public name here."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Protocol, runtime_checkable

from core.errors import PluginError
from core.plugins import Registry

Language = Literal["en", "zh"]  # a PII rule set; each language profile names its own (`pii`, core/languages)
LANGUAGES: tuple[Language, ...] = ("en", "zh")


@dataclass(frozen=True)
class PiiFinding:
    entity: str
    start: int  # char offsets into the analysed (original) text
    end: int
    text: str
    score: float
    recognizer: str
    pattern: str
    explanation: str  # why it was found; never the value itself
    context_boost: float = 0.0
    verified: bool = True  # False: only the shape of a number (long digit run, phone-like groups), nothing checked


@runtime_checkable
class Recognizer(Protocol):
    entity: str
    name: str

    def analyze(self, text: str, language: Language) -> list[PiiFinding]: ...


def _recognizer_class(name: str, cls: object) -> type:
    if not isinstance(cls, type) or not callable(getattr(cls, "analyze", None)):
        raise ValueError("a recognizer must be a class with `entity`, `name` and `analyze(text, language)`")
    if getattr(cls, "name", None) != name:
        raise ValueError(f"its `name` is {getattr(cls, 'name', None)!r}; the entry point's name must be the same")
    return cls


# plug-ins: entry-point group "callqa.recognizers", name = the recognizer's `name` (core.plugins)
RECOGNIZERS: Registry[type] = Registry("PII recognizer", check=_recognizer_class)


def register(cls: type) -> type:
    """Class decorator: make a recognizer class available to recognizer configs by its `name` (E136 on a clash)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"recognizer class {cls.__name__} needs a non-empty `name` attribute")
    RECOGNIZERS.register(name, cls)
    return cls


def check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")


Validator = Callable[[re.Match[str]], "str | None"]  # explanation when valid, None to reject


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    score: float
    languages: tuple[Language, ...] = LANGUAGES
    validate: Validator | None = None
    verified: bool = True  # False for shapes only (digit groups that look like a phone): see PiiFinding.verified


class PatternRecognizer:
    entity: str = ""
    name: str = ""
    patterns: tuple[Pattern, ...] = ()
    spoken_digits = True  # also run on the digit-normalised text (see compliance.spoken)

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        check_language(language)
        out = []
        for p in self.patterns:
            if language not in p.languages:
                continue
            for m in p.regex.finditer(text):
                why = p.validate(m) if p.validate else f"matched {p.name}"
                if why is None:
                    continue
                out.append(PiiFinding(self.entity, m.start(), m.end(), m.group(0), p.score, self.name, p.name, why,
                                      verified=p.verified))
        return out


class RegexRecognizer(PatternRecognizer):
    """A pattern recognizer defined at run time (user patterns of a recognizer config)."""

    def __init__(self, name: str, entity: str, patterns: tuple[Pattern, ...]):
        self.name, self.entity, self.patterns = name, entity, patterns


@dataclass(frozen=True)
class RecognizerSet:
    """Recognizers per language plus the settings `analyze` applies to their findings (built by
    `compliance.recognizers.load_recognizers` from a YAML file)."""

    by_language: Mapping[str, tuple[Recognizer, ...]]
    min_score: float = 0.0
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # extra context words per entity
    source: str = "<code>"
    not_pii: Mapping[str, frozenset[str]] = field(default_factory=dict)  # entity -> texts never reported

    def for_language(self, language: Language) -> tuple[Recognizer, ...]:
        check_language(language)
        return tuple(self.by_language.get(language, ()))
