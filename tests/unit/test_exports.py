"""pipeline.exports: RTTM, WebVTT and SRT with speaker labels."""
from __future__ import annotations

import re

import pytest

from pipeline.exports import format_timestamp, speaker_labels, to_rttm, to_srt, to_webvtt
from core.models import Segment, SpeakerInfo, Transcript, Word

_CJK = re.compile(r"[\u4e00-\u9fff]")


def utt(spk: str | None, start: float, end: float, text: str, role: str | None = None) -> Segment:
    toks = list(text) if _CJK.search(text) else text.split()
    step = (end - start) / len(toks)
    words = tuple(Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9, spk, role)
                  for i, t in enumerate(toks))
    return Segment(start, end, text, words, speaker=spk, role=role)


def labelled(segs, speakers, language="en", call_id="2026/11/c 1") -> Transcript:
    return Transcript(call_id, language, 0.9, 20.0, tuple(segs), "fake", "none",
                      speakers=tuple(SpeakerInfo(s, r, 0.9, "test") for s, r in speakers))


AB = (("S0", "agent"), ("S1", "customer"))


@pytest.mark.parametrize("seconds, vtt, srt", [
    (0, "00:00:00.000", "00:00:00,000"),
    (3661.5, "01:01:01.500", "01:01:01,500"),
    (59.9996, "00:01:00.000", "00:01:00,000"),  # rounding carries into the minute
    (-0.2, "00:00:00.000", "00:00:00,000"),
    (360000.25, "100:00:00.250", "100:00:00,250"),
])
def test_format_timestamp(seconds, vtt, srt):
    assert (format_timestamp(seconds), format_timestamp(seconds, ",")) == (vtt, srt)


def test_rttm_one_line_per_contiguous_run():
    t = labelled([utt("S0", 0, 5, "one two three four five"), utt("S1", 3, 3.5, "mm"),
                  utt("S0", 6, 8, "six seven"), utt("S1", 9, 10, "bye")], AB)
    # S0's pause 5-6 has no other speaker in it: one run 0-8. S1's 3.5-9 pause has S0 talking: two runs.
    assert to_rttm(t) == ("SPEAKER 2026/11/c_1 1 0.000 8.000 <NA> <NA> S0 <NA> <NA>\n"
                          "SPEAKER 2026/11/c_1 1 3.000 0.500 <NA> <NA> S1 <NA> <NA>\n"
                          "SPEAKER 2026/11/c_1 1 9.000 1.000 <NA> <NA> S1 <NA> <NA>\n")


def test_rttm_speaker_talking_on_after_the_other_is_split():
    t = labelled([utt("S0", 0, 5, "a b c d e"), utt("S1", 3, 8, "f g h i j"), utt("S0", 9, 10, "k")], AB)
    assert [line.split()[3:5] + [line.split()[7]] for line in to_rttm(t).splitlines()] == [
        ["0.000", "5.000", "S0"], ["3.000", "5.000", "S1"], ["9.000", "1.000", "S0"]]


def test_webvtt_and_srt_with_role_labels():
    t = labelled([utt("S0", 0.5, 2.25, "Thank you for calling."), utt("S1", 2.5, 3.75, "I <3 refunds & you.")], AB)
    assert to_webvtt(t) == ("WEBVTT\n\n"
                            "1\n00:00:00.500 --> 00:00:02.250\n<v Agent>Thank you for calling.\n\n"
                            "2\n00:00:02.500 --> 00:00:03.750\n<v Customer>I &lt;3 refunds &amp; you.\n")
    assert to_srt(t) == ("1\n00:00:00,500 --> 00:00:02,250\n[Agent] Thank you for calling.\n\n"
                         "2\n00:00:02,500 --> 00:00:03,750\n[Customer] I <3 refunds & you.\n")


def test_chinese_stays_readable():
    t = labelled([utt("S0", 0, 3, "您好，请问有什么可以帮您？"), utt("S1", 3.2, 4, "我想退款。")], AB, language="zh")
    vtt, srt = to_webvtt(t), to_srt(t)
    assert "<v Agent>您好，请问有什么可以帮您？" in vtt and "[Customer] 我想退款。" in srt
    assert "\\u" not in vtt + srt


def test_labels_for_transfer_unknown_and_unlabelled_speakers():
    t = labelled([utt("S0", 0, 1, "hi"), utt("S1", 1, 2, "yo"), utt("S2", 2, 3, "hello"), utt("S3", 3, 4, "hey"),
                  utt("S4", 4, 5, "oi"), utt(None, 5, 6, "noise")],
                 (("S0", "agent"), ("S1", "customer"), ("S2", "agent"), ("S3", "unknown")))
    assert speaker_labels(t) == {"S0": "Agent", "S1": "Customer", "S2": "Agent 2", "S3": "S3", "S4": "S4"}
    srt = to_srt(t)
    assert "[Agent 2] hello" in srt and "[S3] hey" in srt and "\n6\n00:00:05,000 --> 00:00:06,000\nnoise\n" in srt
    assert "<v Agent 2>hello" in to_webvtt(t)
    assert "unknown" in to_rttm(t).splitlines()[-1]


def test_empty_transcript_exports():
    t = labelled([], ())
    assert (to_rttm(t), to_webvtt(t), to_srt(t)) == ("", "WEBVTT\n", "")
