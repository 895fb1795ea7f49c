"""Languages as data: one profile per language (core/languages/<code>.yaml), read into a `LanguageRegistry`.

A profile holds what the pipeline knows about a language: its code and aliases, how its words are joined
into text, the unit of speaking pace, script conversion (OpenCC), what the speech model is told, the
phrases that mark roles and holds, which PII rule set and which sentiment lexicon apply, and the default
evaluation form per call direction::

    code: es                      # must equal the file name (es.yaml)
    name: Spanish
    aliases: [spa]                # other tags that mean this language (region suffixes like es-MX are cut)
    word_joiner: " "              # "" for languages written without spaces (zh)
    pace_unit: words              # or characters (zh)
    scripts: {}                   # target script -> OpenCC config, e.g. {zh-Hans: t2s, zh-Hant: s2t}
    asr: {codes: [es], prompt: null, detect: true}
    pii: en                       # built-in PII rule set (en or zh); null: no personal-data detection
    sentiment: null               # {lexicon: en} or {lexicon: zh}; null: no sentiment scores
    forms: {}                     # call direction (or "*") -> evaluation form id
    phrases: {hold: [un momento, no cuelgue]}

The shipped profiles live in core/languages/; `load_languages(folder)` adds a deployment's folder (the
setting `languages_dir`, environment CALLQA_LANGUAGES_DIR): a file there adds a language, or replaces the
shipped profile of the same code. Registries are built on first use and cached per folder
(`load_languages`); nothing is read at import time. `default_languages()` is the registry of the configured
folder, for the stages that are not handed one.

Errors are `LanguageProfileError` (E135) naming the file, the line, the closest valid key and an example.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Mapping

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.errors import LanguageProfileError
from core.yamlspec import (did_you_mean, line_of, parse_validated, read_mapping, read_text, source_lines,
                           unknown_key_message)

LANGUAGES_ENV = "CALLQA_LANGUAGES_DIR"
OPENCC_CONFIGS = ("t2s", "s2t", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp", "t2tw", "t2hk", "tw2t", "hk2t",
                  "t2jp", "jp2t")
DIRECTIONS = ("inbound", "outbound", "internal", "unknown", "*")

EXAMPLE = """\
code: es
name: Spanish
aliases: [spa]
word_joiner: " "
pace_unit: words
asr: {codes: [es], prompt: null, detect: true}
pii: en
sentiment: null
forms: {}
phrases:
  hold: [un momento, no cuelgue]
  agent_strong: [gracias por llamar]"""

def _opencc(config: str) -> str:
    if config not in OPENCC_CONFIGS:
        raise ValueError(f"unknown OpenCC conversion {config!r}; {did_you_mean(config, OPENCC_CONFIGS)}"
                         f"conversions: {', '.join(OPENCC_CONFIGS)}")
    return config


def _direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown call direction {direction!r}; {did_you_mean(direction, DIRECTIONS)}"
                         f"directions: {', '.join(DIRECTIONS)}")
    return direction


Code = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
OpenCCConfig = Annotated[str, AfterValidator(_opencc)]
Direction = Annotated[str, AfterValidator(_direction)]
Phrase = Annotated[str, Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AsrSpec(_Spec):
    """What the speech model is told and asked: `codes` are the model's language codes whose detection
    probabilities count for this language (the first is the one transcription runs with: zh and yue for
    Chinese); `prompt` primes the decoder; `detect` puts the language among those detection picks from."""

    codes: tuple[Code, ...] = Field(default=(), description="speech-model language codes (default: the code)")
    prompt: str | None = None
    detect: bool = True


class SentimentSpec(_Spec):
    """The lexicon backend scores this language with the lexicon of `lexicon` (VADER + call-centre rules
    for en, the Chinese lexicon for zh)."""

    lexicon: Literal["en", "zh"]


class PhraseSpec(_Spec):
    """Phrases the pipeline looks for, matched in any transcript (Latin ones on word boundaries, Chinese
    ones anywhere): `hold` announces a hold (core.metrics); the rest decide roles (transcribe.roles)."""

    hold: tuple[Phrase, ...] = ()
    agent_strong: tuple[Phrase, ...] = ()  # agents open with them, customers rarely say them
    agent_weak: tuple[Phrase, ...] = ()  # agents open with them, customers say them too
    agent_content: tuple[Phrase, ...] = ()  # what agents say anywhere in a call
    customer: tuple[Phrase, ...] = ()  # what customers say anywhere in a call
    customer_frames: tuple[Phrase, ...] = ()  # customer words around an agent phrase that make it theirs


class LanguageProfile(_Spec):
    code: Code
    name: str = Field(min_length=1)
    aliases: tuple[Code, ...] = ()
    word_joiner: Literal["", " "]
    pace_unit: Literal["characters", "words"]
    scripts: dict[Annotated[str, Field(min_length=2)], OpenCCConfig] = Field(default_factory=dict)
    asr: AsrSpec = AsrSpec()
    pii: Literal["en", "zh"] | None = None
    sentiment: SentimentSpec | None = None
    forms: dict[Direction, Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=dict)
    phrases: PhraseSpec = PhraseSpec()

    @model_validator(mode="after")
    def _aliases(self) -> "LanguageProfile":
        if self.code in self.aliases:
            raise ValueError(f"aliases repeat the code {self.code!r}")
        return self

    @property
    def asr_codes(self) -> tuple[str, ...]:
        return self.asr.codes or (self.code,)

    @property
    def default_script(self) -> str | None:
        return next(iter(self.scripts), None)


_SECTIONS = {"asr": AsrSpec, "sentiment": SentimentSpec, "phrases": PhraseSpec}


def _describe(err: dict, lines: dict[tuple, int], where: str) -> str:
    loc = tuple(x for x in err["loc"] if x != "[key]")
    dotted = ".".join(map(str, loc)) or "<profile>"
    line = line_of(lines, loc)
    if err["type"] == "extra_forbidden":
        model = _SECTIONS.get(str(loc[0]), LanguageProfile) if len(loc) > 1 else LanguageProfile
        return unknown_key_message(where, line, loc, list(model.model_fields), EXAMPLE)
    if err["type"] == "missing":
        return f"{where}:{line}: missing '{dotted}'\n  e.g.\n{EXAMPLE}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        msg = "must be a lower-case ISO 639 code of 2 or 3 letters (es, yue)" if "a-z]{2,3}" in msg else msg
    return f"{where}:{line}: {dotted}: {msg}\n  e.g.\n{EXAMPLE}"


def parse_profile(text: str, where: str = "<language profile>") -> LanguageProfile:
    """One profile from YAML text; LanguageProfileError (E135) names `where`, the line and a fix."""
    return parse_validated(text, where, LanguageProfile, LanguageProfileError, "language profile", EXAMPLE,
                           _describe)


def load_profile(path: str | Path) -> LanguageProfile:
    text, where = read_text(path, LanguageProfileError, "language profile")
    profile = parse_profile(text, where)
    if profile.code != Path(path).stem:
        node, _ = read_mapping(text, where, LanguageProfileError, "language profile", EXAMPLE)
        raise LanguageProfileError(f"{where}:{source_lines(node).get(('code',), 1)}: code {profile.code!r} must "
                                   f"equal the file name {Path(path).stem!r} (rename the file {profile.code}.yaml)")
    return profile


def base_tag(tag: str) -> str:
    """"zh" for "zh-TW", "zh_Hant", " ZH "; the part before any region or script suffix, lower-case."""
    return tag.strip().lower().replace("_", "-").split("-")[0]


class LanguageRegistry:
    """The languages one deployment handles, in order (shipped ones first, then the configured folder's)."""

    def __init__(self, profiles: Mapping[str, LanguageProfile], sources: Mapping[str, str] | None = None):
        self.profiles = dict(profiles)
        self.sources = dict(sources or {})
        self._tags: dict[str, str] = {}
        self._phrases: dict[str, tuple[str, ...]] = {}
        for code, p in self.profiles.items():
            for tag in (code, *p.aliases):
                if self._tags.get(tag, code) != code:
                    raise LanguageProfileError(
                        f"{self.sources.get(code, code)}: {tag!r} already names language {self._tags[tag]!r} "
                        f"({self.sources.get(self._tags[tag], '?')}); drop it from one of the two profiles")
                self._tags[tag] = code

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.profiles)

    def resolve(self, tag: str | None) -> str | None:
        """The code of the language `tag` names (a code, an alias, with or without region: zh-TW, cmn, eng);
        None when no profile has it."""
        return self._tags.get(base_tag(tag)) if isinstance(tag, str) and tag.strip() else None

    def get(self, tag: str | None) -> LanguageProfile | None:
        code = self.resolve(tag)
        return self.profiles[code] if code else None

    def joiner(self, tag: str | None) -> str:
        """How words (and segments) of the language are joined; " " for a language without a profile."""
        p = self.get(tag)
        return p.word_joiner if p else " "

    def pace_unit(self, tag: str | None) -> str:
        p = self.get(tag)
        return p.pace_unit if p else "words"

    def phrases(self, kind: str) -> tuple[str, ...]:
        """Every profile's phrases of `kind` (a `PhraseSpec` field), in registry order, each once: calls mix
        languages (an English greeting in a Chinese call), so the lists are matched whatever the language."""
        if kind not in self._phrases:
            if kind not in PhraseSpec.model_fields:
                raise ValueError(f"unknown kind of phrases {kind!r}; kinds: {', '.join(PhraseSpec.model_fields)}")
            out: dict[str, None] = {}
            for p in self.profiles.values():
                out.update(dict.fromkeys(getattr(p.phrases, kind)))
            self._phrases[kind] = tuple(out)
        return self._phrases[kind]

    def detectable(self) -> tuple[str, ...]:
        """Codes language detection on speech chooses from."""
        return tuple(c for c, p in self.profiles.items() if p.asr.detect)

    def form_map(self) -> dict[str, str]:
        """"<direction>:<code>" -> evaluation form id, from every profile's `forms`."""
        return {f"{d}:{code}": form for code, p in self.profiles.items() for d, form in p.forms.items()}

    def script(self, tag: str | None, preferred: str | None = None) -> str | None:
        """The script text of the language is converted to: `preferred` when the profile converts to it,
        else its first; None for a language without conversion."""
        p = self.get(tag)
        if p is None or not p.scripts:
            return None
        return preferred if preferred in p.scripts else p.default_script

    def converter(self, tag: str | None, script: str):
        """A function converting text of the language to `script` with the OpenCC conversion its profile
        names for it (zh: t2s to zh-Hans, s2t to zh-Hant)."""
        p = self.get(tag)
        if p is None or script not in p.scripts:
            raise ValueError(f"the profile of language {tag!r} does not convert to script {script!r}")
        from core.chinese import convert_opencc

        config = p.scripts[script]
        return lambda text: convert_opencc(text, config)


def shipped_dir() -> Path:
    return Path(__file__).with_name("languages")


@lru_cache(maxsize=16)
def _load(folders: tuple[str, ...]) -> LanguageRegistry:
    profiles: dict[str, LanguageProfile] = {}
    sources: dict[str, str] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            raise LanguageProfileError(f"{folder}: no such folder of language profiles (setting languages_dir, "
                                       f"${LANGUAGES_ENV})")
        for path in sorted(Path(folder).glob("*.yaml")):
            profile = load_profile(path)
            profiles[profile.code] = profile  # a deployment's profile replaces the shipped one of its code
            sources[profile.code] = str(path)
    return LanguageRegistry(profiles, sources)


def load_languages(folder: str | Path | None = None) -> LanguageRegistry:
    """The shipped profiles plus those in `folder` (a later profile of the same code replaces the shipped
    one); built once per folder and process."""
    folders = (str(shipped_dir()),) + ((str(Path(folder).expanduser().resolve()),) if folder else ())
    return _load(folders)


def default_languages() -> LanguageRegistry:
    """The registry of the configured folder ($CALLQA_LANGUAGES_DIR, which the settings set from
    `languages_dir`), for stages that are not handed one."""
    return _configured(os.environ.get(LANGUAGES_ENV) or None)


@lru_cache(maxsize=16)
def _configured(folder: str | None) -> LanguageRegistry:
    return load_languages(folder)  # cached by the setting's text: no path resolution per call


def languages_or_default(languages: LanguageRegistry | None) -> LanguageRegistry:
    return languages if languages is not None else default_languages()


def clear_cache() -> None:
    """Forget every registry read so far (tests; a deployment whose profiles changed on disk)."""
    _load.cache_clear()
    _configured.cache_clear()


__all__ = ["EXAMPLE", "LANGUAGES_ENV", "AsrSpec", "LanguageProfile", "LanguageRegistry", "PhraseSpec",
           "SentimentSpec", "base_tag", "default_languages", "load_languages", "load_profile",
           "parse_profile", "shipped_dir"]
