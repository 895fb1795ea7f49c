"""scoring.dialogue, scoring.vocab, scoring.examples and answer explanations: the conversation-level operators
that read a call like a reviewer (turn windows, answers, same-utterance conjunction, word lists, example sets)."""
from __future__ import annotations

import numpy as np
import pytest

from core.models import Segment, SpeakerInfo, Transcript
from scoring.examples import ExampleSetError, load_example_sets, shipped_example_sets
from scoring.forms import parse_form
from scoring.rules import RuleSpecError, build_rule, evaluate
from scoring.scorecard import score_call
from scoring.vocab import Vocabulary, VocabularyError, vocabulary


def seg(spk: str, start: float, end: float, text: str) -> Segment:
    return Segment(start, end, text, speaker=spk, role={"A": "agent", "C": "customer"}[spk])


def call(*segs: Segment, duration: float | None = None) -> Transcript:
    return Transcript("c1", "en", 1.0, duration or segs[-1].end, tuple(segs), "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


SHORT = call(seg("A", 0.0, 3.0, "Thank you for calling Acme, Sarah speaking."),
             seg("C", 3.5, 6.0, "Hi, my bill is wrong."),
             seg("A", 6.5, 9.0, "Let me look."),
             seg("C", 9.5, 12.0, "OK."),
             seg("A", 12.5, 15.0, "Right. Bye."), duration=41.0)


def run(spec, t=SHORT, similarity=None):
    return evaluate(build_rule(spec, "q"), t, None, similarity)


def test_last_turns_never_reach_the_opening_on_a_short_call():
    closing = {"role": "agent", "rule": {"last_turns": 2, "rule": {"phrases": ["thank you for calling"]}}}
    assert not run(closing).matched  # the opening's "thank you for calling" is not a closing
    assert run({"role": "agent", "rule": {"last_turns": 1, "rule": {"phrases": ["bye"]}}}).matched
    # the old seconds window does not cover the opening either once the call is shorter than twice the window
    assert not run({"role": "agent", "rule": {"within_last": 45, "rule": {"phrases": ["thank you for calling"]}}}).matched


def test_first_turns_count_the_roles_turns():
    greeting = {"role": "agent", "rule": {"first_turns": 1, "rule": {"regex": r"\bspeaking\b"}}}
    assert run(greeting).matched
    assert not run({"role": "agent", "rule": {"first_turns": 1, "rule": {"phrases": ["let me look"]}}}).matched


def test_followed_by_needs_the_other_party_to_answer():
    ask = {"role": "agent", "rule": {"phrases": ["date of birth"]}}
    answer = {"role": "customer", "rule": {"regex": r"\d|march"}}
    rule = {"followed_by": [ask, answer], "turns": 2}
    answered = call(seg("A", 0, 2, "Can I have your date of birth?"), seg("C", 2.5, 4, "Third of March."))
    ignored = call(seg("A", 0, 2, "Can I have your date of birth?"), seg("A", 2.5, 4, "Never mind."),
                   seg("C", 4.5, 6, "Sure."), seg("A", 6.5, 8, "Fine."), seg("C", 8.5, 10, "It's March."))
    r = run(rule, answered)
    assert r.matched and [e.speaker for e in r.evidence] == ["A", "C"]
    assert not run(rule, ignored).matched  # the answer came 4 turns later


def test_unanswered_explains_each_request_left_open():
    rule = {"unanswered": [{"role": "customer", "rule": {"terms": "opt_out_request"}},
                           {"role": "agent", "rule": {"terms": "opt_out_ack"}}], "turns": 2}
    pushy = call(seg("C", 0, 2, "Please stop calling me."), seg("A", 2.5, 4, "But this deal ends today!"))
    r = run(rule, pushy)
    assert r.matched and r.evidence[0].speaker == "C" and "no answer within 2 turn(s)" in r.evidence[0].detail
    honoured = call(seg("C", 0, 2, "Please stop calling me."), seg("A", 2.5, 4, "Of course, I'll take you off our list."))
    assert not run(rule, honoured).matched


def test_together_needs_both_in_one_utterance():
    rule = {"role": "customer", "rule": {"together": [{"terms": "media"}, {"terms": "threat_intent"}]}}
    threat = call(seg("C", 0, 3, "I'm going to put this all over TikTok."))
    apart = call(seg("C", 0, 3, "I saw you on TikTok."), seg("C", 4, 6, "I'm going to pay now."))
    assert run(rule, threat).matched
    assert not run(rule, apart).matched


def test_terms_errors_name_the_list_and_suggest():
    with pytest.raises(RuleSpecError, match="unknown word list 'medai'.*did you mean 'media'"):
        build_rule({"terms": "medai"}, "q")
    assert "微博" in vocabulary().terms("media")


def test_vocabulary_file_errors(tmp_path):
    (tmp_path / "media.yaml").write_text("id: media\nversion: '1'\ndescription: x\nterms: {}\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="media.yaml"):
        Vocabulary.load(tmp_path)
    (tmp_path / "media.yaml").write_text("id: other\nversion: '1'\ndescription: x\nterms: {g: [a]}\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="must equal the file name"):
        Vocabulary.load(tmp_path)


class KeywordEncoder:
    """Pure-logic stand-in for the embedding model: one axis per keyword, so similarity is keyword overlap."""
    KEYS = ("instagram", "paper", "advert", "post")

    def encode(self, texts):
        rows = np.array([[1.0 if k in t.lower() else 0.0 for k in self.KEYS] + [0.1] for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_similar_unlike_examples_veto_near_misses():
    rule = {"similar": ["I will post it on Instagram"], "unlike": ["I saw your advert in the paper"], "threshold": 0.5}
    hit = call(seg("C", 0, 2, "I'll post this on instagram"))
    miss = call(seg("C", 0, 2, "Saw your advert in the paper"))
    r = run(rule, hit, KeywordEncoder())
    assert r.matched and "to example: I will post it on Instagram" in r.evidence[0].detail
    assert not run(rule, miss, KeywordEncoder()).matched


def test_example_sets_load_with_calibrated_thresholds(tmp_path):
    sets = shipped_example_sets()
    assert {"media_threat", "empathy", "problem_statement"} <= set(sets)
    assert all(0.85 <= s.threshold <= 0.99 for s in sets.values())
    rule = build_rule({"examples": "media_threat"}, "q")
    assert "media_threat" in rule.describe()
    (tmp_path / "x.yaml").write_text("id: x\nversion: '1'\ndescription: d\nrole: boss\nthreshold: 0.9\npositive: [a]\n",
                                     encoding="utf-8")
    with pytest.raises(ExampleSetError, match="x.yaml.*role"):
        load_example_sets(tmp_path)


FORM = """
id: f
version: "1"
languages: [en]
title: t
sections:
  - id: s
    title: s
    weight: 100
    questions:
      - id: closing
        text: closes politely
        weight: 50
        rule: {role: agent, rule: {last_turns: 2, rule: {terms: polite_close}}}
      - id: empathy
        text: empathy
        weight: 50
        rule: {role: agent, rule: {terms: empathy}}
        na_when: {not: {role: customer, rule: {terms: problem_statement}}}
"""


def test_fail_and_na_answers_explain_what_was_looked_for_and_where():
    quiet = call(seg("A", 0.0, 3.0, "Acme, Sarah speaking."), seg("C", 3.5, 6.0, "I'd like a new plan."),
                 seg("A", 6.5, 9.0, "Done."), seg("A", 20.0, 22.0, "Right. Bye."))
    card = score_call(parse_form(FORM), quiet)
    closing, empathy = card.answer("closing"), card.answer("empathy")
    # the word list by its description and a couple of its terms, the turn window and whose turns: plain words
    assert closing.answer == "fail" and closing.explanation.startswith('Not found: a polite close (e.g. "')
    assert closing.explanation.endswith("in the agent's last 2 turns")
    assert empathy.answer == "na"
    assert empathy.explanation.startswith("Not applicable: the call has no customer stating a problem or complaint")


def test_together_except_drops_utterances_and_terms_except_takes_several_lists():
    t = call(seg("A", 0.0, 3.0, "Can I take your order number?"), seg("C", 3.5, 5.0, "It's on the email."),
             seg("A", 5.5, 9.0, "Your order of 3 items ships Tuesday."))
    rule = {"role": "agent", "rule": {"together": [{"regex": r"\byour order\b"}], "except": {"regex": r"\?"}}}
    r = run(rule, t)
    assert r.matched and [e.quote for e in r.evidence] == ["Your order of 3 items ships Tuesday."]
    described = build_rule({**rule, "rule": {**rule["rule"], "except": {"phrases": ["order number"]}}}, "q").describe()
    assert described == 'a phrase such as "your order", unless it also has a phrase such as "order number", said by the agent'
    assert "\\" not in build_rule(rule, "q").describe()  # plain words, never the patterns
    words = call(seg("C", 0.0, 3.0, "This stupid app again."), seg("C", 3.5, 5.0, "I'm so stupid."))
    assert not run({"terms": "abusive", "except": ["self_deprecation", "abuse_not_directed"]}, words).matched
    assert run({"terms": "abusive", "except": "self_deprecation"}, words).matched
