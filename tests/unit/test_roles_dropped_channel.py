"""transcribe.roles when a channel's text was dropped (W005): roles never come from that channel, and the
other party's role comes from what it says, not from being the only one (so the first) to speak."""
from __future__ import annotations

import pytest

from core.models import Call, Transcript
from transcribe.hallucination import clean_channel
from transcribe.roles import ChannelMetadataRule, ContentRule, FirstSpeakerRule, GreetingRule, label_roles

from .test_roles import roles, utt

W005_AGENT_CHANNEL = "W005 channel 0: no real speech (VAD found 0.3 s of speech); 12 segments dropped"


def one_channel(segs, language="en", warnings=(W005_AGENT_CHANNEL,)) -> Transcript:
    return Transcript("c1", language, 0.9, 120.0, tuple(segs), "fake", "none", warnings=tuple(warnings))


def call(**attributes) -> Call:
    return Call(id="c1", object_key="recordings/c1.wav", etag="e", attributes=attributes)


CUSTOMER_ZH = [utt("S1", 6.7, 13.8, "你好，我想查一下这个月的话费账单，好像多扣了一笔钱。", channel=1),
               utt("S1", 20.9, 26.3, "我的手机号码是一三八一二三四五六七八。", channel=1),
               utt("S1", 52.2, 54.2, "好的，谢谢你，再见。", channel=1)]


def test_customer_left_alone_is_not_made_the_agent():
    t = label_roles(one_channel(CUSTOMER_ZH, "zh"))
    assert roles(t) == [("S1", "customer", 0.7, "content")]
    assert {s.role for s in t.segments} == {"customer"}
    # without the dropped channel the same words go to the first speaker, as before
    assert roles(label_roles(one_channel(CUSTOMER_ZH, "zh", warnings=()))) == [("S1", "agent", 0.6, "first-speaker")]


def test_traditional_script_customer():
    segs = [utt("S1", 1, 5, "您好，我想查一下這個月的話費，我的帳單好像多扣了錢。", channel=1)]
    assert roles(label_roles(one_channel(segs, "zh"))) == [("S1", "customer", 0.7, "content")]


def test_agent_left_alone_is_the_agent_from_content():
    segs = [utt("S0", 0, 4, "Thank you for calling Northwind, how can I help you today?", channel=0),
            utt("S0", 10, 14, "I need to verify your identity. Please hold.", channel=0)]
    t = label_roles(one_channel(segs, warnings=("W005 channel 1: no real speech (no segments); 0 segments dropped",)))
    assert roles(t) == [("S0", "agent", 0.8, "content")]


def test_nothing_to_go_by_is_unknown_not_first_speaker():
    segs = [utt("S1", 0, 2, "Okay.", channel=1), utt("S1", 5, 7, "Right.", channel=1)]
    assert roles(label_roles(one_channel(segs))) == [("S1", "unknown", 0.0, "content")]
    # a rule list without ContentRule: first-speaker abstains, the speaker stays unknown
    assert roles(label_roles(one_channel(segs), rules=[GreetingRule(), FirstSpeakerRule()])) == \
        [("S1", "unknown", 0.0, "none")]


def test_a_customer_saying_nin_hao_is_not_taken_for_the_agent():
    segs = [utt("S1", 0, 3, "喂，您好，我想问一下我的订单。", channel=1)]
    assert roles(label_roles(one_channel(segs, "zh"))) == [("S1", "customer", 0.7, "content")]


def test_metadata_naming_the_dropped_channel_still_decides():
    t = label_roles(one_channel(CUSTOMER_ZH, "zh"), call(agent_channel=0))
    assert roles(t) == [("S1", "customer", 1.0, "channel-metadata")]
    with pytest.raises(ValueError, match="agent_channel must be 0, 1"):
        ChannelMetadataRule().assign(one_channel(CUSTOMER_ZH, "zh"), call(agent_channel=2))


def test_content_rule_only_speaks_when_a_channel_was_dropped():
    assert ContentRule().assign(one_channel(CUSTOMER_ZH, "zh", warnings=()), None) is None
    loops_only = ("W006 channel 0: 1 repeated-phrase loop dropped (30 tokens)",)  # channel 0 still speaks
    assert ContentRule().assign(one_channel(CUSTOMER_ZH, "zh", warnings=loops_only), None) is None


def test_warnings_written_by_clean_channel_are_understood():
    warnings = clean_channel([], speech_seconds=0.0, channel=0).warnings
    assert roles(label_roles(one_channel(CUSTOMER_ZH, "zh", warnings=warnings)))[0][3] == "content"
