"""scoring.scorecard: shipped forms on hand-built calls; auto-fail; exact N/A redistribution; JSON."""
from __future__ import annotations

import json
import re

import pytest

from core.metrics import conversation_metrics
from core.models import Segment, SpeakerInfo, Transcript, Word
from scoring.forms import load_form, parse_form, shipped_forms_dir
from scoring.scorecard import score_call


def utt(spk: str, start: float, end: float, text: str) -> Segment:
    toks = text.split()
    step = (end - start) / len(toks)
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9, spk)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, speaker=spk)


def call(segs, language="en", duration=68.0) -> Transcript:
    return Transcript("call-7", language, 1.0, duration, tuple(segs), "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


VERIFY = "I'm sorry to hear that. Can I verify your date of birth please?"
GOOD_EN = [
    utt("A", 0.5, 5.0, "Thank you for calling Acme, my name is Dana. How can I help?"),
    utt("C", 5.5, 10.0, "I want to make a complaint, I was charged twice."),
    utt("A", 10.5, 14.0, VERIFY),
    utt("C", 14.5, 16.0, "March third, 1980."),
    utt("A", 16.5, 20.0, "May I put you on hold while I check?"),
    utt("C", 20.5, 21.0, "Sure."),
    # 30 s announced hold
    utt("A", 51.0, 55.0, "Thank you for holding. Your balance shows a double charge, I have refunded it."),
    utt("C", 55.5, 57.0, "Great, thanks."),
    utt("A", 57.5, 62.0, "So to confirm, the refund takes three days. Is there anything else?"),
    utt("C", 62.5, 63.5, "No, that's all."),
    utt("A", 64.0, 67.0, "Thank you for calling, have a nice day."),
]


def form(name: str):
    return load_form(shipped_forms_dir() / f"{name}.yaml")


def score(name, segs, language="en", duration=68.0):
    t = call(segs, language, duration)
    return score_call(form(name), t, conversation_metrics(t))


def test_good_call_scores_100_with_greeting_evidence():
    card = score("inbound_service_en", GOOD_EN)
    assert {a.question_id: a.answer for a in card.answers} == {
        "greeting": "pass", "verification": "pass", "hold_etiquette": "pass", "empathy": "pass",
        "dead_air": "pass", "recap": "pass", "further_help": "pass", "closing": "pass",
        "forbidden_phrases": "pass"}
    assert card.total == 100.0 and not card.auto_failed and card.critical_failures == ()
    assert (card.form_id, card.form_version, card.call_id) == ("inbound_service_en", "2.0", "call-7")
    greet = card.answer("greeting")
    assert (greet.rule_id, greet.rule_version, greet.points) == ("greeting", "1", 10.0)
    quote = "Thank you for calling Acme, my name is Dana. How can I help?"
    # the greeting by structure: a greeting word, an offer of help and the agent's name, all in the first turn
    assert [(e.quote, e.speaker, e.role, e.start, e.end) for e in greet.evidence] == [
        (quote, "A", "agent", 0.5, 5.0)] * 3
    assert [e.detail for e in greet.evidence[:2]] == ["greeting_words: thank you for calling",
                                                      "offer_help: how can i help"]
    assert greet.evidence[2].detail == 'matched "my name is"'  # the text, never the form's pattern
    assert [s.score for s in card.sections] == [100.0] * 4


@pytest.mark.parametrize("at, text", [
    # thanking the customer for their date of birth, then asking to hold: the thanks is not the hold's thanks
    (16.5, "Thanks. May I put you on hold while I check?"),
    # thanking a queued caller for waiting in the opening does not stand in for (or spoil) the thanks after the hold
    (0.5, "Thank you for waiting, my name is Dana. How can I help?"),
])
def test_hold_thanks_said_before_the_hold_does_not_decide_hold_etiquette(at, text):
    segs = [utt("A", s.start, s.end, text) if s.start == at else s for s in GOOD_EN]
    card = score("inbound_service_en", segs)
    # permission asked at 16.5, announced 30 s hold, "Thank you for holding" at 51.0: the etiquette was followed
    assert card.answer("hold_etiquette").answer == "pass"
    assert card.total == 100.0


def test_missing_verification_fails_and_is_critical():
    segs = [utt("A", 10.5, 14.0, "I'm sorry to hear that, let me look into it.") if s.text == VERIFY else s
            for s in GOOD_EN]
    card = score("inbound_service_en", segs)
    v = card.answer("verification")
    assert (v.answer, v.points, v.effective_weight) == ("fail", 0.0, 15.0)
    assert [e.quote for e in v.evidence] == [GOOD_EN[6].text]  # account details given, unverified
    assert card.critical_failures == ("verification: Agent verifies the caller (asks for an identifier and gets an "
                                      "answer) before giving account details",)
    assert card.total == 85.0
    assert card.sections[0].score == 40.0


def test_verification_asked_but_not_answered_fails():
    # the agent asks for the date of birth, but the customer never gives it before the balance is read out
    segs = [s for s in GOOD_EN if s.start < 14.0] + [
        utt("C", 14.5, 16.0, "Hang on, I need to find my passport."),
        utt("A", 16.5, 20.0, "No worries. Your balance shows a double charge, I have refunded it."),
        utt("C", 20.5, 22.0, "Great, thanks."),
        utt("A", 22.5, 26.0, "So to confirm, the refund takes three days. Is there anything else?"),
        utt("C", 26.5, 27.5, "No, that's all."),
        utt("A", 28.0, 31.0, "Thank you for calling, have a nice day.")]
    card = score("inbound_service_en", segs, duration=32.0)
    v = card.answer("verification")
    assert (v.answer, v.points, v.effective_weight) == ("fail", 0.0, 15.0)
    assert card.critical_failures == ("verification: Agent verifies the caller (asks for an identifier and gets an "
                                      "answer) before giving account details",)
    # the same call with the date of birth given is verified
    answered = [utt("C", 14.5, 16.0, "March third, 1980.") if s.start == 14.5 else s for s in segs]
    assert score("inbound_service_en", answered, duration=32.0).answer("verification").answer == "pass"


def test_auto_fail_zeroes_the_call():
    segs = GOOD_EN + [utt("A", 63.6, 63.9, "Honestly, that's not my problem.")]
    card = score("inbound_service_en", sorted(segs, key=lambda s: s.start))
    assert card.total == 0.0 and card.auto_failed
    assert card.auto_fail_reasons == ("forbidden_phrases: Agent is never dismissive, blaming or abusive",)
    (ev,) = card.answer("forbidden_phrases").evidence
    assert (ev.quote, ev.start, ev.detail) == ("Honestly, that's not my problem.", 63.6, "dismissive: not my problem")
    assert sum(s.points for s in card.sections) == 90.0  # section scores are still reported


def test_na_questions_in_shipped_form():
    # no complaint, no hold, no account details: verification, hold etiquette and empathy are N/A
    segs = [utt("A", 0.5, 5.0, "Hello, this is Dana from Acme."), utt("C", 5.5, 8.0, "What are your opening hours?"),
            utt("A", 8.5, 12.0, "We open at nine. Is there anything else?"), utt("C", 12.5, 13.0, "No."),
            utt("A", 13.5, 15.0, "Have a nice day.")]
    card = score("inbound_service_en", segs, duration=16.0)
    na = {a.question_id for a in card.answers if a.answer == "na"}
    assert na == {"verification", "hold_etiquette", "empathy"}
    assert card.answer("greeting").effective_weight == 25.0  # opening's 25 points all go to the greeting
    assert card.answer("dead_air").effective_weight == 35.0
    assert card.answer("recap").answer == "fail"
    assert card.total == 90.0


REDISTRIBUTE = """\
id: redistribute
version: "3"
languages: [en]
sections:
  - {id: a, title: A, questions: [
      {id: a1, text: a1, weight: 10, rule: {phrases: [alpha]}},
      {id: a2, text: a2, weight: 10, rule: {phrases: [beta]}},
      {id: a3, text: a3, weight: 10, rule: {phrases: [gamma]}, na_when: {phrases: [skipthree]}}]}
  - {id: b, title: B, questions: [{id: b1, text: b1, weight: 20, rule: {phrases: [delta]}}]}
  - {id: c, title: C, questions: [
      {id: c1, text: c1, weight: 25, rule: {phrases: [delta]}},
      {id: c2, text: c2, weight: 25, rule: {phrases: [epsilon]}, critical: true}]}
"""


def test_na_weight_goes_to_the_rest_of_its_section():
    card = score_call(parse_form(REDISTRIBUTE), call([utt("A", 0, 3, "alpha delta skipthree")]))
    eff = {a.question_id: (a.answer, a.effective_weight, a.points) for a in card.answers}
    assert eff == {"a1": ("pass", 15.0, 15.0), "a2": ("fail", 15.0, 0.0), "a3": ("na", 0.0, 0.0),
                   "b1": ("pass", 20.0, 20.0), "c1": ("pass", 25.0, 25.0), "c2": ("fail", 25.0, 0.0)}
    assert card.total == 60.0
    assert [(s.section_id, s.effective_weight, s.score) for s in card.sections] == [
        ("a", 30.0, 50.0), ("b", 20.0, 100.0), ("c", 50.0, 50.0)]
    assert card.critical_failures == ("c2: c2",) and card.form_version == "3"


def test_all_na_section_goes_to_the_other_sections():
    text = REDISTRIBUTE.replace("rule: {phrases: [alpha]}}", "rule: {phrases: [alpha]}, na_when: {phrases: [skipthree]}}")
    text = text.replace("rule: {phrases: [beta]}}", "rule: {phrases: [beta]}, na_when: {phrases: [skipthree]}}")
    card = score_call(parse_form(text), call([utt("A", 0, 3, "alpha delta skipthree")]))
    eff = {a.question_id: (a.effective_weight, a.points) for a in card.answers}
    # the remaining sections weigh 70: each of their weights is scaled by 100 / 70
    assert eff["b1"] == (28.5714, 28.5714) and eff["c1"] == (35.7143, 35.7143) and eff["c2"] == (35.7143, 0.0)
    assert card.total == 64.29
    assert card.sections[0].score is None and card.sections[0].effective_weight == 0.0


def test_everything_na_gives_no_total():
    text = re.sub(r"(rule: \{phrases: \[\w+\]\})(?!, na_when)", r"\1, na_when: {phrases: [skipthree]}", REDISTRIBUTE)
    card = score_call(parse_form(text), call([utt("A", 0, 3, "skipthree")]))
    assert card.total is None and {a.answer for a in card.answers} == {"na"}


def test_chinese_form_traditional_speech_and_forbidden_phrase_json():
    segs = [utt("A", 0.5, 5.0, "您好,敝姓陳,請問有什麼地方可以為您服務的嗎?"), utt("C", 5.5, 8.0, "我想查一下帳單"),
            utt("A", 8.5, 12.0, "這個不歸我管，你自己看"), utt("C", 12.5, 14.0, "好吧")]
    card = score("inbound_service_zh", segs, language="zh", duration=15.0)
    assert card.answer("greeting").answer == "pass"
    assert card.total == 0.0 and card.auto_fail_reasons == ("forbidden_phrases: 坐席未推诿、指责或辱骂客户",)
    (ev,) = card.answer("forbidden_phrases").evidence
    assert (ev.quote, ev.start, ev.detail) == ("這個不歸我管，你自己看", 8.5, "dismissive: 不归我管")
    text = card.to_json()
    assert "這個不歸我管，你自己看" in text and "\\u" not in text
    d = json.loads(text)
    assert d["form_id"] == "inbound_service_zh" and d["answers"][0]["evidence"][0]["speaker"] == "A"


@pytest.mark.parametrize("reply", [
    "這個我不知道，你自己看",  # "I don't know, look it up yourself" (was a forbidden phrase in form 1.0)
    "這不是我的問題",  # "that's not my problem" (was a forbidden phrase in form 1.0)
    "这不是我的问题",
])
def test_zh_dismissive_replies_auto_fail(reply):
    segs = [utt("A", 0.5, 5.0, "您好,敝姓陳,請問有什麼地方可以為您服務的嗎?"), utt("C", 5.5, 8.0, "我想查一下帳單"),
            utt("A", 8.5, 12.0, reply), utt("C", 12.5, 14.0, "好吧")]
    card = score("inbound_service_zh", segs, language="zh", duration=15.0)
    assert card.answer("forbidden_phrases").answer == "fail"
    assert card.total == 0.0 and card.auto_fail_reasons == ("forbidden_phrases: 坐席未推诿、指责或辱骂客户",)


def test_simplified_greeting_passes_zh_form():
    segs = [utt("A", 0.5, 5.0, "您好，我是客服小王，请问有什么可以帮您？"), utt("C", 5.5, 8.0, "没事了")]
    card = score("inbound_service_zh", segs, language="zh", duration=9.0)
    assert card.answer("greeting").answer == "pass" and card.answer("forbidden_phrases").answer == "pass"


@pytest.mark.parametrize("opt_out_reply, answer", [
    ("Understood, I will remove you from our list. Goodbye.", "pass"),
    ("But this offer is really great, let me explain.", "fail"),
])
def test_outbound_opt_out_honoured(opt_out_reply, answer):
    segs = [utt("A", 0.5, 6.0, "Hello, my name is Sam, I'm calling from Acme, I'm calling about your plan."),
            utt("C", 6.5, 9.0, "Please do not call me again."),
            utt("A", 9.5, 13.0, opt_out_reply)]
    card = score("outbound_sales_en", segs, duration=14.0)
    assert card.answer("disclosure").answer == "pass"
    assert card.answer("opt_out").answer == answer


class KeywordModel:
    def encode(self, texts: list[str]):
        import numpy as np
        return np.array([[1.0 if "sorry" in t.lower() else 0.0, 0.1] for t in texts])


def test_similarity_model_reaches_similar_rules_and_results_are_frozen():
    text = REDISTRIBUTE.replace("rule: {phrases: [beta]}", "rule: {similar: [\"so sorry about that\"], threshold: 0.9}")
    f = parse_form(text)
    card = score_call(f, call([utt("A", 0, 3, "alpha delta skipthree"), utt("A", 4, 6, "I'm sorry")]),
                      similarity=KeywordModel())
    a2 = card.answer("a2")
    assert a2.answer == "pass" and a2.evidence[0].quote == "I'm sorry" and "similarity 1.000" in a2.evidence[0].detail
    with pytest.raises(Exception):
        card.total = 1.0  # type: ignore[misc]
    with pytest.raises(Exception):
        f.sections[0].questions[0].weight = 1  # type: ignore[misc]
    with pytest.raises(KeyError, match="no question 'zz' on form redistribute v3"):
        card.answer("zz")


def test_empathy_to_a_loss_and_a_recap_of_completed_actions():
    # no complaint word: the agent's plain acknowledgement of a loss makes the empathy question apply (and pass)
    segs = [utt("A", 0.5, 5.0, "Thank you for calling Acme, my name is Dana. How can I help?"),
            utt("C", 5.5, 10.0, "My dad passed away and I need to close his account."),
            utt("A", 10.5, 14.0, "I'm so sorry for your loss. Can I take his account number?"),
            utt("C", 14.5, 16.0, "It's A C four four one."),
            utt("A", 16.5, 20.0, "Thanks. I've closed the account and flagged it, so no more letters. Anything else?"),
            utt("C", 20.5, 21.0, "No, thanks."),
            utt("A", 21.5, 24.0, "Take care, goodbye.")]
    card = score("inbound_service_en", segs, duration=25.0)
    assert card.answer("empathy").answer == "pass"
    assert card.answer("recap").answer == "pass"
    zh = [utt("A", 0.5, 5.0, "您好，很高兴为您服务。"), utt("C", 5.5, 10.0, "我阿嬷上个月过世了，想把她的号码停掉。"),
          utt("A", 10.5, 14.0, "请节哀。这个我来帮您办。"), utt("C", 14.5, 16.0, "好。"),
          utt("A", 16.5, 20.0, "已经帮您登记了停机申请，还有其他问题吗？"), utt("C", 20.5, 21.0, "没有了。"),
          utt("A", 21.5, 24.0, "感谢您的来电，再见。")]
    card = score("inbound_service_zh", zh, language="zh", duration=25.0)
    assert (card.answer("empathy").answer, card.answer("recap").answer) == ("pass", "pass")
