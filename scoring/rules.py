"""Rule trees for QA questions: a registry of small operator classes, each evaluated against a transcript.

A rule is a mapping with exactly one operator key, e.g. ``{phrases: [hello, hi]}`` or
``{role: agent, rule: {within_first: 20, rule: {regex: "my name is \\w+"}}}``; an optional ``id`` names
the node in evidence, an optional ``label`` (``{regex: "…", label: the agent's name}``) is what explanations
(and a regex's evidence) call it instead of describing it (see `scoring.wording`: fail and N/A explanations in plain
words, never a pattern). Text operators look at utterances (one per transcript segment); the filters
``role`` / ``within_first`` / ``within_last`` narrow those utterances for their child. An utterance is
"within the first N s" when it starts before N, "within the last N s" when it ends after duration - N;
neither window reaches past the middle of the call, so on a short call the opening never counts as the
closing. ``first_turns`` / ``last_turns`` (scoring.dialogue) count speaker turns instead of seconds.
Chinese is compared in Simplified script (phrases and regexes are converted once, the text per utterance),
so a form may list either script. ``not`` keeps its child's evidence: for a forbidden-phrase question
that evidence is the offending quote.

Other modules add operators with ``@register``; ``similar`` is defined here against the ``SimilarityModel``
protocol, and the model itself is injected at evaluation time through ``EvalContext.similarity``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Protocol

import numpy as np
import regex

from core.plugins import Registry
from core.saferegex import compile_user_regex
from core.metrics import ConversationMetrics, match_phrase
from core.models import ROLES, Segment, Transcript
from core.chinese import CJK


class RuleSpecError(ValueError):
    """A malformed rule; `path` locates it inside the rule tree (keys and list indexes)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = (), example: str = ""):
        super().__init__(message)
        self.message, self.path, self.example = message, path, example


class RuleEvaluationError(RuntimeError):
    """A rule cannot be evaluated with what the caller supplied (e.g. `similar` without a model)."""


class SimilarityModel(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """One embedding row per text."""


@dataclass(frozen=True)
class Evidence:
    quote: str
    speaker: str | None
    role: str | None
    start: float | None
    end: float | None
    rule_id: str
    detail: str


@dataclass(frozen=True)
class RuleResult:
    matched: bool
    evidence: tuple[Evidence, ...] = ()

    @property
    def first_start(self) -> float | None:
        return min((e.start for e in self.evidence if e.start is not None), default=None)


@dataclass(frozen=True)
class Utterance:
    text: str  # as transcribed
    norm: str  # Chinese converted to Simplified
    speaker: str | None
    role: str
    start: float
    end: float
    turn: int = 0  # index of the speaker turn (consecutive utterances of one role) in the whole call


def _simplified(text: str) -> str:
    if not CJK.search(text):
        return text
    from core.chinese import to_script  # lazy: loads OpenCC dictionaries

    return to_script(text, "zh-Hans")


def _role(seg: Segment, roles: dict[str, str]) -> str:
    role = seg.role or next((w.role for w in seg.words if w.role), None) or roles.get(seg.speaker or "", "unknown")
    return role if role in ROLES else "unknown"


def utterances(transcript: Transcript) -> tuple[Utterance, ...]:
    roles = {s.speaker: s.role for s in transcript.speakers}
    out: list[Utterance] = []
    turn, last = -1, None
    for s in sorted((s for s in transcript.segments if s.text.strip()), key=lambda s: s.start):
        role = _role(s, roles)
        if (role, s.speaker) != last:
            turn, last = turn + 1, (role, s.speaker)
        out.append(Utterance(s.text.strip(), _simplified(s.text.strip()), s.speaker, role, s.start, s.end, turn))
    return tuple(out)


@dataclass(frozen=True)
class EvalContext:
    transcript: Transcript
    metrics: ConversationMetrics | None = None
    similarity: SimilarityModel | None = None
    units: tuple[Utterance, ...] | None = None  # None: all utterances of the transcript

    def __post_init__(self) -> None:
        if self.units is None:
            object.__setattr__(self, "units", utterances(self.transcript))

    @property
    def duration(self) -> float:
        return max([self.transcript.duration] + [s.end for s in self.transcript.segments])

    def narrowed(self, keep: Callable[[Utterance], bool]) -> "EvalContext":
        return replace(self, units=tuple(u for u in self.units if keep(u)))


def _evidence(u: Utterance, rule_id: str, detail: str) -> Evidence:
    return Evidence(u.text, u.speaker, u.role, u.start, u.end, rule_id, detail)


# ---- registry ----

Builder = Callable[[Any, str, tuple], "Rule"]


def _rule_class(name: str, cls: object) -> type["Rule"]:
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise ValueError("a rule operator must be a subclass of scoring.rules.Rule")
    if getattr(cls, "op", None) != name:
        raise ValueError(f"its `op` is {getattr(cls, 'op', None)!r}; the entry point's name must be the operator "
                         "key forms use")
    return cls


# plug-ins: entry-point group "callqa.rule_operators", name = the operator key (core.plugins)
REGISTRY: Registry[type["Rule"]] = Registry("rule operator", check=_rule_class)


def register(cls: type["Rule"]) -> type["Rule"]:
    """Class decorator: make `cls.op` usable in forms (a name is registered once: E136 on a clash)."""
    REGISTRY.register(cls.op, cls)
    return cls


class Rule:
    op: ClassVar[str]
    params: ClassVar[tuple[str, ...]] = ()  # keys allowed beside the operator key (and "id")
    example: ClassVar[str]
    label: ClassVar[str | None] = None  # an optional `label:` of the rule node (set per instance by build_rule)
    id: str

    @classmethod
    def parse(cls, spec: dict, rule_id: str, path: tuple, build: Builder) -> "Rule":
        raise NotImplementedError

    def evaluate(self, ctx: EvalContext) -> RuleResult:
        raise NotImplementedError

    def describe(self) -> str:
        """What the rule looks for, in plain words, from the form alone (never transcript text): see `scoring.wording.words`
        (the explanation of a fail or N/A answer is `plain`, bounded)."""
        from scoring.wording import words  # it builds on this module

        return words(self) or self.op

    @classmethod
    def fail(cls, message: str, path: tuple) -> RuleSpecError:
        return RuleSpecError(f"'{cls.op}' rule: {message}", path, cls.example)


def build_rule(spec: Any, rule_id: str, path: tuple = ()) -> Rule:
    """Compile a rule mapping (as read from YAML) into Rule objects; RuleSpecError on any problem."""
    if isinstance(spec, Rule):
        return spec
    if not isinstance(spec, dict) or not spec:
        raise RuleSpecError(f"a rule must be a mapping with one operator key ({', '.join(sorted(REGISTRY))}), "
                            f"not {spec!r}", path, "{phrases: [\"thank you for calling\"]}")
    ops = [k for k in spec if k in REGISTRY]
    if len(ops) != 1:
        unknown = [k for k in spec if k not in REGISTRY and k != "id"]
        hint = ""
        if unknown and (close := difflib.get_close_matches(str(unknown[0]), REGISTRY, n=1)):
            hint = f"; did you mean '{close[0]}' instead of '{unknown[0]}'?"
        what = f"several operators {ops}" if ops else "no operator"
        raise RuleSpecError(f"rule has {what}; use exactly one of {', '.join(sorted(REGISTRY))}{hint}", path,
                            "{phrases: [\"thank you for calling\"]}")
    cls = REGISTRY[ops[0]]
    allowed = (cls.op, "id", "label", *cls.params)
    for key in spec:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise cls.fail(f"unknown key '{key}' (allowed: {', '.join(allowed)}){hint}", path + (key,))
    rid = str(spec.get("id") or rule_id)
    label = spec.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip() or len(label.strip()) > 120):
        raise cls.fail(f"'label' must be a short text (at most 120 characters), not {label!r}", path + ("label",))
    rule = cls.parse({k: v for k, v in spec.items() if k != "label"}, rid, path, build_rule)
    if label is not None:  # frozen dataclasses: set once, right after parsing
        object.__setattr__(rule, "label", " ".join(label.split()))
    return rule


def _examples(items, n: int = 3) -> str:
    shown = ", ".join(f'"{x}"' for x in items[:n])
    return f"{shown} ({len(items)} in all)" if len(items) > n else shown


def _str_list(cls: type[Rule], value: Any, path: tuple) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise cls.fail("needs a non-empty list of non-empty strings", path)
    return tuple(value)


def _number(cls: type[Rule], value: Any, path: tuple, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0):
        raise cls.fail(f"needs a {'positive ' if positive else ''}number, not {value!r}", path)
    return float(value)


# ---- text operators ----

@register
@dataclass(frozen=True)
class Phrases(Rule):
    op: ClassVar[str] = "phrases"
    example: ClassVar[str] = '{phrases: ["thank you for calling", "请问有什么可以帮您", "請問有什麼可以幫您"]}'
    id: str
    phrases: tuple[str, ...]
    compare: tuple[str, ...]  # the phrases in Simplified script

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        ps = _str_list(cls, spec["phrases"], path + ("phrases",))
        return cls(rule_id, ps, tuple(_simplified(p) for p in ps))

    def evaluate(self, ctx):
        ev = []
        for u in ctx.units:
            if hit := match_phrase(u.norm, self.compare):
                ev.append(_evidence(u, self.id, f"phrase: {self.phrases[self.compare.index(hit)]}"))
        return RuleResult(bool(ev), tuple(ev))


@register
@dataclass(frozen=True)
class Regex(Rule):
    op: ClassVar[str] = "regex"
    example: ClassVar[str] = r'{regex: "my name is \\w+"}'
    id: str
    pattern: str
    compiled: Any  # core.saferegex.UserPattern: searches under a time budget

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        pattern = spec["regex"]
        if not isinstance(pattern, str) or not pattern:
            raise cls.fail(f"needs one pattern string, not {pattern!r}", path + ("regex",))
        try:
            compiled = compile_user_regex(_simplified(pattern), regex.IGNORECASE)
        except ValueError as e:
            raise cls.fail(f"invalid regular expression {pattern!r}: {e}", path + ("regex",)) from None
        return cls(rule_id, pattern, compiled)

    def evaluate(self, ctx):
        # what matched, never the pattern (a reviewer reads the detail). The matched text stays whole and as
        # it stands in the transcript (not its Simplified form), so the redaction boundary
        # (compliance.redact.mask_known) finds any personal data in it exactly as in the quote.
        ev = []
        for u in ctx.units:
            if m := self.compiled.search(u.norm):
                said = u.text[m.start():m.end()] if len(u.text) == len(u.norm) else m.group(0)
                ev.append(_evidence(u, self.id, f'{self.label}: "{said}"' if self.label else f'matched "{said}"'))
        return RuleResult(bool(ev), tuple(ev))


@register
@dataclass(frozen=True)
class Similar(Rule):
    """Semantic similarity to example sentences; the model comes from EvalContext.similarity.

    An utterance matches when its best cosine score against the examples reaches `threshold` and beats
    its best score against the near-miss examples in `unlike` (sentences that look alike but must not
    count, e.g. "I saw your ad in the paper" for a media threat). Evidence names the example and score.
    """
    op: ClassVar[str] = "similar"
    params: ClassVar[tuple[str, ...]] = ("threshold", "unlike")
    example: ClassVar[str] = ('{similar: ["I understand how frustrating that is"], threshold: 0.86, '
                              'unlike: ["I understand, let me check"]}')
    id: str
    examples: tuple[str, ...]
    threshold: float
    unlike: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        examples = _str_list(cls, spec["similar"], path + ("similar",))
        if "threshold" not in spec:
            raise cls.fail("needs a 'threshold' between 0 and 1", path)
        t = _number(cls, spec["threshold"], path + ("threshold",))
        if t > 1:
            raise cls.fail(f"threshold must be within 0..1, not {t}", path + ("threshold",))
        unlike = _str_list(cls, spec["unlike"], path + ("unlike",)) if "unlike" in spec else ()
        return cls(rule_id, examples, t, unlike)

    def evaluate(self, ctx):
        if ctx.similarity is None:
            raise RuleEvaluationError(f"rule {self.id!r} uses 'similar' but no similarity model was given "
                                      "(EvalContext.similarity)")
        if not ctx.units:
            return RuleResult(False)

        def unit(m: np.ndarray) -> np.ndarray:
            m = np.asarray(m, dtype=float)
            return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)

        texts = unit(ctx.similarity.encode([u.text for u in ctx.units]))
        sims = texts @ unit(ctx.similarity.encode(list(self.examples))).T
        worst = (texts @ unit(ctx.similarity.encode(list(self.unlike))).T).max(axis=1) if self.unlike else None
        ev = []
        for i, (u, row) in enumerate(zip(ctx.units, sims)):
            j = int(np.argmax(row))
            if row[j] >= self.threshold and (worst is None or row[j] > worst[i]):
                ev.append(_evidence(u, self.id, f"similarity {row[j]:.3f} to example: {self.examples[j]}"))
        return RuleResult(bool(ev), tuple(ev))


# ---- filters ----

@dataclass(frozen=True)
class _Filter(Rule):
    params: ClassVar[tuple[str, ...]] = ("rule",)
    id: str
    arg: Any
    child: Rule

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        if "rule" not in spec:
            raise cls.fail("needs a child 'rule'", path)
        return cls(rule_id, cls.check(spec[cls.op], path + (cls.op,)), build(spec["rule"], rule_id, path + ("rule",)))

    @classmethod
    def check(cls, value, path):
        return _number(cls, value, path)

    def keep(self, u: Utterance, ctx: EvalContext) -> bool:
        raise NotImplementedError

    def evaluate(self, ctx):
        return self.child.evaluate(ctx.narrowed(lambda u: self.keep(u, ctx)))


@register
@dataclass(frozen=True)
class RoleFilter(_Filter):
    op: ClassVar[str] = "role"
    example: ClassVar[str] = '{role: agent, rule: {phrases: ["how can I help"]}}'

    @classmethod
    def check(cls, value, path):
        if value not in ("agent", "customer"):
            raise cls.fail(f"role must be 'agent' or 'customer', not {value!r}", path)
        return value

    def keep(self, u, ctx):
        return u.role == self.arg


@register
@dataclass(frozen=True)
class WithinFirst(_Filter):
    op: ClassVar[str] = "within_first"
    example: ClassVar[str] = '{within_first: 20, rule: {phrases: ["my name is"]}}'

    def keep(self, u, ctx):
        return u.start < min(self.arg, ctx.duration / 2)


@register
@dataclass(frozen=True)
class WithinLast(_Filter):
    op: ClassVar[str] = "within_last"
    example: ClassVar[str] = '{within_last: 30, rule: {phrases: ["goodbye"]}}'

    def keep(self, u, ctx):
        return u.end > ctx.duration - self.arg and u.start >= ctx.duration / 2


# ---- combinators and relations ----

def _children(cls: type[Rule], value: Any, n: int | None, rule_id: str, path: tuple, build: Builder) -> tuple[Rule, ...]:
    if not isinstance(value, list) or (n is not None and len(value) != n) or not value:
        raise cls.fail(f"needs a list of {n if n else 'one or more'} rules", path)
    return tuple(build(v, f"{rule_id}.{i}", path + (i,)) for i, v in enumerate(value))


@register
@dataclass(frozen=True)
class All(Rule):
    op: ClassVar[str] = "all"
    example: ClassVar[str] = '{all: [{phrases: ["recap"]}, {phrases: ["anything else"]}]}'
    id: str
    children: tuple[Rule, ...]

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        return cls(rule_id, _children(cls, spec[cls.op], None, rule_id, path + (cls.op,), build))

    def evaluate(self, ctx):
        results = [c.evaluate(ctx) for c in self.children]
        return RuleResult(all(r.matched for r in results), tuple(e for r in results for e in r.evidence))


@register
@dataclass(frozen=True)
class Any_(All):
    op: ClassVar[str] = "any"
    example: ClassVar[str] = '{any: [{phrases: ["goodbye"]}, {regex: "have a (nice|good) day"}]}'

    def evaluate(self, ctx):
        results = [c.evaluate(ctx) for c in self.children]
        return RuleResult(any(r.matched for r in results), tuple(e for r in results if r.matched for e in r.evidence))


@register
@dataclass(frozen=True)
class Not(Rule):
    op: ClassVar[str] = "not"
    example: ClassVar[str] = '{not: {role: agent, rule: {phrases: ["shut up"]}}}'
    id: str
    child: Rule

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        return cls(rule_id, build(spec["not"], rule_id, path + ("not",)))

    def evaluate(self, ctx):
        r = self.child.evaluate(ctx)
        return RuleResult(not r.matched, r.evidence)  # evidence of what was found, i.e. why `not` failed


@register
@dataclass(frozen=True)
class Before(Rule):
    """`before: [A, B]`: both match and A's first match starts before B's first match."""
    op: ClassVar[str] = "before"
    example: ClassVar[str] = ('{before: [{phrases: ["date of birth"]}, {phrases: ["your balance"]}]}')
    id: str
    first: Rule
    second: Rule

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        a, b = _children(cls, spec[cls.op], 2, rule_id, path + (cls.op,), build)
        return cls(rule_id, a, b)

    def evaluate(self, ctx):
        a, b = self.first.evaluate(ctx), self.second.evaluate(ctx)
        ok = a.matched and b.matched and a.first_start is not None and b.first_start is not None and (
            a.first_start < b.first_start if self.op == "before" else a.first_start > b.first_start)
        return RuleResult(bool(ok), a.evidence + b.evidence)


@register
@dataclass(frozen=True)
class After(Before):
    """`after: [A, B]`: some match of A starts after B's first match (a "thanks for waiting" in the opening
    does not hide the one after the hold)."""
    op: ClassVar[str] = "after"
    example: ClassVar[str] = '{after: [{phrases: ["thank you for waiting"]}, {phrases: ["may I put you on hold"]}]}'

    def evaluate(self, ctx):
        a, b = self.first.evaluate(ctx), self.second.evaluate(ctx)
        first_b = b.first_start
        later = tuple(e for e in a.evidence if e.start is not None and first_b is not None and e.start > first_b)
        return RuleResult(bool(later), (later or a.evidence) + b.evidence)


@register
@dataclass(frozen=True)
class Near(Rule):
    """`near: [A, B], seconds: N`: some match of A and some match of B are at most N s apart."""
    op: ClassVar[str] = "near"
    params: ClassVar[tuple[str, ...]] = ("seconds",)
    example: ClassVar[str] = '{near: [{phrases: ["sorry"]}, {phrases: ["refund"]}], seconds: 10}'
    id: str
    first: Rule
    second: Rule
    seconds: float

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        a, b = _children(cls, spec[cls.op], 2, rule_id, path + (cls.op,), build)
        if "seconds" not in spec:
            raise cls.fail("needs 'seconds'", path)
        return cls(rule_id, a, b, _number(cls, spec["seconds"], path + ("seconds",)))

    def evaluate(self, ctx):
        a, b = self.first.evaluate(ctx), self.second.evaluate(ctx)
        for x in a.evidence:
            for y in b.evidence:
                if None in (x.start, x.end, y.start, y.end):
                    continue
                if max(x.start, y.start) - min(x.end, y.end) <= self.seconds:
                    return RuleResult(True, (x, y))
        return RuleResult(False, a.evidence + b.evidence)


def evaluate(rule: Rule, transcript: Transcript, metrics: ConversationMetrics | None = None,
             similarity: SimilarityModel | None = None) -> RuleResult:
    return rule.evaluate(EvalContext(transcript, metrics, similarity))


# the other operator modules register themselves; imported last because they build on the classes above
from scoring import dialogue, examples, metric_rules  # noqa: E402,F401
