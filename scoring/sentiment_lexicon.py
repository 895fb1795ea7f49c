"""Rule-based utterance valence for call-centre speech: the lexicon half of scoring.sentiment.

English: VADER (vaderSentiment) with call-centre rules from scoring/lexicons/en_sentiment.yaml: word
overrides (a request to "cancel" is not negative, "okay" is an acknowledgement), phrases VADER does not
know ("I've been waiting for weeks", "nobody called me back"), sarcasm spans that replace VADER's reading
("great, just great", "thanks for nothing"), and request questions ("can you cancel the late fee?")
that state no feeling.

Chinese: scoring/lexicons/zh_sentiment.yaml, Simplified entries, applied after OpenCC Traditional ->
Simplified normalisation (Taiwan and Hong Kong wording and Cantonese particles survive the conversion, so
很扯 / 烂透了 / 嬲 / 冇人覆 are entries too). Greedy longest-match tokens with negation, hedged negation,
intensifiers, contrast, yes/no questions (no feeling stated) vs rhetorical questions (这不是坑人吗), regex
complaint patterns (等了两个星期, 第三次打电话), and politeness discounted next to a complaint
(好吧，谢谢，反正你们也解决不了).

All functions return raw (unbounded, VADER-scale) valences; `normalise` maps them to -1..1.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

NORMALISE_ALPHA = 15.0  # VADER's compound normalisation


def normalise(raw: float) -> float:
    """VADER's compound squashing: raw valence -> -1..1."""
    return raw / math.sqrt(raw * raw + NORMALISE_ALPHA) if raw else 0.0


def denormalise(compound: float) -> float:
    """Inverse of `normalise` (VADER compound -> raw valence), clipped away from +-1."""
    c = max(-0.9999, min(0.9999, compound))
    return c * math.sqrt(NORMALISE_ALPHA / (1.0 - c * c))


def _read_yaml(name: str, path: str | Path | None) -> tuple[dict, str]:
    import yaml

    if path is None:
        text = resources.files("scoring").joinpath(f"lexicons/{name}").read_text(encoding="utf-8")
        where = f"scoring/lexicons/{name}"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    return yaml.safe_load(text) or {}, where


def _compile_patterns(entries: Any, where: str, section: str) -> tuple[tuple[re.Pattern, float], ...]:
    out = []
    for i, e in enumerate(entries or ()):
        if not isinstance(e, Mapping) or "pattern" not in e or "valence" not in e:
            raise ValueError(f"{where}: {section}[{i}] needs 'pattern' and 'valence', got {e!r}")
        try:
            out.append((re.compile(e["pattern"], re.IGNORECASE), float(e["valence"])))
        except re.error as err:
            raise ValueError(f"{where}: {section}[{i}] pattern {e['pattern']!r} is not a valid regex: {err}") from None
    return tuple(out)


# ---------------------------------------------------------------- Chinese

@dataclass(frozen=True)
class ZhLexicon:
    valence: Mapping[str, float]
    neutral: frozenset[str]
    negators: frozenset[str]
    hedged_negators: Mapping[str, float]
    intensifiers: Mapping[str, float]  # diminishers are intensifiers below 1
    contrast: frozenset[str]
    polite: frozenset[str] = frozenset()  # positive entries that are mere politeness (谢谢, 好的)
    rhetorical: frozenset[str] = frozenset()  # question words that make a question an accusation
    adverbial: Mapping[str, float] = field(default_factory=dict)  # 好 before a negative entry: an intensifier
    acknowledgements: frozenset[str] = frozenset()  # a clause that is only 好 / 行 acknowledges
    patterns: tuple[tuple[re.Pattern, float], ...] = field(default=())  # every match adds its valence
    replace: tuple[tuple[re.Pattern, float], ...] = field(default=())  # span removed first, valence added

    @cached_property
    def max_len(self) -> int:
        return max(len(t) for t in self._kinds)

    @cached_property
    def _kinds(self) -> dict[str, str]:
        kinds: dict[str, str] = {}
        # Later kinds win on a duplicate; sentiment entries go last so that e.g. "不满" is a word, not 不+满.
        for kind, terms in (("neutral", self.neutral), ("rhetorical", self.rhetorical), ("contrast", self.contrast),
                            ("negator", self.negators), ("hedged", self.hedged_negators),
                            ("intensifier", self.intensifiers), ("valence", self.valence)):
            for t in terms:
                kinds[t] = kind
        return kinds

    def tokens(self, clause: str) -> list[tuple[str, str]]:
        """Greedy longest-match (kind, term) tokens; characters in no entry are skipped."""
        out, i, kinds = [], 0, self._kinds
        while i < len(clause):
            for n in range(min(self.max_len, len(clause) - i), 0, -1):
                kind = kinds.get(clause[i:i + n])
                if kind is not None:
                    out.append((kind, clause[i:i + n]))
                    i += n
                    break
            else:
                i += 1
        return out

    def is_backchannel(self, text: str) -> bool:
        """Only acknowledgements ("好的。", "嗯，对"): Simplified text."""
        clauses = [c for c in _CLAUSE_SPLIT.split(text) if c]
        return bool(clauses) and all(c in self.acknowledgements for c in clauses)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ZhLexicon":
        d, where = _read_yaml("zh_sentiment.yaml", path)
        missing = {"positive", "negative", "negators"} - set(d)
        if missing:
            raise ValueError(f"Chinese sentiment lexicon {where} lacks section(s) {sorted(missing)}")
        pos, neg = d["positive"] or {}, d["negative"] or {}
        bad = [k for k, v in pos.items() if v <= 0] + [k for k, v in neg.items() if v >= 0]
        if bad:
            raise ValueError(f"Chinese sentiment lexicon {where}: entries with the wrong sign: {bad}")
        both = sorted(set(pos) & set(neg))
        if both:
            raise ValueError(f"Chinese sentiment lexicon {where}: entries both positive and negative: {both}")
        polite = frozenset(d.get("polite") or ())
        if stray := sorted(polite - set(pos)):
            raise ValueError(f"Chinese sentiment lexicon {where}: polite entries must be positive entries too: {stray}")
        return cls(
            valence={**{k: float(v) for k, v in pos.items()}, **{k: float(v) for k, v in neg.items()}},
            neutral=frozenset(d.get("neutral") or ()),
            negators=frozenset(d["negators"]),
            hedged_negators={k: float(v) for k, v in (d.get("hedged_negators") or {}).items()},
            intensifiers={**{k: float(v) for k, v in (d.get("intensifiers") or {}).items()},
                          **{k: float(v) for k, v in (d.get("diminishers") or {}).items()}},
            contrast=frozenset(d.get("contrast") or ()),
            polite=polite,
            rhetorical=frozenset(d.get("rhetorical") or ()),
            adverbial={k: float(v) for k, v in (d.get("adverbial") or {}).items()},
            acknowledgements=frozenset(d.get("acknowledgements") or ()),
            patterns=_compile_patterns(d.get("patterns"), where, "patterns"),
            replace=_compile_patterns(d.get("replace"), where, "replace"),
        )


_CLAUSE_SPLIT = re.compile(r"[，。！？；：、,.!?;:\s…~～]+")
_SENTENCE_SPLIT = re.compile(r"(?<=[。！？!?；;])")
NEGATION_SCALE = -0.74  # VADER's N_SCALAR: "不差" is mildly positive, not as positive as "好"
POLITE_DISCOUNT = 0.25  # 谢谢 next to a complaint is a formula, not satisfaction
COMPLAINT_LEVEL = -1.5  # a contribution at or below this makes the utterance a complaint
_YES_NO_ENDINGS = ("吗", "么", "麽", "咩", "了没有", "了没")  # not 嘛: "根本是在摆烂嘛" asserts
_A_NOT_A = re.compile(r"有没有|能不能|可不可以|是不是|会不会|要不要|好不好|行不行|对不对|可唔可以|系唔系|有冇")
_QUESTION_WORDS = re.compile(r"什么|怎么|怎样|哪|几|多少|多久|谁|为什么|为何|点样|几时|几耐")


def _question_kind(clause: str, last_of_question: bool, exclaims: bool, toks: list[tuple[str, str]],
                   rhetorical: frozenset[str]) -> str | None:
    """None (a statement), "plain" (asks: states no feeling) or "rhetorical" (accuses)."""
    yes_no = clause.endswith(_YES_NO_ENDINGS) and not clause.endswith(("什么", "怎么", "甚么"))
    a_not_a = not exclaims and _A_NOT_A.search(clause)
    if not (yes_no or a_not_a or (last_of_question and _QUESTION_WORDS.search(clause))):
        return None
    if any(term in rhetorical for _, term in toks) or (yes_no and "不是" in clause):
        return "rhetorical"
    return "plain"


def zh_valence(text: str, lexicon: ZhLexicon) -> float:
    """Raw (unbounded) valence of Simplified Chinese text."""
    parts: list[list] = []  # [contribution, is politeness]
    for pattern, v in lexicon.replace:
        parts += [[v, False] for _ in pattern.finditer(text)]
        text = pattern.sub("，", text)
    for sentence in _SENTENCE_SPLIT.split(text):
        asks = sentence.rstrip().endswith(("？", "?"))
        exclaims = sentence.rstrip().endswith(("！", "!"))
        clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c and c not in lexicon.acknowledgements]
        sentence_parts: list[list] = []
        for ci, clause in enumerate(clauses):
            toks = lexicon.tokens(clause)
            question = _question_kind(clause, asks and ci == len(clauses) - 1, exclaims, toks, lexicon.rhetorical)
            negate, scale = False, 1.0
            clause_parts: list[list] = []
            for ti, (kind, term) in enumerate(toks):
                if kind == "valence" and term in lexicon.adverbial and ti + 1 < len(toks) \
                        and toks[ti + 1][0] == "valence" and lexicon.valence[toks[ti + 1][1]] < 0:
                    kind = "adverbial"
                if kind == "negator":
                    # 这不是骗人吗: in a rhetorical question 不是 asserts, it does not negate.
                    if not (term == "不是" and question == "rhetorical"):
                        negate = not negate
                elif kind == "hedged":
                    negate, scale = not negate, scale * lexicon.hedged_negators[term]
                elif kind == "intensifier":
                    scale *= lexicon.intensifiers[term]
                elif kind == "adverbial":
                    scale *= lexicon.adverbial[term]
                elif kind == "contrast":
                    for p in sentence_parts + clause_parts:
                        p[0] *= 0.5
                    scale *= 1.5
                elif kind == "valence":
                    v = lexicon.valence[term] * scale
                    clause_parts.append([v * NEGATION_SCALE if negate else v, term in lexicon.polite and not negate])
                    negate, scale = False, 1.0
                elif kind == "neutral":  # ends a pending negation ("不用" ... is not a negation of what follows)
                    negate = False
            if question == "plain":  # "您满意吗？" asks, it does not state satisfaction
                clause_parts = []
            elif question == "rhetorical":  # "到底什么时候能解决？" is no praise
                clause_parts = [p for p in clause_parts if p[0] < 0]
            sentence_parts += clause_parts
        parts += sentence_parts
    parts += [[v, False] for pattern, v in lexicon.patterns for _ in pattern.finditer(text)]
    if any(v <= COMPLAINT_LEVEL for v, polite in parts if not polite):
        parts = [[v * POLITE_DISCOUNT if polite and v > 0 else v, polite] for v, polite in parts]
    return float(sum(v for v, _ in parts))


# ---------------------------------------------------------------- English

@dataclass(frozen=True)
class EnRules:
    """Call-centre corrections to VADER (scoring/lexicons/en_sentiment.yaml)."""
    overrides: Mapping[str, float]  # VADER lexicon entries replaced (0 removes a word's valence)
    phrases: tuple[tuple[re.Pattern, float], ...]  # added to VADER's reading of the text
    replace: tuple[tuple[re.Pattern, float], ...]  # span removed before VADER; valence added instead
    request_question: re.Pattern  # a sentence that asks for something; its words state no feeling
    request_scale: float
    polite: tuple[re.Pattern, ...]  # thanks/politeness formulas, discounted next to a complaint
    backchannel: re.Pattern | None = None  # one acknowledgement ("okay", "sure"); see is_backchannel

    def is_backchannel(self, text: str) -> bool:
        if self.backchannel is None:
            return False
        pieces = [p.strip() for p in re.split(r"[.,!?;…]+", text) if p.strip()]
        return bool(pieces) and all(self.backchannel.fullmatch(p) for p in pieces)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "EnRules":
        d, where = _read_yaml("en_sentiment.yaml", path)
        if "request_question" not in d:
            raise ValueError(f"English sentiment rules {where} lack section 'request_question'")
        rq = d["request_question"]
        if bad := [k for k in (d.get("overrides") or {}) if not isinstance(k, str)]:
            raise ValueError(f"English sentiment rules {where}: override keys {bad} are not words "
                             "(quote yes/no/on/off: YAML reads them as booleans)")
        try:
            polite = tuple(re.compile(p, re.IGNORECASE) for p in d.get("polite") or ())
            request = re.compile(rq["pattern"], re.IGNORECASE)
            backchannel = re.compile(d["backchannel"], re.IGNORECASE) if d.get("backchannel") else None
        except (re.error, KeyError, TypeError) as err:
            raise ValueError(f"English sentiment rules {where}: bad request_question/polite/backchannel entry: "
                             f"{err}") from None
        return cls(overrides={str(k).lower(): float(v) for k, v in (d.get("overrides") or {}).items()},
                   phrases=_compile_patterns(d.get("phrases"), where, "phrases"),
                   replace=_compile_patterns(d.get("replace"), where, "replace"),
                   request_question=request, request_scale=float(rq.get("scale", 0.0)), polite=polite,
                   backchannel=backchannel)


_EN_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def en_valence(text: str, vader: Any, rules: EnRules | None) -> float:
    """Raw valence of English text: VADER per sentence (summed on VADER's raw scale) plus the rules.

    `vader` is a vaderSentiment SentimentIntensityAnalyzer whose lexicon already carries `rules.overrides`
    (see `apply_overrides`). With `rules` None this is plain VADER on the whole text."""
    if rules is None:
        return denormalise(vader.polarity_scores(text)["compound"])
    extra: list[float] = []
    for pattern, v in rules.replace:
        if pattern.search(text):
            extra += [v] * len(pattern.findall(text))
            text = pattern.sub(" , ", text)
    for pattern, v in rules.phrases:
        extra += [v] * len(pattern.findall(text))
    sentences = [s.strip() for s in _EN_SENTENCE.findall(text) if s.strip(" ,.!?")]
    polite_parts, other_parts = [], []
    for s in sentences:
        raw = denormalise(vader.polarity_scores(s)["compound"])
        if rules.request_question.search(s) and s.rstrip().endswith("?"):
            raw *= rules.request_scale
        (polite_parts if raw > 0 and any(p.search(s) for p in rules.polite) else other_parts).append(raw)
    complaint = any(v <= COMPLAINT_LEVEL for v in other_parts + extra)
    if complaint:
        polite_parts = [v * POLITE_DISCOUNT for v in polite_parts]
    return sum(polite_parts) + sum(other_parts) + sum(extra)


def apply_overrides(vader: Any, rules: EnRules | None) -> Any:
    if rules is not None:
        for word, v in rules.overrides.items():
            if v == 0.0:
                vader.lexicon.pop(word, None)
            else:
                vader.lexicon[word] = v
    return vader
