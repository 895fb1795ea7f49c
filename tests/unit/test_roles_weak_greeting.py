"""transcribe.roles: a weak agent phrase ("my name is", "您好") said in reply to the other party does not outrank
who spoke first; strong phrases still win anywhere in the opening; what both parties say breaks the tie.

Found by the audio judgement benchmark (bench/judgement/calls/en_in_04.yaml): a curt agent opens with "Order
number.", the customer answers "Er, hi. It's S N seven seven four one nine..." and the customer's channel was
taken for the agent's (rule greeting, 0.8), so the whole call was judged with the roles swapped."""
from __future__ import annotations

import pytest

from core.models import Transcript
from transcribe.roles import GreetingRule, content_scores, find_phrases, label_roles

from .test_roles import roles, transcript, utt

AGENT, CUSTOMER = "S0", "S1"


def stereo(turns: list[tuple[str, str]], start: float = 0.0, gap: float = 0.5, language: str = "en") -> Transcript:
    """Turns one after another, agent S0 on channel 0 and customer S1 on channel 1, each lasting 0.3 s per
    word (0.2 s per Chinese character)."""
    segs, t = [], start
    for spk, text in turns:
        length = 0.2 * len(text) if language == "zh" else 0.3 * len(text.split())
        segs.append(utt(spk, t, t + length, text, channel=0 if spk == AGENT else 1))
        t += length + gap
    return transcript(segs, language=language)


def agent_channel(t: Transcript) -> list[tuple[int | None, str, float, str]]:
    return [(s.channel, s.role, s.confidence, s.rule) for s in t.speakers]


CURT_CALL = [  # bench/judgement/calls/en_in_04.yaml
    (AGENT, "Order number."),
    (CUSTOMER, "Er, hi. It's S N seven seven four one nine. And the postcode's B fifteen, two T T."),
    (AGENT, "Yep. Courier says delivered Tuesday, left in a safe place."),
    (CUSTOMER, "Well, it wasn't. There's nothing here. I've checked with the neighbours and everything."),
    (AGENT, "Photo shows it by a green door."),
    (CUSTOMER, "My door is blue! That's not even my house."),
    (AGENT, "Well, the courier marked it delivered, so that's not on me. You'll have to take it up with them."),
    (CUSTOMER, "Are you serious? I paid you, not them. Right, I'm filming this and putting it all over TikTok, "
               "see how you like that."),
    (AGENT, "You can do what you like. Anything else?"),
    (CUSTOMER, "Unbelievable. No."),
    (AGENT, "Bye."),
]


@pytest.mark.parametrize("agent_opening, customer_reply", [
    ("Order number.", "Er, hi. It's S N seven seven four one nine. And the postcode's B fifteen, two T T."),
    # what Whisper may make of the short turns
    ("Order number.", "Er, hi, my name is Sam. It's S N seven seven four one nine."),
    ("Thank you.", "Hi, my name is Sam. It's S N seven seven four one nine."),
    ("Order number.", "您好. It's S N seven seven four one nine."),
])
def test_curt_agent_opening_stays_the_agent(agent_opening, customer_reply):
    turns = [(AGENT, agent_opening), (CUSTOMER, customer_reply)] + CURT_CALL[2:]
    t = label_roles(stereo(turns))
    assert agent_channel(t) == [(0, "agent", 0.6, "first-speaker"), (1, "customer", 0.6, "first-speaker")]
    assert {s.role for s in t.segments if s.channel == 0} == {"agent"}
    # the old rule took the customer's "my name is" for the agent's; the greeting rule now abstains
    assert GreetingRule().assign(stereo(turns), None) is None


@pytest.mark.parametrize("opening", ["Hello?", "Mm.", "Acme, Dave speaking."])
@pytest.mark.parametrize("introduction", [
    "Hi, my name is Bob, I'm calling about my bill.",
    "Hi, my name is Bob, I'm calling about your letter, my bill has doubled.",  # "calling about your" is strong
    "Hi, I am calling about your offer.",
])
def test_customer_introducing_themselves_after_a_short_agent_opening_is_the_customer(opening, introduction):
    t = label_roles(stereo([(AGENT, opening), (CUSTOMER, introduction), (AGENT, "Okay."),
                            (CUSTOMER, "It went up last month.")]))
    assert agent_channel(t) == [(0, "agent", 0.6, "first-speaker"), (1, "customer", 0.6, "first-speaker")]


def test_customer_asking_who_is_calling_is_not_the_agent():
    turns = [(AGENT, "Hi there, am I speaking to Mrs Okafor?"), (CUSTOMER, "Yes. Who is this?"),
             (AGENT, "Hi Mrs Okafor, my name's Jason. Can I ask who you're with for broadband?"),
             (CUSTOMER, "Sorry, who did you say you're calling from?")]  # "calling from" is a strong phrase
    assert agent_channel(label_roles(stereo(turns))) == [(0, "agent", 0.6, "first-speaker"),
                                                         (1, "customer", 0.6, "first-speaker")]


def test_customer_who_speaks_first_because_the_agent_opening_was_lost_is_told_by_content():
    # the agent's greeting was not transcribed: the customer's "my name is" opens the call, but over the call
    # the customer talks like a customer and the agent like an agent
    turns = [(CUSTOMER, "Hi, my name is Bob, I'm calling about my bill."),
             (AGENT, "Okay, let me check your account."), (CUSTOMER, "Thanks."),
             (AGENT, "Is there anything else I can do? Have a great day.")]
    t = label_roles(stereo(turns, start=0.4))
    assert agent_channel(t) == [(1, "customer", 0.7, "greeting"), (0, "agent", 0.7, "greeting")]
    # without anything telling the customer from the agent, the opener with "my name is" stays the agent
    t = label_roles(stereo([(CUSTOMER, "Hi, my name is Bob."), (AGENT, "Okay."), (CUSTOMER, "Right.")]))
    assert agent_channel(t) == [(1, "agent", 0.8, "greeting"), (0, "customer", 0.8, "greeting")]


def test_weak_phrase_by_a_speaker_who_starts_within_a_second_of_the_first_counts():
    # both start talking at once (the customer still saying hello when the agent introduces herself)
    t = label_roles(transcript([utt("S0", 0, 1.5, "Hello, hello?"),
                                utt("S1", 0.6, 3, "Hi, my name is Ann, from the bank.")]))
    assert roles(t) == [("S0", "customer", 0.8, "greeting"), ("S1", "agent", 0.8, "greeting")]
    # within a second but after the first speaker finished: a reply
    t = label_roles(transcript([utt("S0", 0, 0.4, "Hello?"),
                                utt("S1", 0.8, 3, "Hi, my name is Ann, from the bank.")]))
    assert roles(t) == [("S0", "agent", 0.6, "first-speaker"), ("S1", "customer", 0.6, "first-speaker")]
    # overlapping, but more than a second after the first speech (`first_speaker_seconds`)
    t = label_roles(transcript([utt("S0", 0, 3, "Hello, hello, is anyone there?"),
                                utt("S1", 1.5, 4, "Hi, my name is Ann, from the bank.")]))
    assert roles(t) == [("S0", "agent", 0.6, "first-speaker"), ("S1", "customer", 0.6, "first-speaker")]
    assert roles(label_roles(t, rules=[GreetingRule(first_speaker_seconds=2.0)]))[1] == ("S1", "agent", 0.8,
                                                                                         "greeting")


@pytest.mark.parametrize("strong", ["Thank you for calling Acme.", "Hi, how can I help?",
                                    "Hi, calling from Acme Bank."])
def test_strong_phrase_still_wins_anywhere_in_the_window(strong):
    t = label_roles(stereo([(CUSTOMER, "Hello? Hello?"), (CUSTOMER, "Hi, my name is Bob."), (AGENT, strong),
                            (CUSTOMER, "I want to cancel my card.")], start=0.2))
    assert agent_channel(t) == [(1, "customer", 0.9, "greeting"), (0, "agent", 0.9, "greeting")]


def test_outbound_agent_greeting_in_reply_wins_by_content():
    # the customer answers first; the agent's "my name is" in reply counts because the agent talks like an
    # agent over the call and the customer like a customer
    turns = [(CUSTOMER, "Hello?"),
             (AGENT, "Hi, my name is Ann from the bank. I need to confirm your address."),
             (CUSTOMER, "Oh, okay. I want to change my card too."),
             (AGENT, "Let me check your account.")]
    t = label_roles(stereo(turns))
    assert agent_channel(t) == [(1, "customer", 0.7, "greeting"), (0, "agent", 0.7, "greeting")]
    # "I'm calling about your account" is an outbound agent's too: neither strong nor customer evidence
    turns[1] = (AGENT, "Hi, I'm calling about your account, I need to confirm your address.")
    assert agent_channel(label_roles(stereo(turns))) == [(1, "customer", 0.7, "greeting"),
                                                         (0, "agent", 0.7, "greeting")]
    # a single agent-sounding phrase against a customer who says nothing telling: who spoke first decides
    t = label_roles(stereo([(CUSTOMER, "Hello?"), (AGENT, "Hi, my name is Ann, let me check something."),
                            (CUSTOMER, "Okay.")]))
    assert agent_channel(t) == [(1, "agent", 0.6, "first-speaker"), (0, "customer", 0.6, "first-speaker")]


@pytest.mark.parametrize("reply", ["您好，我想问一下我的账单", "您好，我想問一下我的帳單"])
def test_mandarin_nin_hao_in_reply_is_the_customer(reply):
    t = label_roles(stereo([(AGENT, "喂？"), (CUSTOMER, reply), (AGENT, "嗯，好的。"), (CUSTOMER, "上个月多扣了钱。")],
                           language="zh"))
    assert agent_channel(t) == [(0, "agent", 0.6, "first-speaker"), (1, "customer", 0.6, "first-speaker")]


def test_mandarin_nin_hao_by_the_opener_and_outbound_agent_by_content():
    t = label_roles(stereo([(AGENT, "您好，敝姓王。"), (CUSTOMER, "喂，你好，我想查话费。")], language="zh"))
    assert agent_channel(t) == [(0, "agent", 0.8, "greeting"), (1, "customer", 0.8, "greeting")]
    t = label_roles(stereo([(CUSTOMER, "喂？"), (AGENT, "您好，这里是银行，想跟您核实一下您的身份。"),
                            (CUSTOMER, "我的卡怎么了？")], language="zh"))
    assert agent_channel(t) == [(1, "customer", 0.7, "greeting"), (0, "agent", 0.7, "greeting")]
    # the strong phrase after a customer's 您好 still wins
    t = label_roles(stereo([(CUSTOMER, "您好，我想问一下"), (AGENT, "请问有什么可以帮您？")], language="zh"))
    assert agent_channel(t) == [(1, "customer", 0.9, "greeting"), (0, "agent", 0.9, "greeting")]


def test_strong_phrase_inside_a_customer_phrase_is_only_weak():
    ph = find_phrases("Hi, I'm calling about your letter.")
    assert (ph.strong, ph.framed, ph.customer) == (frozenset(), {"calling about your"}, frozenset())
    ph = find_phrases("Calling about your account. I'm calling about my bill.")  # one of two occurrences is free
    assert ph.strong == {"calling about your"} and ph.customer == {"i'm calling about", "my bill"}
    ph = find_phrases("請問有什麼可以幫您？我是客服")
    assert ph.strong == {"请问有什么可以帮您", "有什么可以帮您", "我是客服"}
    ph = find_phrases("Sorry, who did you say you're calling from?")  # bench/judgement/calls/en_dev_02.yaml
    assert (ph.strong, ph.framed, ph.customer) == (frozenset(), {"calling from"}, frozenset())
    # ContentRule's scores: the framed phrase counts for neither side
    assert content_scores("Hi, I am calling about your advert, my bill is wrong.") == (0, 1, False)
    assert content_scores("Thank you for calling, my name is Ann.") == (3, 0, True)
    assert content_scores("Thank you for calling, my name is Ann.", weak=False) == (2, 0, True)
