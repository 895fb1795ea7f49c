"""transcribe.hallucination: repeated-phrase loops, prompt echoes and channels without real speech (pure logic)."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from core.models import Segment, Word
from transcribe.base import ZH_PROMPT
from transcribe.hallucination import (
    W_LOOP,
    W_NO_SPEECH,
    W_PROMPT_ECHO,
    clean_channel,
    dropped_channels,
    find_loops,
    is_prompt_echo,
    tokens,
)

_HAN = re.compile(r"[\u4e00-\u9fff]")


def seg(start: float, end: float, text: str, *, logprob: float | None = -0.4, channel: int | None = 0,
        split_words: str | None = None) -> Segment:
    """A segment whose words are the text's Latin words, or its Han characters (`split_words` = "chars")."""
    cjk = split_words == "chars" or (split_words is None and _HAN.search(text))
    toks = [c for c in text if not c.isspace()] if cjk else text.split()
    step = (end - start) / max(1, len(toks))
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.8)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, channel=channel, avg_logprob=logprob, no_speech_prob=0.1)


def texts(result) -> list[str]:
    return [s.text for s in result.segments]


# ---- loops ----

def test_english_phrase_loop_is_dropped_and_flagged():
    r = clean_channel([seg(0, 30, "I'm a fool, " * 12)], speech_seconds=25.0, channel=0)
    assert r.segments == () and r.loops == 1 and r.loop_tokens == 36
    assert any(w.startswith(f"{W_LOOP} channel 0: 1 repeated-phrase loop dropped") for w in r.warnings)
    assert any(w.startswith(f"{W_NO_SPEECH} channel 0: no real speech") for w in r.warnings)  # nothing left


def test_mandarin_phrase_and_character_loops_are_dropped():
    phrase = seg(0, 20, "我是一个傻瓜" * 6)
    chars = seg(21, 30, "啊" * 20)
    real = seg(40, 44, "我想查一下这个月的话费")
    r = clean_channel([phrase, chars, real], speech_seconds=30.0, channel=1)
    assert texts(r) == ["我想查一下这个月的话费"]
    assert r.loops == 2 and r.dropped_segments == 2 and not r.no_speech
    assert f"{W_LOOP} channel 1: 2 repeated-phrase loops dropped (56 tokens)" in r.warnings


def test_loop_after_real_words_keeps_the_real_words():
    s = seg(0, 30, "I would like a refund please " + "thank you " * 9, split_words="words")
    r = clean_channel([s], speech_seconds=20.0)
    assert texts(r) == ["I would like a refund please"]
    assert r.segments[0].end < s.end and [w.text for w in r.segments[0].words][-1] == "please"


def test_traditional_loop_over_back_to_back_segments():
    segs = [seg(43.14, 45.04, "那哪些傲子呢"), seg(45.04, 45.8, "哪些傲子呢"), seg(45.8, 46.14, "哪些傲子呢"),
            seg(46.14, 47.12, "哪些傲子")]
    r = clean_channel(segs, speech_seconds=5.0, channel=0)
    assert r.segments == () and r.loops == 1 and r.no_speech


def test_a_phrase_said_again_turn_after_turn_is_not_a_loop():
    segs = [seg(10.0 * i, 10.0 * i + 0.8, "Thank you.") for i in range(8)]  # spread over the call
    r = clean_channel(segs, speech_seconds=8.0)
    assert len(r.segments) == 8 and r.loops == 0 and r.warnings == ()


@pytest.mark.parametrize("text", [
    "No, no, no, that is not what I said.",
    "no no no no no",
    "对对对，就是这个。",
    "对对对对对",
    "好的好的好的",
    "我要退款我要退款我要退款",
    "Hello? Hello? Hello? Hello?",
    "My account number is 4471 2230 9981, again, 4471 2230 9981.",
    "账号是一三八一二三四五六七八，一三八一二三四五六七八",
    "five five five five five five five five five",
    "电话是八八八八八八八八",
    "哈哈哈哈哈",
])
def test_legitimate_repetition_is_kept(text):
    r = clean_channel([seg(0, 6, text)], speech_seconds=6.0, prompt=ZH_PROMPT)
    assert texts(r) == [text] and r.warnings == ()


def test_find_loops_thresholds():
    assert find_loops(tokens("no " * 6)) == []
    assert [lp.unit for lp in find_loops(tokens("no " * 7))] == [1]
    assert find_loops(tokens("对的" * 4)) == [] and len(find_loops(tokens("对的" * 5))) == 1
    assert find_loops(tokens("I'm a fool " * 3)) == [] and len(find_loops(tokens("I'm a fool " * 4))) == 1
    assert find_loops(tokens("1 2 3 4 " * 8)) == []  # numbers repeat when read out
    assert tokens("I'm a FOOL, 以下是普通話。 4471") == ["i'm", "a", "fool", "以", "下", "是", "普", "通", "话", "4471"]


# ---- prompt echoes ----

@pytest.mark.parametrize("text", [
    "以下是普通话的句子。",
    "以下是普通話的句子。",
    "以下是普通話。 以下是普通話的句子。",
    "以下是普通话的句子",
    "普通话的句子。",
])
def test_prompt_echoes_in_either_script(text):
    assert is_prompt_echo(text, ZH_PROMPT)
    r = clean_channel([seg(0.4, 18.7, text, logprob=-0.7), seg(20, 23, "你好，我想查一下话费")],
                      prompt=ZH_PROMPT, speech_seconds=10.0, channel=1)
    assert texts(r) == ["你好，我想查一下话费"] and r.echoes == 1
    assert f"{W_PROMPT_ECHO} channel 1: 1 echo of the decoding prompt dropped" in r.warnings


def test_prompt_inside_real_speech_is_cut_out():
    s = seg(0, 8, "以下是普通話的句子。我想查一下話費", split_words="chars")
    r = clean_channel([s], prompt=ZH_PROMPT, speech_seconds=6.0)
    assert texts(r) == ["我想查一下話費"] and r.echoes == 1 and r.segments[0].start > 0


@pytest.mark.parametrize("text", ["我说普通话", "以下是我的问题", "你会说普通话吗？", "这个句子"])
def test_words_of_the_prompt_in_real_speech_are_not_echoes(text):
    assert not is_prompt_echo(text, ZH_PROMPT)
    assert texts(clean_channel([seg(0, 3, text)], prompt=ZH_PROMPT, speech_seconds=3.0)) == [text]


def test_no_prompt_no_echo_check():
    assert not is_prompt_echo("以下是普通话的句子。", None)
    assert texts(clean_channel([seg(0, 3, "以下是普通话的句子。")], prompt=None)) == ["以下是普通话的句子。"]


# ---- channels without real speech ----

def test_almost_no_vad_speech_drops_the_channel():
    r = clean_channel([seg(0, 2, "I'm a fool.", logprob=-0.3)], speech_seconds=0.4, channel=0)
    assert r.segments == () and r.no_speech and r.dropped_segments == 1
    assert r.warnings == ("W005 channel 0: no real speech (VAD found 0.4 s of speech); 1 segment dropped",)


def test_all_low_confidence_drops_the_channel_but_one_good_segment_keeps_it():
    bad = [seg(0, 2, "Hey, hey.", logprob=-1.55), seg(40, 47, "They were called nice ones.", logprob=-2.5)]
    r = clean_channel(bad, speech_seconds=19.0, channel=0)
    assert r.segments == () and "every segment low-confidence" in r.warnings[0]
    kept = clean_channel(bad + [seg(50, 53, "Thank you for calling.", logprob=-0.3)], speech_seconds=19.0)
    assert len(kept.segments) == 3 and kept.warnings == ()


def test_empty_channel_is_flagged_and_unscored_segments_are_trusted():
    assert clean_channel([], speech_seconds=0.0, channel=1).warnings[0].startswith("W005 channel 1: no real speech")
    assert clean_channel([], channel=None).warnings == ("W005 recording: no real speech (no segments); "
                                                       "0 segments dropped",)
    r = clean_channel([seg(0, 1, "hello", logprob=None)], speech_seconds=None)
    assert texts(r) == ["hello"] and not r.no_speech


def test_dropped_channels_read_back_from_warnings():
    warnings = (clean_channel([], speech_seconds=0.0, channel=0).warnings
                + clean_channel([seg(0, 30, "I'm a fool, " * 12)], speech_seconds=20.0, channel=1).warnings
                + ("W001 file extension .mp3 but content is wav; decoded by content",
                   "W006 channel 3: 1 repeated-phrase loop dropped (30 tokens)"))
    assert dropped_channels(warnings) == {0, 1}
    assert dropped_channels(clean_channel([], channel=None).warnings) == frozenset()


def test_an_echo_split_over_segments_goes_whole_but_a_lone_piece_stays():
    segs = [seg(0.42, 2.7, "以下是普通話", logprob=-0.8), seg(16.14, 18.34, "的句子。", logprob=-0.8),
            seg(20, 23, "你好，我想查一下話費")]
    r = clean_channel(segs, prompt=ZH_PROMPT, speech_seconds=10.0)
    assert texts(r) == ["你好，我想查一下話費"] and r.echoes == 2
    lone = [seg(0, 1, "普通话"), seg(2, 4, "我想查话费")]  # "which language?" - "Mandarin": no echo in this channel
    assert texts(clean_channel(lone, prompt=ZH_PROMPT, speech_seconds=4.0)) == ["普通话", "我想查话费"]


def test_a_channel_of_echoes_and_likely_silence_goes_whole():
    def quiet(start, end, text, **kw):
        return replace(seg(start, end, text, logprob=-0.63, **kw), no_speech_prob=0.55)

    scraps = [quiet(0, 3, "以下是普通話的句子。你", split_words="chars"), quiet(17, 18, "我不能證明"),
              quiet(29, 32, "以下是普通話的句子。不可說", split_words="chars"), quiet(41, 42, "你不可說")]
    r = clean_channel(scraps, prompt=ZH_PROMPT, speech_seconds=15.0, channel=0)
    assert r.segments == () and r.echoes == 2
    assert r.warnings[-1].startswith("W005 channel 0: no real speech (prompt echoes, and the rest likely silence)")
    # the same scraps with one segment the model is sure is speech stay; so do they without an echo
    sure = scraps[:3] + [replace(scraps[3], no_speech_prob=0.1)]
    assert [s.text for s in clean_channel(sure, prompt=ZH_PROMPT, speech_seconds=15.0).segments] == \
        ["我不能證明", "不可說", "你不可說"]  # "你" alone is too little to keep once its echo is cut
    assert len(clean_channel(scraps[1:2] + scraps[3:], prompt=ZH_PROMPT, speech_seconds=15.0).segments) == 2
