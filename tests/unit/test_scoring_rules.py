"""scoring.rules: each operator on hand-built transcripts, evidence content, and spec errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from core.metrics import conversation_metrics
from core.models import Segment, SpeakerInfo, Transcript, Word
from scoring.rules import (
    REGISTRY,
    EvalContext,
    Rule,
    RuleEvaluationError,
    RuleResult,
    RuleSpecError,
    build_rule,
    evaluate,
    register,
)


def utt(spk: str, start: float, end: float, text: str) -> Segment:
    toks = text.split() or [text]
    step = (end - start) / len(toks)
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9, spk)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, speaker=spk)


def call(*segs: Segment, language: str = "en", duration: float = 120.0) -> Transcript:
    return Transcript("c1", language, 1.0, duration, tuple(segs), "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


EN = call(
    utt("A", 0.5, 4.0, "Thank you for calling Acme, my name is Dana."),
    utt("C", 4.5, 9.0, "Hi, I want to complain, I was charged twice."),
    utt("A", 10.0, 14.0, "I'm sorry to hear that. Can I verify your date of birth?"),
    utt("C", 14.5, 16.0, "March third."),
    utt("A", 17.0, 21.0, "Thanks. Your balance is forty dollars."),
    utt("A", 100.0, 104.0, "Is there anything else? Have a nice day."),
)


def run(spec, transcript=EN, metrics=None, similarity=None) -> RuleResult:
    return evaluate(build_rule(spec, "q"), transcript, metrics, similarity)


def test_phrases_found_with_evidence():
    r = run({"role": "agent", "rule": {"within_first": 20, "rule": {"phrases": ["nope", "thank you for calling"]}}})
    assert r.matched
    (ev,) = r.evidence
    assert (ev.quote, ev.speaker, ev.role, ev.start, ev.end) == (
        "Thank you for calling Acme, my name is Dana.", "A", "agent", 0.5, 4.0)
    assert ev.rule_id == "q" and ev.detail == "phrase: thank you for calling"


def test_phrases_case_insensitive_and_on_word_boundaries():
    assert run({"phrases": ["THANK YOU"]}).matched
    assert not run({"phrases": ["hank"]}).matched  # inside "Thank": Latin phrases need word boundaries
    assert run({"phrases": ["Hi"]}).evidence[0].speaker == "C"


def test_chinese_matches_either_script_without_word_boundaries():
    trad = call(utt("A", 0, 5, "您好,敝姓陳,請問有什麼地方可以為您服務的嗎?"), language="zh")
    simp = call(utt("A", 0, 5, "您好，我是客服小王，请问有什么可以帮您？"), language="zh")
    assert run({"phrases": ["有什么地方可以为您服务"]}, trad).matched  # Simplified phrase, Traditional speech
    assert run({"phrases": ["請問有什麼可以幫您"]}, simp).matched  # Traditional phrase, Simplified speech
    assert run({"regex": "(敝姓|我是)"}, trad).evidence[0].detail == 'matched "敝姓"'  # what matched, not the pattern
    assert not run({"phrases": ["再見"]}, simp).matched


def test_regex_and_role_filter():
    r = run({"role": "agent", "rule": {"regex": r"my name is (\w+)"}})
    assert r.matched and r.evidence[0].detail == 'matched "my name is Dana"'
    assert not run({"role": "customer", "rule": {"phrases": ["date of birth"]}}).matched
    assert run({"role": "customer", "rule": {"phrases": ["charged twice"]}}).matched


def test_within_first_and_last():
    assert not run({"within_first": 20, "rule": {"phrases": ["anything else"]}}).matched
    assert run({"within_last": 30, "rule": {"phrases": ["anything else"]}}).matched
    assert not run({"within_last": 30, "rule": {"phrases": ["date of birth"]}}).matched
    assert run({"within_first": 10.5, "rule": {"phrases": ["date of birth"]}}).matched  # starts at 10.0


def test_before_after_and_near():
    verify, balance = {"phrases": ["date of birth"]}, {"phrases": ["your balance"]}
    r = run({"before": [verify, balance]})
    assert r.matched and [e.start for e in r.evidence] == [10.0, 17.0]
    assert not run({"before": [balance, verify]}).matched
    assert run({"after": [balance, verify]}).matched
    assert not run({"before": [verify, {"phrases": ["refund"]}]}).matched  # B never happens
    assert run({"near": [{"phrases": ["complain"]}, {"phrases": ["sorry"]}], "seconds": 2}).matched  # 1 s gap
    assert not run({"near": [{"phrases": ["complain"]}, {"phrases": ["nice day"]}], "seconds": 30}).matched


def test_combinators_and_not_keeps_evidence():
    assert run({"all": [{"phrases": ["dana"]}, {"phrases": ["march"]}]}).matched
    assert not run({"all": [{"phrases": ["dana"]}, {"phrases": ["refund"]}]}).matched
    r = run({"any": [{"phrases": ["refund"]}, {"phrases": ["march"]}]})
    assert r.matched and [e.quote for e in r.evidence] == ["March third."]
    r = run({"not": {"role": "customer", "rule": {"phrases": ["complain"]}}})
    assert not r.matched and r.evidence[0].speaker == "C"  # the quote that made `not` fail
    assert run({"not": {"phrases": ["shut up"]}}) == RuleResult(True, ())


def test_metric_rules_on_conversation_metrics():
    t = call(utt("A", 0, 3, "Hello, please hold."), utt("A", 43, 45, "Thanks for holding."),
             utt("C", 46, 48, "Sure."), duration=50)
    m = conversation_metrics(t)
    assert run({"metric": "longest_silence_seconds", "gt": 39, "lt": 41}, t, m).matched
    r = run({"metric": "longest_silence_seconds", "lt": 30}, t, m)
    assert not r.matched and r.evidence[0].detail == "longest_silence_seconds=40.0 (wanted < 30)"
    assert run({"metric": "hold_count", "eq": 1}, t, m).matched
    assert run({"metric": "unannounced_hold_count", "eq": 0}, t, m).matched
    assert run({"metric": "agent.talk_ratio", "ge": 0.7}, t, m).matched
    assert not run({"metric": "hold_count", "eq": 1}, t, None).matched  # no metrics: cannot pass


class FakeModel:
    """Bag-of-keywords embedding: texts sharing keywords are similar."""
    VOCAB = ("sorry", "frustrating", "understand", "balance", "weather")

    def __init__(self):
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[1.0 if k in t.lower() else 0.0 for k in self.VOCAB] + [0.01] for t in texts])


def test_similar_uses_injected_model():
    spec = {"similar": ["I am sorry, I understand how frustrating this is"], "threshold": 0.5}
    model = FakeModel()
    r = run(spec, similarity=model)
    assert r.matched and model.calls == 2
    (ev,) = r.evidence
    assert ev.start == 10.0 and ev.detail.startswith("similarity 0.") and "frustrating" in ev.detail
    assert not run({**spec, "threshold": 0.9}, similarity=model).matched
    with pytest.raises(RuleEvaluationError, match="no similarity model"):
        run(spec)


def test_registry_accepts_new_operators():
    @register
    @dataclass(frozen=True)
    class Longer(Rule):
        op: ClassVar[str] = "longer_than"
        example: ClassVar[str] = "{longer_than: 60}"
        id: str
        seconds: float

        @classmethod
        def parse(cls, spec, rule_id, path, build):
            return cls(rule_id, spec["longer_than"])

        def evaluate(self, ctx: EvalContext) -> RuleResult:
            return RuleResult(ctx.duration > self.seconds)

    try:
        assert run({"not": {"longer_than": 60}}).matched is False
    finally:
        REGISTRY.unregister("longer_than")


@pytest.mark.parametrize("spec, message, path", [
    ({"phrase": ["x"]}, "did you mean 'phrases'", ()),
    ({"role": "agnet", "rule": {"phrases": ["x"]}}, "role must be 'agent' or 'customer'", ("role",)),
    ({"role": "agent", "rul": {"phrases": ["x"]}}, "did you mean 'rule'", ("rul",)),
    ({"all": [{"phrases": ["x"]}, {"regex": "("}]}, "invalid regular expression", ("all", 1, "regex")),
    ({"metric": "longest_silence", "lt": 3}, "did you mean 'longest_silence_seconds'", ("metric",)),
    ({"metric": "hold_seconds"}, "needs a comparison", ()),
    ({"near": [{"phrases": ["a"]}, {"phrases": ["b"]}]}, "needs 'seconds'", ()),
    ({"before": [{"phrases": ["a"]}]}, "list of 2 rules", ("before",)),
    ({"similar": ["x"], "threshold": 2}, "within 0..1", ("threshold",)),
    ({"phrases": []}, "non-empty list", ("phrases",)),
    ({"phrases": ["a"], "regex": "b"}, "several operators", ()),
    ("hello", "must be a mapping", ()),
])
def test_spec_errors_are_precise(spec, message, path):
    with pytest.raises(RuleSpecError, match=message) as e:
        build_rule(spec, "q")
    assert e.value.path == path and e.value.example
