"""transcribe.speakers: stereo channel merge and mono word-to-turn assignment (no models)."""
from __future__ import annotations

import re
import shutil
import wave

import numpy as np
import pytest

from core.metrics import conversation_metrics
from core.models import Call, Segment, Transcript, Turn, Word
from transcribe.roles import label_roles
from transcribe.speakers import assign_words_to_speakers, join_words, merge_channel_transcripts

_CJK = re.compile(r"[\u4e00-\u9fff]")


def utt(start: float, end: float, text: str, *, speaker=None, channel=None) -> Segment:
    toks = list(text) if _CJK.search(text) else text.split()
    step = (end - start) / len(toks)
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9, speaker)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, speaker=speaker, channel=channel)


def transcript(segs, language="en", duration=10.0, **kw) -> Transcript:
    return Transcript("c1", language, 0.9, duration, tuple(segs), "fake", "none", **kw)


# ---- stereo: merge per-channel transcripts ----

def test_merge_orders_by_time_stamps_speakers_and_finds_overlaps():
    left = transcript([utt(0, 5, "hello there how are you"), utt(8, 9, "good")], duration=10)
    right = transcript([utt(4, 6, "hi fine"), utt(6.5, 7.5, "thanks")], duration=10.5)
    m = merge_channel_transcripts([left, right], "call-7")
    assert m.call_id == "call-7" and m.duration == 10.5 and m.warnings == ()
    assert [(s.start, s.speaker, s.channel) for s in m.segments] == [(0, "S0", 0), (4, "S1", 1), (6.5, "S1", 1),
                                                                     (8, "S0", 0)]
    assert {w.speaker for w in m.segments[1].words} == {"S1"}
    assert m.overlaps == ((4.0, 5.0),)
    assert m.text == "hello there how are you hi fine thanks good"


def test_merge_keeps_given_speakers_and_overrides():
    left = transcript([utt(0, 1, "hi", speaker="agent", channel=0)])
    right = transcript([utt(1, 2, "yo", channel=1)])
    assert [s.speaker for s in merge_channel_transcripts([left, right], "c").segments] == ["agent", "S1"]
    named = merge_channel_transcripts([left, right], "c", speakers=["ann", "bob"])
    assert [(s.speaker, s.words[0].speaker) for s in named.segments] == [("ann", "ann"), ("bob", "bob")]


def test_merge_takes_language_of_the_wordier_channel_and_warns():
    zh = transcript([utt(0, 2, "您好请问")], language="zh", script="zh-Hans")
    en = transcript([utt(3, 4, "uh")], language="en")
    m = merge_channel_transcripts([en, zh], "c")
    assert (m.language, m.script) == ("zh", "zh-Hans")
    assert m.warnings == ("channels detected different languages ['en', 'zh']; using 'zh'",)


def test_merge_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        merge_channel_transcripts([], "c")
    with pytest.raises(ValueError, match="each of the 2 channels"):
        merge_channel_transcripts([transcript([]), transcript([])], "c", speakers=["a"])
    with pytest.raises(ValueError, match="each of the 2 channels"):
        merge_channel_transcripts([transcript([]), transcript([])], "c", speakers=["a", "a"])


# ---- mono: words to diarization turns ----

def test_words_take_the_turn_they_overlap_most_and_segments_split():
    seg = utt(0, 5, "hello how can I help yes I need a refund")  # 0.5 s per word
    t = assign_words_to_speakers(transcript([seg]), [Turn("A", 0, 2.6), Turn("B", 2.4, 5.2)])
    assert [(s.speaker, s.start, s.end, s.text) for s in t.segments] == [
        ("A", 0, 2.5, "hello how can I help"), ("B", 2.5, 5, "yes I need a refund")]
    assert [w.speaker for w in t.words] == ["A"] * 5 + ["B"] * 5
    assert t.overlaps == ((2.4, 2.6),)


def test_overlapped_speech_is_kept_not_dropped():
    seg_a = utt(0, 4, "one two three four")
    seg_b = utt(2, 3, "wait")  # ASR heard both speakers during the overlap
    turns = [Turn("A", 0, 4), Turn("B", 2, 3)]
    t = assign_words_to_speakers(transcript([seg_a, seg_b]), turns)
    assert len(t.words) == 5 and t.overlaps == ((2.0, 3.0),)
    # "three" (2-3) overlaps both turns by 1 s: the earlier-starting turn (the speaker already talking) wins.
    assert [(w.text, w.speaker) for w in t.words] == [("one", "A"), ("two", "A"), ("three", "A"), ("four", "A"),
                                                      ("wait", "A")]


def test_word_outside_every_turn_gets_the_nearest_and_turn_roles_are_kept():
    segs = [utt(0, 1, "hi"), utt(6.0, 6.3, "so"), Segment(9, 9, "", (Word("ok", 9.5, 9.5, 0.5),))]
    turns = [Turn("A", 0, 5, role="agent"), Turn("B", 7, 8, role="customer"), Turn("A", 9, 10, role="agent")]
    t = assign_words_to_speakers(transcript(segs), turns)
    assert [(w.text, w.speaker, w.role) for w in t.words] == [("hi", "A", "agent"), ("so", "B", "customer"),
                                                              ("ok", "A", "agent")]
    assert [s.role for s in t.segments] == ["agent", "customer", "agent"]


def test_segment_without_words_takes_a_turn_and_chinese_rejoins_without_spaces():
    segs = [Segment(0, 1, "嗯"), utt(1, 3, "您好请问")]
    t = assign_words_to_speakers(transcript(segs, language="zh"), [Turn("A", 0, 2), Turn("B", 2, 3)])
    assert [(s.speaker, s.text) for s in t.segments] == [("A", "嗯"), ("A", "您好"), ("B", "请问")]


def test_no_turns():
    assert assign_words_to_speakers(transcript([]), []).overlaps == ()
    with pytest.raises(ValueError, match="no diarization turns for 1 words"):
        assign_words_to_speakers(transcript([utt(0, 1, "hi")]), [])


def test_join_words():
    assert join_words(["Hello,", "how", "are", "you", "?"]) == "Hello, how are you?"
    assert join_words(["您好", "，", "请问", "iPhone", "手机"]) == "您好，请问iPhone手机"
    assert join_words(["I", "said", '"no"']) == 'I said "no"'


# ---- end to end on a synthesised stereo call (espeak-ng), with a fake per-channel transcript ----

@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synthesised_stereo_call_merges_to_agent_on_channel_0(tmp_path):
    from demo.synth import ScriptedTurn, synthesise_call

    script = [ScriptedTurn("agent", "Thank you for calling, how can I help you?"),
              ScriptedTurn("customer", "I need to reset my password."),
              ScriptedTurn("agent", "Sure, I have sent you a reset link.")]
    sc = synthesise_call(script, "en", tmp_path / "call.wav", stereo=True)
    with wave.open(str(sc.audio_path), "rb") as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    first = sc.turns[0]
    agent_part = pcm[int(first.start * rate):int(first.end * rate)].astype(float)
    assert np.abs(agent_part[:, 0]).mean() > 10 * np.abs(agent_part[:, 1]).mean()  # agent audio is channel 0

    per_channel = [transcript([utt(t.start, t.end, t.text) for t in sc.turns if t.role == role],
                              duration=sc.duration) for role in ("agent", "customer")]
    merged = merge_channel_transcripts(per_channel, sc.call_id)
    for call in (None, Call(id=sc.call_id, object_key="k", etag="e", attributes={"agent_channel": 0})):
        labelled = label_roles(merged, call)
        agent = [s for s in labelled.speakers if s.role == "agent"]
        assert [(s.speaker, s.channel) for s in agent] == [("S0", 0)]
        assert agent[0].rule == ("greeting" if call is None else "channel-metadata")
        m = conversation_metrics(labelled)
        for role in ("agent", "customer"):
            scripted = sum(t.end - t.start for t in sc.turns if t.role == role)
            assert abs(m.role(role).talk_seconds - scripted) <= 0.3
        assert m.overtalk_seconds == 0.0 and m.interruptions == ()


def test_a_channel_segment_spanning_the_other_partys_turn_is_cut_at_the_pause():
    def words(start, text):
        return tuple(Word(w, start + 0.4 * i, start + 0.4 * i + 0.3, 0.9) for i, w in enumerate(text.split()))

    # the customer's channel: one whisper segment from 2 s to 13 s holding two replies 8 s apart
    cust = words(2.0, "Hi there.") + words(12.0, "Yes please.")
    customer = Transcript("c", "en", 1.0, 20.0, (Segment(2.0, 13.0, "Hi there. Yes please.", cust),), "fake", "fake")
    agent = Transcript("c", "en", 1.0, 20.0, (Segment(5.0, 7.0, "Can I help you?", words(5.0, "Can I help you?")),),
                       "fake", "fake")
    merged = merge_channel_transcripts([agent, customer], "c")
    assert [(s.speaker, s.text) for s in merged.segments] == [
        ("S1", "Hi there."), ("S0", "Can I help you?"), ("S1", "Yes please.")]
    assert merged.segments[2].start == 12.0 and merged.segments[0].end == pytest.approx(2.7)
