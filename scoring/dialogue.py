"""Rule operators that read a call as a conversation: turn windows, same-utterance conjunction, and one
party's answer to the other.

- ``first_turns: N`` / ``last_turns: N`` keep the utterances of the first / last N speaker turns among the
  utterances in scope (so ``{role: agent, rule: {first_turns: 2, ...}}`` is the agent's first two turns).
  Neither reaches past the middle of the call: on a two-turn call the opening is never the closing.
- ``together: [A, B, ...]`` matches an utterance that every child matches (a media name *and* a threat in
  one sentence), where ``all`` only asks that each child matches somewhere in the call.
- ``followed_by: [A, B], turns: N`` matches when some match of A is answered by a match of B that starts
  after it, at most N speaker turns later (the agent asks for an identifier, the customer gives one).
- ``unanswered: [A, B], turns: N`` matches each A that no B answers within N turns (an opt-out request the
  agent never acknowledges); its evidence says what was looked for and where.
- ``terms: NAME`` matches the named word list of the vocabulary (scoring.vocab), e.g. ``terms: media``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from scoring.rules import All, EvalContext, Evidence, Phrases, Rule, RuleResult, _Filter, _children, _examples, _number, register
from scoring.vocab import VocabularyError, vocabulary


def _turns_in_scope(ctx: EvalContext) -> list[int]:
    return sorted({u.turn for u in ctx.units})


def _speech_middle(ctx: EvalContext) -> float:
    """Half way between the first and the last speech of the call (ringing and trailing silence excluded)."""
    segs = [s for s in ctx.transcript.segments if s.text.strip()]
    return (min(s.start for s in segs) + max(s.end for s in segs)) / 2 if segs else 0.0


@register
@dataclass(frozen=True)
class FirstTurns(_Filter):
    op: ClassVar[str] = "first_turns"
    example: ClassVar[str] = '{role: agent, rule: {first_turns: 2, rule: {phrases: ["my name is"]}}}'

    def evaluate(self, ctx):
        keep = set(_turns_in_scope(ctx)[: int(self.arg)])
        middle = _speech_middle(ctx)
        return self.child.evaluate(ctx.narrowed(lambda u: u.turn in keep and (u.start < middle or u.turn == min(keep))))

    def describe(self):
        return f"{self.child.describe()}, in the first {int(self.arg)} turn(s)"


@register
@dataclass(frozen=True)
class LastTurns(_Filter):
    op: ClassVar[str] = "last_turns"
    example: ClassVar[str] = '{role: agent, rule: {last_turns: 2, rule: {phrases: ["have a nice day"]}}}'

    def evaluate(self, ctx):
        keep = set(_turns_in_scope(ctx)[-int(self.arg):])
        middle = _speech_middle(ctx)
        return self.child.evaluate(ctx.narrowed(lambda u: u.turn in keep and u.end > middle))

    def describe(self):
        return f"{self.child.describe()}, in the last {int(self.arg)} turn(s)"


def _key(e: Evidence) -> tuple:
    return (e.start, e.quote)


@register
@dataclass(frozen=True)
class Together(All):
    """`together: [A, B]`: parsed like `all`, but every child must match the same utterance. `except: C`
    drops the utterances that C matches (an account detail, but not in a question asking for an identifier)."""
    op: ClassVar[str] = "together"
    params: ClassVar[tuple[str, ...]] = ("except",)
    example: ClassVar[str] = '{together: [{terms: media}, {terms: threat_intent}]}'
    exclude: Rule | None = None

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        children = _children(cls, spec[cls.op], None, rule_id, path + (cls.op,), build)
        exclude = build(spec["except"], f"{rule_id}.except", path + ("except",)) if "except" in spec else None
        return cls(rule_id, children, exclude)

    def evaluate(self, ctx):
        results = [c.evaluate(ctx) for c in self.children]
        common = set.intersection(*({_key(e) for e in r.evidence if e.start is not None} for r in results))
        if self.exclude is not None and common:
            ex = self.exclude.evaluate(ctx)
            common -= {_key(e) for e in ex.evidence} if ex.matched else set()
        if not common:
            return RuleResult(False)
        merged: dict[tuple, list[str]] = {}
        first: dict[tuple, Evidence] = {}
        for r in results:
            for e in r.evidence:
                if _key(e) in common:
                    first.setdefault(_key(e), e)
                    merged.setdefault(_key(e), []).append(e.detail)
        ev = tuple(Evidence(first[k].quote, first[k].speaker, first[k].role, first[k].start, first[k].end,
                            self.id, " + ".join(dict.fromkeys(merged[k]))) for k in sorted(common))
        return RuleResult(True, ev)

    def describe(self):
        but = f", unless it also has ({self.exclude.describe()})" if self.exclude is not None else ""
        return "one utterance with " + " and ".join(f"({c.describe()})" for c in self.children) + but


def _turns_by_utterance(ctx: EvalContext) -> dict[tuple, int]:
    """Turn index of each utterance in scope, keyed like evidence: (start, quote)."""
    return {(u.start, u.text): u.turn for u in ctx.units}


@register
@dataclass(frozen=True)
class FollowedBy(Rule):
    op: ClassVar[str] = "followed_by"
    params: ClassVar[tuple[str, ...]] = ("turns",)
    example: ClassVar[str] = ('{followed_by: [{role: agent, rule: {phrases: ["date of birth"]}}, '
                              '{role: customer, rule: {regex: "\\\\d"}}], turns: 2}')
    id: str
    first: Rule
    second: Rule
    turns: int

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        a, b = _children(cls, spec[cls.op], 2, rule_id, path + (cls.op,), build)
        turns = int(_number(cls, spec["turns"], path + ("turns",))) if "turns" in spec else 2
        return cls(rule_id, a, b, turns)

    def pairs(self, ctx: EvalContext) -> list[tuple[Evidence, Evidence | None]]:
        a, b = self.first.evaluate(ctx), self.second.evaluate(ctx)
        turn = _turns_by_utterance(ctx)
        out = []
        for x in a.evidence:
            tx = turn.get(_key(x))
            answer = None
            if tx is not None:
                answer = next((y for y in b.evidence if y.start is not None and y.start > x.start
                               and (ty := turn.get(_key(y))) is not None and 0 <= ty - tx <= self.turns), None)
            out.append((x, answer))
        return out

    def evaluate(self, ctx):
        pairs = self.pairs(ctx)  # both children evaluated once
        answered = next(((x, y) for x, y in pairs if y is not None), None)
        return RuleResult(True, answered) if answered else RuleResult(False, tuple(x for x, _ in pairs))

    def describe(self):
        return f"({self.first.describe()}) answered within {self.turns} turn(s) by ({self.second.describe()})"


@register
@dataclass(frozen=True)
class Unanswered(FollowedBy):
    op: ClassVar[str] = "unanswered"
    example: ClassVar[str] = ('{unanswered: [{role: customer, rule: {terms: opt_out_request}}, '
                              '{role: agent, rule: {terms: opt_out_ack}}], turns: 2}')

    def evaluate(self, ctx):
        missed = tuple(Evidence(x.quote, x.speaker, x.role, x.start, x.end, self.id,
                                f"{x.detail}; no answer within {self.turns} turn(s)")
                       for x, y in self.pairs(ctx) if y is None)
        return RuleResult(bool(missed), missed)

    def describe(self):
        return f"({self.first.describe()}) not answered within {self.turns} turn(s) by ({self.second.describe()})"


@register
@dataclass(frozen=True)
class Terms(Rule):
    """A named word list from the vocabulary, matched like `phrases` (evidence names the list and term).
    `except: OTHER` skips utterances that also hold a term of the list OTHER ("I'm being stupid" is not
    abuse: `{terms: abusive, except: self_deprecation}`)."""
    op: ClassVar[str] = "terms"
    params: ClassVar[tuple[str, ...]] = ("except",)
    example: ClassVar[str] = "{terms: abusive, except: self_deprecation}"
    id: str
    name: str
    matcher: Phrases
    exception: str | None = None
    excluded: Phrases | None = None

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        def words(key):
            try:
                return Phrases.parse({"phrases": list(vocabulary().terms(str(spec[key])))}, rule_id, path, build)
            except VocabularyError as e:
                raise cls.fail(str(e), path + (key,)) from None
        excluded = None
        if "except" in spec:  # one list name or several
            names = spec["except"] if isinstance(spec["except"], list) else [spec["except"]]
            try:
                terms = [t for n in names for t in vocabulary().terms(str(n))]
            except VocabularyError as e:
                raise cls.fail(str(e), path + ("except",)) from None
            excluded = Phrases.parse({"phrases": terms}, rule_id, path, build)
        exception = ", ".join(map(str, spec["except"])) if isinstance(spec.get("except"), list) else spec.get("except")
        return cls(rule_id, spec["terms"], words("terms"), exception, excluded)

    def evaluate(self, ctx):
        r = self.matcher.evaluate(ctx)
        skip = {(e.start, e.quote) for e in self.excluded.evaluate(ctx).evidence} if self.excluded else set()
        ev = tuple(_evidence_with(e, self.id, f"{self.name}: {e.detail.removeprefix('phrase: ')}")
                   for e in r.evidence if (e.start, e.quote) not in skip)
        return RuleResult(bool(ev), ev)

    def describe(self):
        but = f", unless the same sentence holds a term from '{self.exception}'" if self.exception else ""
        return f"a term from the word list '{self.name}' (e.g. {_examples(self.matcher.phrases, 2)}){but}"


def _evidence_with(e: Evidence, rule_id: str, detail: str) -> Evidence:
    return Evidence(e.quote, e.speaker, e.role, e.start, e.end, rule_id, detail)


