"""Fail / N/A explanations and regex evidence in plain words: what a QA reviewer reads on the call page.

No pattern syntax, bounded length, word lists by their description and a few of their terms, metrics by
their meaning, the scope (turns, role) kept; a regex hit's detail quotes what matched, not the pattern."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from compliance.redact import mask_known, redact_text
from core.models import Segment, SpeakerInfo, Transcript
from scoring.forms import load_form, parse_form, shipped_forms_dir
from scoring.rules import RuleSpecError, build_rule, evaluate
from scoring.pattern_examples import regex_examples
from scoring.wording import PLAIN_LIMIT
from scoring.scorecard import explain, score_call

# what must never reach a reviewer: regex syntax (escapes, groups with flags, alternation, wildcards)
PATTERN_SYNTAX = re.compile(r"\\[A-Za-z]|\(\?|\||\.\*|\.\{|\[\^|\]\{|\{\d+,\d*\}")
SHIPPED = sorted(shipped_forms_dir().glob("*.yaml"))


def _form(questions: str, languages: str = "[en]"):
    return parse_form(f"""
id: t
version: "1"
languages: {languages}
sections:
  - id: s
    title: S
    questions:
{questions}""")


def _question(rule: str, na_when: str | None = None, languages: str = "[en]"):
    na = f"\n        na_when: {na_when}" if na_when else ""
    form = _form(f"""      - id: q
        text: the question
        weight: 100
        rule: {rule}{na}""", languages)
    return form.questions[0], form.languages


def _explained(rule: str, answer: str = "fail", na_when: str | None = None, languages: str = "[en]") -> str:
    q, langs = _question(rule, na_when, languages)
    return explain(q, answer, langs)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_question_explains_in_plain_bounded_words(path):
    form = load_form(path)
    cjk = "zh" in form.languages
    for q in form.questions:
        for answer in ("fail",) + (("na",) if q.na_when is not None else ()):
            text = explain(q, answer, form.languages)
            where = f"{form.id}.{q.id} {answer}: {text}"
            assert text and len(text) <= PLAIN_LIMIT, where
            assert not PATTERN_SYNTAX.search(text), where
            assert text.startswith(("Not found: ", "Found ", "Not met: ") if answer == "fail"
                                   else "Not applicable: "), where
            quoted = re.findall(r'"([^"]+)"', text)
            # a Chinese form quotes Chinese examples, an English one never does (the UI words stay English)
            assert all(bool(re.search(r"[\u4e00-\u9fff]", x)) == cjk for x in quoted), where


def test_shipped_explanations_read_as_before_and_after_examples_show():
    en = load_form(shipped_forms_dir() / "inbound_service_en.yaml")
    greeting = explain(next(q for q in en.questions if q.id == "greeting"), "fail", en.languages)
    assert greeting.startswith('Not found: opening greetings (e.g. "hello")') and '"this is"' in greeting
    assert greeting.endswith("in the agent's first 2 turns")
    verification = next(q for q in en.questions if q.id == "verification")
    na = explain(verification, "na", en.languages)
    assert na.startswith("Not applicable: the call has neither the agent telling account-specific details nor ")
    assert explain(next(q for q in en.questions if q.id == "dead_air"), "fail", en.languages) == \
        "Not met: dead air under 30 s"
    assert explain(next(q for q in en.questions if q.id == "hold_etiquette"), "na", en.languages) == \
        "Not applicable: no holds"


def test_regex_rule_is_described_by_literal_examples_never_its_pattern():
    greeting = r"'\b(this is|my name is|you''re speaking (to|with))\b'"
    text = _explained(f"{{role: agent, rule: {{first_turns: 2, rule: {{regex: {greeting}}}}}}}")
    assert text == ('Not found: a phrase such as "this is" or "my name is", in the agent\'s first 2 turns')
    # examples are checked against the pattern: a lookahead that forbids one is honoured
    assert regex_examples(r"\b(?!this\b)(this|that) is\b") == ("that is",)


def test_regex_without_literal_examples_is_a_matching_phrase_and_long_patterns_stay_bounded():
    opaque = _explained(r"{role: customer, rule: {regex: '^(?!\W*(yes|no)\W*$)\S+\d{3,}'}}")
    assert opaque == "Not found: a matching phrase, said by the customer"
    huge = "|".join(f"(word{i}|other{i}) (thing|stuff){i}" for i in range(400))  # ~15,000 characters
    text = _explained(f"{{any: [{{regex: '{huge}'}}, {{regex: '{huge}x'}}, {{terms: greeting_words}}]}}")
    assert len(text) <= PLAIN_LIMIT and not PATTERN_SYNTAX.search(text)


def test_word_list_rule_mentions_its_description_and_an_example_word():
    text = _explained("{role: agent, rule: {terms: greeting_words}}")
    assert text == 'Not found: opening greetings (e.g. "hello" or "hi"), said by the agent'
    zh = _explained("{role: agent, rule: {terms: greeting_words}}", languages="[zh]")
    assert re.fullmatch(r'Not found: opening greetings \(e\.g\. "[^"]*[\u4e00-\u9fff][^"]*"( or "[^"]+")?\), '
                        r"said by the agent", zh), zh


@pytest.mark.parametrize("rule, answer, expected", [
    ("{metric: dead_air_seconds, lt: 30}", "fail", "Not met: dead air under 30 s"),
    ("{metric: longest_hold_seconds, le: 120}", "fail", "Not met: no hold longer than 120 s"),
    ("{metric: agent.talk_ratio, lt: 0.7, gt: 0.2}", "fail",
     "Not met: the agent's share of the talk time over 20% and under 70%"),
    ("{metric: interruption_count, le: 2}", "fail", "Not met: at most 2 interruptions"),
    ("{metric: time_to_first_agent_response, le: 5}", "fail",
     "Not met: time to the agent's first response at most 5 s"),
])
def test_metric_conditions_read_in_words(rule, answer, expected):
    assert _explained(rule, answer) == expected


def test_na_metric_and_na_not_read_in_words():
    na = _explained("{terms: greeting_words}", "na", na_when="{metric: hold_count, eq: 0}")
    assert na == "Not applicable: no holds"
    text = _explained("{terms: empathy}", "na", na_when="{not: {role: customer, rule: {terms: problem_statement}}}")
    assert text.startswith("Not applicable: the call has no customer stating a problem or complaint")
    assert '(e.g. "' in text and "said by" not in text  # the description says whose words they are


def test_forbidden_phrase_fail_says_what_was_found_without_examples():
    text = _explained("{not: {role: agent, rule: {any: [{terms: dismissive}, {terms: abusive}]}}}")
    assert text == ("Found an agent who blames the customer, argues or dismisses the problem; or insults, swearing, "
                    "threats of harm and discriminatory language")


def test_a_label_names_any_rule_node_and_misspelt_keys_still_fail():
    text = _explained(r"{role: agent, rule: {regex: '\bmy name is \w+', label: the agent's name}}")
    assert text == "Not found: the agent's name, said by the agent"
    with pytest.raises(RuleSpecError, match="did you mean 'label'"):
        build_rule({"regex": "x", "lable": "y"}, "q")
    with pytest.raises(RuleSpecError, match="'label' must be a short text"):
        build_rule({"regex": "x", "label": ""}, "q")


def test_a_question_explain_text_wins_when_the_form_has_one():
    q, langs = _question("{terms: greeting_words}")
    own = SimpleNamespace(**{name: getattr(q, name) for name in ("id", "rule", "na_when")},
                          explain="No greeting in the agent's first turn", explain_na=None)
    assert explain(own, "fail", langs) == "No greeting in the agent's first turn"


def _transcript(*texts: tuple[str, str]) -> Transcript:
    segs = tuple(Segment(i * 5.0, i * 5.0 + 4.0, text, (), speaker=spk) for i, (spk, text) in enumerate(texts))
    return Transcript("c1", "en", 1.0, 60.0, segs, "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


def test_regex_evidence_detail_quotes_the_match_not_the_pattern():
    pattern = r"\b(you('re| are)|you people are)\b[^.?!]{0,20}\b(useless|hopeless)\b"
    t = _transcript(("A", "Honestly you are useless at this."))
    (ev,) = evaluate(build_rule({"regex": pattern}, "q"), t).evidence
    assert ev.detail == 'matched "you are useless"'
    assert pattern not in ev.detail and not PATTERN_SYNTAX.search(ev.detail)
    (labelled,) = evaluate(build_rule({"regex": pattern, "label": "an insult"}, "q"), t).evidence
    assert labelled.detail == 'an insult: "you are useless"'
    # Chinese compared in Simplified script, quoted as said (Traditional), like the quote itself
    zh = _transcript(("A", "敝姓陳，請問有什麼可以幫您"))
    assert evaluate(build_rule({"regex": "敝姓陈"}, "q"), zh).evidence[0].detail == 'matched "敝姓陳"'


def test_regex_evidence_detail_stays_on_the_redacted_side():
    phone = "415 555 0134"
    t = _transcript(("A", f"I have your number as {phone}, right?"))
    (ev,) = evaluate(build_rule({"regex": r"number as [\d ]+\d"}, "q"), t).evidence
    assert phone in ev.detail  # the whole match: the redaction boundary finds the value in it
    assert phone not in mask_known(ev.detail, ((phone, "[PHONE]"),))  # pipeline.analysis.redaction_boundary
    assert phone not in redact_text(ev.detail, "en")  # reports.data, for scorecards stored before the boundary


def test_scorecards_store_the_plain_explanations():
    form = load_form(shipped_forms_dir() / "outbound_sales_en.yaml")
    card = score_call(form, _transcript(("A", "Hi."), ("C", "Hello?")))
    texts = [a.explanation for a in card.answers if a.answer != "pass"]
    assert texts and all(t and len(t) <= PLAIN_LIMIT and not PATTERN_SYNTAX.search(t) for t in texts)
    assert all(a.explanation == "" for a in card.answers if a.answer == "pass")


def test_a_question_s_own_explain_text_wins_and_a_misspelt_key_fails():
    from scoring.forms import load_form
    from scoring.scorecard import explain

    form = load_form("scoring/forms/inbound_service_en.yaml")
    q = next(q for s in form.sections for q in s.questions if q.id == "verification")
    assert explain(q, "fail").startswith("Not found: the agent asking for an identifier (account number")
    assert explain(q, "na").startswith("Not applicable:")  # no explain_na: the rule's own words
    with pytest.raises(Exception, match="explian"):
        type(q).model_validate({**q.model_dump(exclude={"rule", "na_when"}), "rule": {"phrases": ["x"]},
                                "explian": "typo"})
