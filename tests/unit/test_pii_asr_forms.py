"""Personal numbers written the way speech recognition writes them (issue: nothing slips through a
"redacted" copy): digit groups across pause punctuation, number words, spelled letters, backchannels, digits
dropped by ASR, context from the question before, and the read-out alerts."""
from __future__ import annotations

import re

import pytest

from compliance.alerts import default_policy_path, evaluate_policy, load_policy
from compliance.pii import analyze, cn_id_check_digit
from compliance.recognizer_config import parse_recognizer_config, build_recognizers
from compliance.redact import REDACT_MIN_SCORE, analysis_turns, find_pii, redact_transcript
from compliance.spoken import find_digit_runs, join_digit_runs
from core.errors import RecognizerConfigError
from core.models import Segment, SpeakerInfo, Transcript

CARD = ("4121", "6416", "1286", "1648")  # Luhn-valid, the integration test's card
CN_ID = "11010519491231002" + cn_id_check_digit("11010519491231002")
SEPARATORS = [". ", "...", "…", ", ", "，", "、", "-", " ", "\n", ".", " ... "]


def masked(text: str, language: str = "en", **kw) -> list:
    return [f for f in analyze(text, language, **kw) if f.score >= REDACT_MIN_SCORE]


def visible_digits(text: str, findings) -> str:
    keep = list(text)
    for f in findings:
        keep[f.start:f.end] = [" "] * (f.end - f.start)
    return re.sub(r"\D", "", "".join(keep))


@pytest.mark.parametrize("sep", SEPARATORS)
def test_card_read_in_groups_with_any_pause_punctuation(sep):
    text = f"Your card number is {sep.join(CARD)}{sep.strip() or '.'}"
    found = masked(text)
    assert [f.entity for f in found] == ["CARD_NUMBER"], (text, found)
    assert visible_digits(text, found) == ""
    assert not re.search(r"\d{3}", found[0].explanation), "the explanation must not carry the number"


@pytest.mark.parametrize("sep", ["，", "、", "...", "。"])
def test_chinese_card_and_phone_groups(sep):
    assert [f.entity for f in masked(f"卡号是{sep.join(CARD)}", "zh")] == ["CARD_NUMBER"]
    assert [f.entity for f in masked(f"我的手机号码是138{sep}1234{sep}5678", "zh")] == ["PHONE_NUMBER"]


@pytest.mark.parametrize("text", ["call me on 212. 555. 0147.", "my number is 139...1234...5678",
                                  "you can reach me on 020 7946 0958", "my mobile is +44 7700 900123",
                                  "my phone number is 0912. 345. 678."])
def test_phones_as_asr_writes_them(text):
    found = masked(text)
    assert [f.entity for f in found] == ["PHONE_NUMBER"], found
    assert visible_digits(text, found) == ""


@pytest.mark.parametrize("text, language, value", [
    ("it's oh two oh, seven nine four six, oh nine five eight", "en", "02079460958"),
    ("double five five, triple seven", "en", "555777"),
    ("幺三八，洞洞两四，五六七八", "zh", "13800245678"),
    ("A, 1234, 56789", "en", "A123456789"),
    ("4121...6416...1286...1648", "en", "4121641612861648"),
])
def test_digit_runs_join_words_numerals_and_spelled_letters(text, language, value):
    assert [r.value for r in find_digit_runs(text, language)] == [value]


def test_runs_do_not_swallow_decimals_times_interjections_or_pronouns():
    assert [r.value for r in find_digit_runs("it costs 12.50, at 10:30", "en")] == []
    assert [r.value for r in find_digit_runs("Oh, 4121 6416", "en")] == ["41216416"]
    assert [r.value for r in find_digit_runs("I 1234 5678", "en")] == ["12345678"]
    joined = join_digit_runs("card 4121. 6416 ok", "en")
    assert joined.text == "card 41216416 ok" and len(joined.spans) == len(joined.text)


@pytest.mark.parametrize("text", ["my Taiwan ID is A, 1234, 56789", "身分證字號是A，一二三四，五六七八九",
                                  "ID A 1 2 3 4 5 6 7 8 9"])
def test_taiwan_id_spelled_out(text):
    found = masked(text, "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en")
    assert [f.entity for f in found] == ["NATIONAL_ID"] and found[0].verified


def test_resident_id_with_a_digit_lost_is_still_masked_unverified():
    said = CN_ID[:9] + CN_ID[10:]  # ASR dropped one digit: 17 characters, the check digit fails
    found = masked(f"我的身份证号是{said}", "zh")
    assert [(f.entity, f.verified) for f in found] == [("NUMBER", False)]
    assert visible_digits(said, []) and visible_digits(f"我的身份证号是{said}", found) == ""
    # inserted digit in a card: still masked as a whole
    text = "card number 4121 6416 1286 16480"
    assert visible_digits(text, masked(text)) == ""


def test_long_number_needs_context_or_an_agent():
    text = "it is 9384 2210 4471"
    assert masked(text) == []  # a customer's number with no context word stays (order number, amount...)
    [f] = masked(text, speaker_role="agent")
    assert (f.entity, f.verified) == ("NUMBER", False) and "agent" in f.explanation
    [g] = masked("the account is 9384 2210 4471")
    assert g.score > f.score - 0.2 and g.entity in ("ACCOUNT_NUMBER", "NUMBER")
    assert masked("in 2023, 2024 and 2025 we opened", speaker_role="agent") == []  # years are not a number


@pytest.mark.parametrize("text, entity", [
    ("it's jane dot doe at mail dot com", "EMAIL_ADDRESS"),
    ("邮箱是wangli 艾特 163 点 com", "EMAIL_ADDRESS"),
    ("I live at fourteen Elm Road", "ADDRESS"),
    ("my IBAN is GB82 WEST 1234 5698 7654 32", "IBAN"),
    ("my social security number is 123-45-6789", "US_SSN"),
    ("passport number K12345678", "PASSPORT"),
])
def test_spoken_and_yaml_recognizers(text, entity):
    found = masked(text, "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en")
    assert entity in [f.entity for f in found], found


def test_configured_false_positives_are_not_names():
    assert [f for f in masked("顺丰的快递小哥说明天到", "zh") if f.entity == "PERSON"] == []
    assert [f for f in masked("Anyway, Amazon said it ships tomorrow.") if f.entity in ("PERSON", "LOCATION")] == []


def test_recognizer_config_rejects_bad_regions_and_lengths():
    base = 'version: "1"\nlanguages: {en: [phone_lib, long_number]}\n'
    with pytest.raises(RecognizerConfigError, match="phone_regions"):
        build_recognizers(parse_recognizer_config(base + "phone_regions: [XX]\n"))
    with pytest.raises(RecognizerConfigError, match="long_number_digits"):
        parse_recognizer_config(base + "long_number_digits: 2\n")


# --- across segments and turns ------------------------------------------------------------------

def seg(spk: str, start: float, end: float, text: str) -> Segment:
    return Segment(start, end, text, speaker=spk, role={"A": "agent", "C": "customer"}[spk])


def call(*segs: Segment, language: str = "en") -> Transcript:
    return Transcript("c1", language, 1.0, 60.0, tuple(segs), "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


def test_number_read_across_a_backchannel_is_one_number():
    t = call(seg("C", 0.0, 2.0, "My mobile is 138, 1234."), seg("A", 2.2, 2.6, "Uh-huh."),
             seg("C", 2.8, 4.0, "5678."))
    turns = analysis_turns(t.segments, "en")
    assert [turn.parts for turn in turns] == [(0, 2), (1,)]
    spans = find_pii(t)
    assert {s.segment_index for s in spans} == {0, 2} and {s.entity for s in spans} == {"PHONE_NUMBER"}
    red = redact_transcript(t, spans)
    assert not re.search(r"\d", " ".join(s.text for s in red.segments))


def test_answer_takes_its_context_from_the_question():
    t = call(seg("A", 0.0, 2.0, "And what's your date of birth?"), seg("C", 2.5, 5.0, "Yes, the ninth of July, nineteen ninety."))
    [span] = find_pii(t)
    assert span.entity == "DATE_OF_BIRTH" and "question" in span.finding.explanation
    z = call(seg("A", 0.0, 2.0, "请问您的出生日期是？"), seg("C", 2.5, 5.0, "一九八零年三月三号。"), language="zh")
    assert [s.entity for s in find_pii(z)] == ["DATE_OF_BIRTH"]
    assert find_pii(call(seg("C", 2.5, 5.0, "Third of March, 1980."))) == []  # no question, no birth word


@pytest.fixture(scope="module")
def policy():
    return load_policy(default_policy_path())


def test_agent_reading_an_unverified_number_raises_a_lower_alert(policy):
    said = "4121 6416 1286 1649"  # one digit misheard: Luhn fails
    t = call(seg("A", 0.0, 3.0, "This call may be recorded. How can I help?"),
             seg("C", 3.5, 5.0, "Can you confirm the card you have on file?"),
             seg("A", 5.5, 9.0, f"Sure, it is {said}."))
    got = {a.rule_id: a for a in evaluate_policy(policy, t)}
    assert "pii_read_out" not in got and "long_number_read_out" in got
    assert got["long_number_read_out"].severity == "high"
    assert not re.search(r"\d{4}", got["long_number_read_out"].evidence[0].detail)
    verified = call(*t.segments[:2], seg("A", 5.5, 9.0, "Sure, it is 4121... 6416... 1286... 1648."))
    got = {a.rule_id: a for a in evaluate_policy(policy, verified)}
    assert got["pii_read_out"].severity == "critical"
    assert not re.search(r"\d{4}", got["pii_read_out"].evidence[0].detail)


# --- names: NER and context must agree -----------------------------------------------------------

@pytest.mark.parametrize("text, language, name", [
    ("Hi, my name's John, I'm calling about my bill.", "en", "John"),
    ("Sarah speaking, how can I help?", "en", "Sarah"),
    ("I spoke to Michael Brown yesterday.", "en", "Michael Brown"),
    ("请问是张伟先生吗？", "zh", "张伟"),
    ("我叫王建国，想查一下订单。", "zh", "王建国"),
])
def test_names_with_context_or_in_full_are_masked(text, language, name):
    assert name in [f.text for f in masked(text, language) if f.entity == "PERSON"]


@pytest.mark.parametrize("text, language", [
    ("Anyway, I called Amazon yesterday.", "en"),
    ("Ok. Michael said it's fine.", "en"),  # a lone capital starting a sentence: tag alone is not enough
    ("顺丰的快递小哥说明天到。", "zh"),
    ("嗯嗯，好的，那个韵达还没来。", "zh"),
])
def test_lone_tags_and_listed_false_positives_are_not_masked(text, language):
    assert [f for f in masked(text, language) if f.entity in ("PERSON", "LOCATION")] == []
