"""core.metrics: conversation metrics on hand-built transcripts with known turns."""
from __future__ import annotations

import json
import re

import pytest

from core.metrics import (
    conversation_metrics,
    count_units,
    match_phrase,
    merge_intervals,
    overlap_intervals,
)
from core.models import Segment, SpeakerInfo, Transcript, Word

_CJK = re.compile(r"[\u4e00-\u9fff]")


def utt(spk: str | None, start: float, end: float, text: str) -> Segment:
    """A segment whose words (characters for Chinese) evenly fill [start, end]."""
    toks = list(text) if _CJK.search(text) else text.split()
    step = (end - start) / len(toks)
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9, spk)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, speaker=spk)


def call(segs, language="en", duration=65.0, roles=(("A", "agent"), ("C", "customer"))) -> Transcript:
    return Transcript("c1", language, 1.0, duration, tuple(sorted(segs, key=lambda s: s.start)), "fake", "none",
                      speakers=tuple(SpeakerInfo(s, r, 1.0, "test") for s, r in roles))


# Agent greets; customer asks; agent says "please hold" -> 25 s hold; customer talks over the agent (1 s,
# an interruption); agent backchannels (0.3 s, not one); 4 s dead air; agent takes the floor from the
# customer (0.4 s overlap, customer stops); customer latches on 0.1 s early (jitter, not one).
EN_CALL = [
    utt("A", 0, 4, "Thank you for calling, how can I help?"),
    utt("C", 4.5, 8, "Hi, I was charged twice this month."),
    utt("A", 8.5, 12, "Let me check. Please hold for a moment."),
    utt("C", 12.5, 13, "Okay."),
    utt("A", 38, 41, "Thank you for holding, the refund is done."),
    utt("C", 40, 42, "Great, thanks so much."),
    utt("C", 43, 50, "I also wanted to ask about my data plan for next month."),
    utt("A", 45, 45.3, "Okay."),
    utt("C", 54, 58, "Will my plan renew on the first?"),
    utt("A", 57.6, 60, "Yes, it renews on the first."),
    utt("C", 59.9, 61, "Perfect, thank you."),
    utt("A", 61.5, 63, "Goodbye."),
]


def test_english_call_exact_numbers():
    m = conversation_metrics(call(EN_CALL))
    assert m.duration_seconds == 65.0 and m.speech_seconds == 31.0 and m.rate_unit == "words"
    assert (m.agent.talk_seconds, m.customer.talk_seconds, m.unknown.talk_seconds) == (14.7, 18.1, 0.0)
    assert (m.agent.talk_ratio, m.customer.talk_ratio, m.unknown.talk_ratio) == (0.4482, 0.5518, None)
    assert (m.agent.units, m.customer.units) == (32, 34)
    assert (m.agent.words_per_minute, m.customer.words_per_minute) == (130.6, 112.7)
    assert m.silences == ((13.0, 38.0), (50.0, 54.0))
    assert (m.silence_seconds, m.longest_silence_seconds, m.dead_air_seconds) == (29.0, 25.0, 4.0)
    assert m.holds == (type(m.holds[0])(13.0, 38.0, 25.0, True, "please hold"),) and m.hold_seconds == 25.0
    assert m.overtalk == ((40.0, 41.0), (45.0, 45.3), (57.6, 58.0), (59.9, 60.0)) and m.overtalk_seconds == 1.8
    assert [(i.at, i.by_role, i.of_role) for i in m.interruptions] == [(40.0, "customer", "agent"),
                                                                        (57.6, "agent", "customer")]
    assert (m.agent.interruptions, m.customer.interruptions) == (1, 1)
    assert m.time_to_first_agent_response == 0.0
    assert m.role("agent") is m.agent


def test_metrics_are_json_serialisable():
    d = json.loads(conversation_metrics(call(EN_CALL)).to_json())
    assert d["agent"]["talk_seconds"] == 14.7 and d["holds"][0]["phrase"] == "please hold"
    assert d["silences"] == [[13.0, 38.0], [50.0, 54.0]]


def test_unannounced_long_silence_is_a_hold_and_thresholds_apply():
    segs = [utt("A", 0, 2, "Hello there."), utt("C", 2.5, 4, "Hi."), utt("A", 30, 32, "Are you there?")]
    m = conversation_metrics(call(segs, duration=32))
    assert [(h.start, h.end, h.announced, h.phrase) for h in m.holds] == [(4.0, 30.0, False, None)]
    # nobody announced it: the whole silence is dead air, however long (an announced hold is not: see EN_CALL)
    assert m.dead_air_seconds == 26.0 and m.hold_seconds == 26.0
    m2 = conversation_metrics(call(segs, duration=32), hold_min_seconds=30.0, dead_air_min_seconds=1.0)
    assert m2.holds == () and m2.dead_air_seconds == 26.0 and m2.silences == ((4.0, 30.0),)


def test_hold_phrase_of_the_customer_does_not_announce_a_hold():
    segs = [utt("A", 0, 2, "Hello there."), utt("C", 2.5, 4, "Please hold."), utt("A", 30, 32, "Back.")]
    m = conversation_metrics(call(segs, duration=32))
    assert m.holds[0].announced is False and m.dead_air_seconds == 26.0


def test_mandarin_call_counts_characters_per_minute_and_hold_phrase():
    segs = [utt("A", 0, 3, "您好，请问有什么可以帮您？"), utt("C", 3.5, 6, "我想查一下话费。"),
            utt("A", 6.5, 8, "请您稍等。"), utt("A", 30, 32, "感谢您的耐心等待。")]
    m = conversation_metrics(call(segs, language="zh", duration=33))
    assert m.rate_unit == "characters"
    assert (m.agent.units, m.customer.units) == (23, 7)
    assert (m.agent.talk_seconds, m.customer.talk_seconds) == (6.5, 2.5)
    assert (m.agent.words_per_minute, m.customer.words_per_minute) == (212.3, 168.0)
    assert [(h.start, h.end, h.phrase) for h in m.holds] == [(8.0, 30.0, "稍等")]


def test_time_to_first_agent_response_when_customer_speaks_first():
    segs = [utt("C", 0.5, 2, "Hello? Anyone?"), utt("A", 3, 5, "Hi, this is support.")]
    assert conversation_metrics(call(segs, duration=5)).time_to_first_agent_response == 2.5


def test_one_speaker_call():
    t = call([utt("A", 1.2, 4.2, "Hi, this is Sam returning your call.")], duration=6, roles=(("A", "agent"),))
    m = conversation_metrics(t)
    assert (m.agent.talk_seconds, m.agent.talk_ratio, m.customer.talk_ratio) == (3.0, 1.0, 0.0)
    assert m.customer.words_per_minute is None and m.agent.words_per_minute == 140.0
    assert m.time_to_first_agent_response == 1.2
    assert m.silences == () and m.interruptions == () and m.overtalk_seconds == 0.0


def test_unlabelled_transcript_is_all_unknown():
    t = call([utt(None, 0, 2, "one two"), utt(None, 1, 3, "three four")], duration=3, roles=())
    m = conversation_metrics(t)
    assert m.unknown.talk_seconds == 3.0 and m.agent.talk_ratio is None and m.overtalk_seconds == 0.0
    assert m.time_to_first_agent_response is None


def test_diarizer_overlaps_count_as_overtalk():
    t = call([utt("A", 0, 4, "a b c d"), utt("C", 4, 6, "e f")])
    t = Transcript(**{**t.__dict__, "overlaps": ((3.5, 4.2),)})
    assert conversation_metrics(t).overtalk == ((3.5, 4.2),)


def test_empty_transcript():
    m = conversation_metrics(call([], duration=10.0))
    assert m.duration_seconds == 10.0 and m.speech_seconds == 0.0 and m.silences == ()


def test_bad_thresholds_are_rejected():
    with pytest.raises(ValueError, match="dead_air_min_seconds"):
        conversation_metrics(call(EN_CALL), hold_min_seconds=2.0, dead_air_min_seconds=3.0)


def test_interval_and_text_helpers():
    assert merge_intervals([(3, 4), (0, 1), (1, 2), (2.4, 2.5)]) == [(0, 2), (2.4, 2.5), (3, 4)]
    assert merge_intervals([(0, 1), (1.4, 2)], join_gap=0.5) == [(0, 2)]
    assert overlap_intervals([[(0, 5)], [(4, 6)], [(4.5, 7)]]) == [(4, 6)]
    assert overlap_intervals([[(0, 1), (0.5, 2)], [(2, 3)]]) == []  # own overlap and touching don't count
    assert count_units("您好，iPhone 手机 ok") == 6 and count_units("Hello, world !") == 2
    assert match_phrase("Could you PLEASE hold?", ["please hold"]) == "please hold"
    assert match_phrase("I'm on a household plan", ["on hold"]) is None
    assert match_phrase("好的，请 稍等。", ["稍等"]) == "稍等"
    # a Latin name inside Chinese text is found on its own boundaries, not glued to the Han characters
    assert match_phrase("順便PO上Dcard讓大家看看", ["dcard"]) == "dcard"
    assert match_phrase("跟住上LIHKG出帖", ["LIHKG"]) == "LIHKG"
    assert match_phrase("我用Dcardx", ["dcard"]) is None
