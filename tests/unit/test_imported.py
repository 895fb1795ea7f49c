"""Transcripts and chat logs in place of recordings (transcribe.imported): each format read into the
transcript a transcribed call would have, and every malformed kind a coded E108 naming the file, the line
or record and an example, without quoting the file's text."""
from __future__ import annotations

import json

import pytest

from core.errors import MetadataError, RecordingTooLargeError, TranscriptFileError
from core.models import Call, Segment, SpeakerInfo, Transcript, Word
from transcribe import imported
from transcribe.imported import detect_language, import_transcript
from transcribe.imported_formats import GAP_SECONDS, message_seconds

SECRET = "4111 1111 1111 1111"  # stands for call content: never in an error message
CALL = Call("c-1", "recordings/c-1.chat.csv", "e1")


def _import(text: str | bytes, key: str, call: Call = CALL, **kw) -> Transcript:
    return import_transcript(text.encode() if isinstance(text, str) else text, key, call, **kw)


def _e108(text: str | bytes, key: str, *needles: str, call: Call = CALL) -> str:
    with pytest.raises(TranscriptFileError) as info:
        _import(text, key, call)
    msg = str(info.value)
    assert msg.startswith("[E108] ") and key in msg and "expected e.g." in msg, msg
    assert SECRET not in msg and "1111" not in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    return msg


# ---- chat logs ----

CSV_PLAIN = ('role,text\n'
             'agent,"Thank you for calling Northwind, my name is Sam. How can I help?"\n'
             'customer,I was charged twice for my order.\n'
             'agent,I am sorry about that. I have refunded the second charge.\n'
             'customer,Great thanks. Bye.\n')


def test_chat_csv_without_timestamps_gets_synthetic_increasing_times():
    t = _import(CSV_PLAIN, "recordings/c-1.chat.csv")
    assert t.call_id == "c-1" and t.language == "en" and t.script is None
    assert [s.role for s in t.segments] == ["agent", "customer", "agent", "customer"]
    assert [(s.speaker, s.role, s.rule, s.confidence) for s in t.speakers] == \
        [("agent", "agent", "file", 1.0), ("customer", "customer", "file", 1.0)]
    starts = [s.start for s in t.segments]
    assert starts[0] == 0.0 and all(b.start == pytest.approx(a.end + GAP_SECONDS) for a, b in
                                    zip(t.segments, t.segments[1:]))
    assert all(s.end - s.start == pytest.approx(message_seconds(s.text)) and message_seconds(s.text) >= 1.0
               for s in t.segments)
    assert t.duration == t.segments[-1].end
    assert t.warnings and t.warnings[0].startswith("W008")
    assert t.segments[0].text.startswith("Thank you for calling Northwind, my name")  # quoted comma kept


def test_chat_csv_with_date_times_speaker_column_and_bom():
    text = ("\ufeffSpeaker , Text , Timestamp\r\n"
            "Agent,Hello,2026-11-27T09:30:00+08:00\r\n"
            "customer,Hi there,2026-11-27T09:30:10+08:00\r\n\r\n"
            "agent,\"Two\nlines\",2026-11-27T09:30:11+08:00\r\n")
    t = _import(text, "recordings/x.csv")
    assert [s.start for s in t.segments] == [0.0, 10.0, 11.0] and t.warnings == ()
    assert t.segments[2].text == "Two\nlines" and t.backend == "imported" and t.model == "chat-csv"


def test_chat_timestamps_in_seconds_and_clock_time_and_pushed_back_when_early():
    rows = [{"role": "agent", "text": "Hello, how can I help you today?", "start": 5},
            {"role": "customer", "text": "Refund", "start": 6.0}, {"role": "agent", "text": "Sure", "start": "40"}]
    t = _import("\n".join(json.dumps(r) for r in rows) + "\n", "recordings/x.jsonl")
    s = t.segments
    assert s[0].start == 0.0 and s[1].start == s[0].end > 1.0, "never before the previous message ended"
    assert s[2].start == 35.0 and t.model == "chat-jsonl"
    clock = "role,text,timestamp\nagent,Hi,09:30:00\ncustomer,Hello,09:31:30.5\n"
    assert [x.start for x in _import(clock, "recordings/y.chat.csv").segments] == [0.0, 90.5]


def test_chat_jsonl_ignores_blank_lines_and_reads_speaker_key():
    text = '{"speaker": "AGENT", "text": "Hi"}\n\n{"speaker": "customer", "text": "Hello", "timestamp": null}\n'
    t = _import(text, "recordings/x.chat.jsonl")
    assert [s.role for s in t.segments] == ["agent", "customer"]


@pytest.mark.parametrize("text,needles", [
    ("", ["has no messages"]),
    ("role,text\n", ["has no messages"]),
    (f"agent,{SECRET}\ncustomer,hi\n", ["line 1", "first line must name the columns"]),
    ("role;text\nagent;hi\n", ["separate columns with commas"]),
    ("role,txet\nagent,hi\n", ["line 1 (header)", "unknown column 'txet'", "did you mean 'text'"]),
    ("role,text,text\nagent,hi,hi\n", ["names a column twice"]),
    ("role,speaker,text\nagent,agent,hi\n", ["line 2", "both 'role' and 'speaker'"]),
    ("text,timestamp\nhi,0\n", ["line 2", "missing 'role'"]),
    ("role,timestamp\nagent,0\n", ["line 2", "missing 'text'"]),
    (f"role,text\nagent,hi\ncustomer,{SECRET},extra\n", ["line 3", "has 3 fields but the header has 2"]),
    (f"role,text\nagent,hi\nagnet,{SECRET}\n", ["line 3 role", "must be agent or customer"]),
    (f"role,text\nagent,hi\n{SECRET},{SECRET}\n", ["line 3 role"]),
    ("role,text\nagent,hi\ncustomer,   \n", ["line 3 text", "is empty"]),
    ('role,text\nagent,"two\nlines"\nagnet,hi\n', ["line 4 role"]),
    ("role,text,timestamp\nagent,hi,0\ncustomer,hello,\n", ["line 3", "timestamp missing"]),
    ("role,text,timestamp\nagent,hi,\ncustomer,hello,4\n", ["line 3", "the first message has none"]),
    ("role,text,timestamp\nagent,hi,10\ncustomer,hello,4\n", ["line 3 timestamp", "earlier than the previous"]),
    ("role,text,timestamp\nagent,hi,0\ncustomer,hello,2026-11-27T09:30:00\n", ["line 3 timestamp", "another kind"]),
    ("role,text,timestamp\nagent,hi,2026-11-27T09:30:00\ncustomer,hello,2026-11-27T09:30:05Z\n",
     ["line 3 timestamp", "UTC offset"]),
    (f"role,text,timestamp\nagent,hi,{SECRET}\n", ["line 2 timestamp", "ISO 8601"]),
    ("role,text,timestamp\nagent,hi,-3\n", ["line 2 timestamp", "0 or more"]),
    ('role,text\nagent,"never closed\n', ["line 2", "close every double quote"]),
])
def test_malformed_chat_csv(text, needles):
    _e108(text, "recordings/bad.chat.csv", *needles)


@pytest.mark.parametrize("text,needles", [
    ('{"role": "agent", "text": "hi"}\n{"role": "customer", "text": "x",}\n', ["line 2 column", "not valid JSON"]),
    ('["agent", "hi"]\n', ["line 1", "must be a JSON object"]),
    ('{"role": "agent", "txt": "hi"}\n', ["line 1", "unknown key 'txt'", "did you mean 'text'"]),
    (f'{{"role": "agent", "text": "hi", "{SECRET}": 1}}\n', ["line 1", "unknown key a key"]),
    ('{"role": "agent", "text": 5}\n', ["line 1 text", "must be a string"]),
    (f'{{"role": "{SECRET}", "text": "hi"}}\n', ["line 1 role", "agent or customer"]),
    ('{"role": "agent", "text": "hi", "timestamp": true}\n', ["line 1 timestamp"]),
    ('{"role": "agent", "text": "hi", "timestamp": NaN}\n', ["line 1", "NaN"]),
    ('{"role": "agent", "text": "hi", "timestamp": 1, "start": 1}\n', ["both 'timestamp' and 'start'"]),
])
def test_malformed_chat_jsonl(text, needles):
    _e108(text, "recordings/bad.jsonl", *needles)


def test_not_utf8_and_too_large():
    _e108("role,text\nagent,caf\xe9\n".encode("latin-1"), "recordings/x.csv", "not UTF-8")
    big = b"role,text\n" + b"agent,hi\n" * (imported.MAX_BYTES // 9 + 1)
    with pytest.raises(RecordingTooLargeError, match="E106"):
        _import(big, "recordings/x.csv")


# ---- Chinese and language ----

def test_traditional_chinese_chat_is_detected_and_normalised_to_the_configured_script():
    text = "role,text\nagent,您好，請問有什麼可以幫您？\ncustomer,我想查詢帳單，謝謝\n"
    t = _import(text, "recordings/zh.csv")
    assert (t.language, t.script) == ("zh", "zh-Hans") and t.language_probability == 1.0
    assert t.segments[0].text == "您好，请问有什么可以帮您？"
    assert t.segments[0].end - t.segments[0].start == pytest.approx(11 * 0.25), "Chinese characters a quarter second"
    hant = _import(text.replace("請問", "请问"), "recordings/zh.csv", chinese_script="zh-Hant")
    assert hant.script == "zh-Hant" and hant.segments[0].text == "您好，請問有什麼可以幫您？"


def test_language_detection_and_precedence():
    assert detect_language("您好 请问有什么可以帮您 iPhone 15")[0] == "zh"
    assert detect_language("My name is 王芳, how can I help you")[0] == "en"
    assert detect_language("")[0] == "en"
    zh_call = Call("c-1", "k", "e", language="zh")
    assert _import(CSV_PLAIN, "recordings/x.csv", zh_call).language == "zh", "the sidecar's language is used"
    assert _import(CSV_PLAIN, "recordings/x.csv", language="zh").language == "zh", "then the run's"
    wx = {"language": "en", "segments": [{"start": 0, "end": 1, "text": "Hello", "speaker": "agent"}]}
    with pytest.raises(MetadataError, match=r"E110.*sidecar names language 'zh'"):
        _import(json.dumps(wx), "recordings/w.transcript.json", zh_call)
    assert _import(json.dumps(wx), "recordings/w.transcript.json", language="zh").language == "en", "file wins"
    wx["language"] = "fr"
    _e108(json.dumps(wx), "recordings/w.transcript.json", "language", "en, zh")
    wx["language"] = "zh-CN"
    assert _import(json.dumps(wx), "recordings/w.transcript.json").language == "zh"


# ---- WhisperX ----

def _whisperx(**extra) -> dict:
    return {"language": "en", "word_segments": [], "segments": [
        {"start": 0.5, "end": 3.0, "text": " Thank you for calling, how can I help you?", "speaker": "SPEAKER_01",
         "avg_logprob": -0.2, "words": [
             {"word": "Thank", "start": 0.5, "end": 0.8, "score": 0.9, "speaker": "SPEAKER_01"},
             {"word": "you", "start": 0.8, "end": 1.0, "score": 0.9, "speaker": "SPEAKER_01"},
             {"word": "for", "speaker": "SPEAKER_01"}, {"word": "calling,", "speaker": "SPEAKER_01"},
             {"word": "how", "start": 1.6, "end": 1.8, "score": 0.8}]},
        {"start": 3.5, "end": 5.0, "text": "I need a refund.", "speaker": "SPEAKER_00"}], **extra}


def test_whisperx_with_diarization_labels_gets_roles_like_diarized_audio():
    t = _import(json.dumps(_whisperx()), "recordings/w.transcript.json")
    assert (t.backend, t.model, t.language) == ("imported", "whisperx", "en")
    assert {s.speaker: (s.role, s.rule) for s in t.speakers} == \
        {"SPEAKER_01": ("agent", "greeting"), "SPEAKER_00": ("customer", "greeting")}
    w = t.segments[0].words
    assert [(x.text, x.start, x.end) for x in w[1:4]] == [("you", 0.8, 1.0), ("for", 1.0, 1.3), ("calling,", 1.3, 1.6)]
    assert w[2].probability == 1.0 and w[4].speaker is None and w[4].role == "agent", "segment's speaker"
    assert t.segments[0].text.startswith("Thank") and t.segments[0].avg_logprob == -0.2
    assert t.duration == 5.0 and t.warnings == ()


def test_whisperx_with_role_labels_keeps_them_and_sorts_segments():
    doc = _whisperx()
    doc["segments"][0]["speaker"], doc["segments"][1]["speaker"] = "customer", "Agent"
    for w in doc["segments"][0]["words"]:
        w.pop("speaker", None)
    doc["segments"].reverse()
    t = _import(json.dumps(doc), "recordings/w.transcript.json")
    assert [s.role for s in t.segments] == ["customer", "agent"] and t.segments[0].start == 0.5
    assert {(s.speaker, s.role, s.rule) for s in t.speakers} == {("customer", "customer", "file"),
                                                                   ("agent", "agent", "file")}


def test_whisperx_chinese_without_language_is_detected():
    doc = {"segments": [{"start": 0, "end": 2, "text": "您好，請問有什麼可以幫您", "speaker": "SPEAKER_00",
                         "words": [{"word": "您", "start": 0, "end": 0.2}, {"word": "好", "start": 0.2, "end": 0.4}]},
                        {"start": 2.5, "end": 3.5, "text": "我想退款", "speaker": "SPEAKER_01"}]}
    t = _import(json.dumps(doc, ensure_ascii=False), "recordings/w.transcript.json")
    assert (t.language, t.script) == ("zh", "zh-Hans") and t.segments[0].text == "您好，请问有什么可以帮您"
    assert {s.speaker: s.role for s in t.speakers} == {"SPEAKER_00": "agent", "SPEAKER_01": "customer"}


def _bad_whisperx(mutate) -> str:
    doc = _whisperx()
    mutate(doc)
    return json.dumps(doc)


@pytest.mark.parametrize("text,needles", [
    ('{"segments": [\n  {"start": 0,}\n]}', ["line 2 column", "not valid JSON"]),
    ("[1, 2]", ["top level", "JSON object"]),
    (_bad_whisperx(lambda d: d.update(segmentz=[])), ["top level", "unknown key 'segmentz'", "'segments'"]),
    (_bad_whisperx(lambda d: d.pop("segments")), ["segments", "must be a list"]),
    (_bad_whisperx(lambda d: d.update(segments=[])), ["segments", "is empty"]),
    (_bad_whisperx(lambda d: d["segments"].append("hi")), ["segments[2]", "must be an object"]),
    (_bad_whisperx(lambda d: d["segments"][1].pop("start")), ["segments[1]", "missing 'start'"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(end=1.0)), ["segments[1].end", "before its start"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(start=-1)), ["segments[1].start", "0 or more"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(start="0:01")), ["segments[1].start", "number of seconds"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(text=None)), ["segments[1].text", "must be a string"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(text=" ")), ["segments[1].text", "is empty"]),
    (_bad_whisperx(lambda d: d["segments"][1].pop("speaker")), ["segments[1]", "has no speaker"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(speaker="")), ["segments[1].speaker", "speaker label"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(speeker="x")), ["segments[1]", "did you mean 'speaker'"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(words={})), ["segments[1].words", "list of words"]),
    (_bad_whisperx(lambda d: d["segments"][0]["words"][2].update(start=1.0)),
     ["segments[0].words[2]", "only one of start and end"]),
    (_bad_whisperx(lambda d: d["segments"][0]["words"][0].update(score=7)), ["segments[0].words[0].score"]),
    (_bad_whisperx(lambda d: d["segments"][0]["words"][0].update(end=0.1)), ["segments[0].words[0].end"]),
    (_bad_whisperx(lambda d: d["segments"][0]["words"][0].pop("word")), ["segments[0].words[0].word"]),
    (_bad_whisperx(lambda d: d["segments"][0]["words"][1].update(speaker=5)),
     ["segments[0].words[1].speaker", "speaker label"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(speaker="agent")), ["speakers", "role names"]),
    (_bad_whisperx(lambda d: d["segments"][1].update(start=float("inf"))), ["Infinity"]),
])
def test_malformed_whisperx(text, needles):
    _e108(text, "recordings/w.transcript.json", *needles)


# ---- callqa's own transcript JSON ----

def _ours() -> Transcript:
    words = (Word("Hello,", 0.0, 0.4, 0.9, "S0", "agent"), Word("how", 0.5, 0.7, 0.9, "S0", "agent"))
    return Transcript("other-id", "en", 0.98, 9.0, (
        Segment(0.0, 0.7, "Hello, how", words, speaker="S0", channel=0, role="agent"),
        Segment(1.0, 2.0, "Refund please", (Word("Refund", 1.0, 1.5, 0.8, "S1", "customer"),), speaker="S1",
                channel=1, role="customer")),
        "faster-whisper", "base", warnings=("W001 x",),
        speakers=(SpeakerInfo("S0", "agent", 1.0, "channel-metadata", 0),
                  SpeakerInfo("S1", "customer", 1.0, "channel-metadata", 1)))


def test_our_own_format_round_trips_under_the_new_call_id():
    t = _import(_ours().to_json(), "recordings/o.transcript.json")
    assert t.call_id == "c-1" and t.speakers == _ours().speakers and t.segments == _ours().segments
    assert (t.backend, t.model, t.duration, t.warnings, t.language) == \
        ("faster-whisper", "base", 9.0, ("W001 x",), "en")


def test_our_format_without_speakers_is_labelled_like_diarized_audio():
    d = _ours().to_dict()
    d["speakers"] = []
    t = _import(json.dumps(d), "recordings/o.transcript.json")
    assert [(s.speaker, s.role) for s in t.speakers] == [("S0", "agent"), ("S1", "customer")]


def _bad_ours(mutate) -> str:
    d = _ours().to_dict()
    mutate(d)
    return json.dumps(d)


@pytest.mark.parametrize("text,needles", [
    (_bad_ours(lambda d: d.pop("backend")), ["top level", "missing 'backend'"]),
    (_bad_ours(lambda d: d.update(extra=1)), ["top level", "do not have"]),
    (_bad_ours(lambda d: d.update(schema_version="0.9")), ["schema_version", "'1.0'"]),
    (_bad_ours(lambda d: d["segments"][1].update(text=SECRET.split())), ["segments[1].text", "type string"]),
    (_bad_ours(lambda d: d["segments"][0]["words"][1].update(start=SECRET)),
     ["segments[0].words[1].start", "type number"]),
    (_bad_ours(lambda d: d["segments"][1].update(end=0.5)), ["segments[1].end", "before its start"]),
    (_bad_ours(lambda d: d["segments"][0]["words"][0].update(start=-1.0)), ["segments[0].words[0].start"]),
    (_bad_ours(lambda d: d["speakers"][0].update(role="boss")), ["speakers[0].role", "agent, customer, unknown"]),
    (_bad_ours(lambda d: d.update(segments=[])), ["segments", "is empty"]),
    (_bad_ours(lambda d: d.update(language="unknown")), ["language", "en, zh"]),
])
def test_malformed_own_format(text, needles):
    _e108(text, "recordings/o.transcript.json", *needles)


def test_only_transcript_and_chat_keys_are_imported():
    with pytest.raises(ValueError):
        _import(CSV_PLAIN, "recordings/a.wav")
