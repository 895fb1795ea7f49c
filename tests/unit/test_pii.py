import pytest

from core.errors import PluginError

from compliance.pii import (
    CONTEXT_BOOST,
    RECOGNIZERS,
    CardNumberRecognizer,
    NationalIdRecognizer,
    PhoneRecognizer,
    PiiFinding,
    Recognizer,
    analyze,
    cn_id_check_digit,
    luhn_valid,
    normalise_spoken_digits,
    register,
    hk_id_valid,
    tw_id_valid,
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _cn_id(first17: str) -> str:
    # Computed here independently of the module, straight from ISO 7064 MOD 11-2.
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def _entities(text, language="en"):
    return [(f.entity, f.text) for f in analyze(text, language)]


def test_registry_and_protocol():
    assert {"phone", "email", "national_id", "card_number", "date_of_birth"} <= set(RECOGNIZERS)
    assert all(isinstance(cls(), Recognizer) for cls in RECOGNIZERS.values())

    class Dup:
        name, entity = "phone", "X"

        def analyze(self, text, language):
            return []

    with pytest.raises(PluginError, match="already registered") as e:  # the rule of every registry (E136)
        register(Dup)
    assert e.value.code == "E136"


def test_unknown_language_rejected():
    with pytest.raises(ValueError, match="unsupported language"):
        analyze("hello", "fr")


# --- checksums ----------------------------------------------------------------------------------

def test_cn_resident_id_valid_and_invalid_check_digit():
    good = _cn_id("11010519491231002")
    assert cn_id_check_digit(good[:17]) == good[17]
    found = analyze(f"身份证号{good}", "zh")
    assert [(f.entity, f.text, f.pattern) for f in found] == [("NATIONAL_ID", good, "cn_resident_id")]
    assert found[0].score == 1.0 and found[0].context_boost == pytest.approx(0.1)  # capped at 1.0

    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert NationalIdRecognizer().analyze(wrong, "zh") == []


def test_cn_resident_id_implausible_birth_date_rejected():
    bad_date = _cn_id("11010519491331002")  # month 13
    assert NationalIdRecognizer().analyze(bad_date, "zh") == []


def test_cn_resident_id_with_x_check_digit():
    # search for a prefix whose check character is X, to cover that branch
    prefix = next(p for p in (f"11010519900101{n:03d}" for n in range(1000)) if _cn_id(p)[-1] == "X")
    assert [f.text for f in NationalIdRecognizer().analyze(_cn_id(prefix).lower(), "en")] == [_cn_id(prefix).lower()]


def test_taiwan_id_checksum():
    assert tw_id_valid("A123456789")
    assert not tw_id_valid("A123456788")
    assert _entities("ID number A123456789 please") == [("NATIONAL_ID", "A123456789")]
    assert NationalIdRecognizer().analyze("A123456788", "en") == []


def test_hong_kong_id_check_digit_and_format():
    # check digit computed by hand: 36*9 + 10*8 + 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 6*2 = 481; 11 - 481 % 11 = 3
    assert hk_id_valid("A123456(3)") and hk_id_valid("A1234563")
    assert not hk_id_valid("A123456(7)") and not hk_id_valid("A12345(3)")
    [valid] = NationalIdRecognizer().analyze("您的身份證號碼是A123456(3)，對嗎？", "zh")
    assert (valid.text, valid.score) == ("A123456(3)", 0.9) and "valid check digit" in valid.explanation
    # a wrong check digit in the bracketed form is still an ID (a misheard or made-up digit), with less score
    [shape] = NationalIdRecognizer().analyze("ID A123456(7) ok", "en")
    assert shape.score < valid.score and "format" in shape.explanation
    assert NationalIdRecognizer().analyze("order A1234567 and AB123456", "en") == []


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    with pytest.raises(ValueError, match="digits only"):
        luhn_valid("4111-1111")
    assert [f.text for f in CardNumberRecognizer().analyze("4111 1111 1111 1111", "en")] == ["4111 1111 1111 1111"]
    assert CardNumberRecognizer().analyze("4111 1111 1111 1112", "en") == []
    assert _entities("card 4111-1111-1111-1111") == [("CARD_NUMBER", "4111-1111-1111-1111")]


# --- phones and emails --------------------------------------------------------------------------

@pytest.mark.parametrize("number, pattern", [
    ("13812345678", "cn_mobile"),
    ("+86 138 1234 5678", "cn_mobile"),
    ("138-1234-5678", "cn_mobile"),
    ("0912345678", "tw_mobile"),
    ("0912-345-678", "tw_mobile"),
    ("+886 912 345 678", "tw_mobile"),
    ("+852 9123 4567", "hk_intl"),
    ("6123 4567", "hk_local"),
    ("(415) 555-2671", "us"),
    ("415-555-2671", "us"),
    ("+1 415 555 2671", "us"),
])
def test_phone_formats(number, pattern):
    found = analyze(f"reach me on {number} thanks", "en")
    assert [(f.entity, f.text, f.pattern) for f in found] == [("PHONE_NUMBER", number, pattern)]


def test_phone_not_found_inside_longer_digit_runs():
    assert PhoneRecognizer().analyze("order 9138123456789", "en") == []
    assert PhoneRecognizer().analyze("12812345678", "en") == []  # 12x is not a mainland mobile prefix


def test_email():
    assert _entities("mail me at jane.doe+qa@example.co.uk.") == [("EMAIL_ADDRESS", "jane.doe+qa@example.co.uk")]
    assert _entities("我的邮箱是wang_li@163.com谢谢", "zh") == [("EMAIL_ADDRESS", "wang_li@163.com")]
    assert _entities("at example dot com") == []


# --- dates of birth -----------------------------------------------------------------------------

def test_date_of_birth_english():
    text = "I was born on the third of March, 1985"
    [f] = analyze(text, "en")
    assert (f.entity, f.text, text[f.start:f.end]) == ("DATE_OF_BIRTH", "the third of March, 1985", f.text)
    assert f.context_boost > 0 and "born" in f.explanation
    [g] = analyze("my date of birth is 03/03/1985", "en")
    assert g.text == "03/03/1985" and g.context_boost > 0
    [h] = analyze("the meeting is on 03/03/1985", "en")
    assert h.context_boost == 0 and h.score < g.score
    assert analyze("born on 31/02/1985", "en") == []


def test_date_of_birth_chinese():
    [f] = analyze("出生日期是1985年3月3日", "zh")
    assert (f.entity, f.text, f.context_boost) == ("DATE_OF_BIRTH", "1985年3月3日", pytest.approx(CONTEXT_BOOST))
    [g] = analyze("我是一九八五年十二月二十一号出生的", "zh")
    assert g.text == "一九八五年十二月二十一号"


# --- spoken digits ------------------------------------------------------------------------------

def test_normalise_english_spoken_digits_and_offsets():
    text = "call oh two double five triple seven one now"
    norm, spans = normalise_spoken_digits(text, "en")
    assert norm == "call 02557771 now"
    i = norm.index("55")
    assert text[spans[i][0]:spans[i][1]] == "double five"
    assert len(spans) == len(norm)


def test_short_english_digit_runs_left_alone():
    assert normalise_spoken_digits("oh, I have one question", "en")[0] == "oh, I have one question"


def test_arabic_only_runs_left_alone():
    for text, lang in (("in 2023, 2024 and 2025", "en"), ("订单 1234 5678", "zh")):
        norm, spans = normalise_spoken_digits(text, lang)
        assert norm == text and spans == tuple((i, i + 1) for i in range(len(text)))


def test_spoken_card_number_english_maps_to_original_span():
    text = "my card is four one one one one one one one one one one one one one one one"
    [f] = analyze(text, "en")
    assert f.entity == "CARD_NUMBER"
    assert (f.start, f.end) == (text.index("four"), len(text))
    assert text[f.start:f.end] == f.text
    assert f.context_boost == pytest.approx(CONTEXT_BOOST) and "'card'" in f.explanation


def test_mixed_spoken_and_arabic_digits_english():
    text = "it's 415 five five five two six seven one"
    [f] = analyze(text, "en")
    assert (f.entity, f.text) == ("PHONE_NUMBER", "415 five five five two six seven one")


def test_spoken_phone_chinese():
    text = "我的手机号码是一三八一二三四五六七八"
    [f] = analyze(text, "zh")
    assert (f.entity, f.pattern, f.text) == ("PHONE_NUMBER", "cn_mobile", "一三八一二三四五六七八")
    assert text[f.start:f.end] == f.text and f.start == 7
    assert f.context_boost == pytest.approx(CONTEXT_BOOST) and "手机" in f.explanation


def test_chinese_yao_liang_zero_and_mixed_digits():
    assert normalise_spoken_digits("幺三八两〇零九", "zh")[0] == "1382009"
    assert normalise_spoken_digits("号码是幺三八1234五六七八", "zh")[0] == "号码是13812345678"
    [f] = analyze("电话幺三八1234五六七八", "zh")
    assert (f.entity, f.text) == ("PHONE_NUMBER", "幺三八1234五六七八")
    assert normalise_spoken_digits("一些人", "zh")[0] == "一些人"  # short runs are words, not numbers


def test_traditional_chinese_context():
    text = "我的手機號碼是0912345678"
    [f] = analyze(text, "zh")
    assert (f.entity, f.text) == ("PHONE_NUMBER", "0912345678")
    assert f.context_boost == pytest.approx(CONTEXT_BOOST)
    [g] = analyze("信用卡號是四一一一一一一一一一一一一一一一", "zh")
    assert g.entity == "CARD_NUMBER" and g.context_boost > 0


# --- context and merging ------------------------------------------------------------------------

def test_context_boost_absent_when_far_or_missing():
    near = analyze("phone 13812345678", "en")[0]
    none = analyze("hello 13812345678", "en")[0]
    far = analyze("phone " + "x " * 20 + "13812345678", "en")[0]
    assert near.score == pytest.approx(none.score + CONTEXT_BOOST)
    assert none.context_boost == far.context_boost == 0.0


def test_context_boost_capped():
    [f] = analyze("email jane@example.com", "en")
    assert f.score == 1.0 and f.context_boost == pytest.approx(0.1)


def test_overlapping_findings_merged_keeping_highest_score():
    # an 18-digit resident ID can also pass Luhn; only the stronger finding survives
    id_ = next(i for i in (_cn_id(f"11010519900101{n:03d}") for n in range(1000))
               if i[-1] != "X" and luhn_valid(i))
    found = analyze(id_, "en")
    assert [(f.entity, f.text) for f in found] == [("NATIONAL_ID", id_)]


def test_custom_recognizer_list():
    class Fixed:
        entity, name = "X", "fixed"

        def analyze(self, text, language):
            return [PiiFinding("X", 0, 2, text[:2], 0.3, "fixed", "p", "always")]

    assert [f.entity for f in analyze("ab 13812345678", "en", [Fixed()])] == ["X"]


def test_findings_are_frozen():
    f = analyze("13812345678", "en")[0]
    with pytest.raises(AttributeError):
        f.score = 0.0  # type: ignore[misc]


# --- account numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, language, number", [
    ("my account number is 12345678901", "en", "12345678901"),
    ("acct 0012 3456 78", "en", "0012 3456 78"),
    ("account number one two three four five six seven", "en", "one two three four five six seven"),
    ("我的账号是6222020200112233", "zh", "6222020200112233"),
    ("會員編號987654321", "zh", "987654321"),
    ("帐号是六二二二零二零二零零", "zh", "六二二二零二零二零零"),
])
def test_account_number_with_context(text, language, number):
    [f] = analyze(text, language)
    assert (f.entity, f.text) == ("ACCOUNT_NUMBER", number)
    assert f.context_boost == pytest.approx(0.5)


@pytest.mark.parametrize("text, language", [
    ("order 12345678901 ships today", "en"),
    ("订单编号2023051200123456已发货", "zh"),
    ("account 12345", "en"),  # five digits: too short
])
def test_account_number_not_reported_without_context(text, language):
    assert [f for f in analyze(text, language) if f.entity == "ACCOUNT_NUMBER"] == []


def test_account_number_is_not_a_card():
    # a Luhn-valid card after "account" stays a card: the card finding scores higher
    [f] = analyze("account 4111 1111 1111 1111", "en")
    assert f.entity == "CARD_NUMBER"


# --- international phones, card prefixes, Chinese birth date context ----------------------------

@pytest.mark.parametrize("number, pattern", [
    ("+44 7700 900123", "intl_plus"),
    ("+46 (0)8 928 571 38", "intl_plus"),
    ("+1-984-182-0190", "us"),
    ("555.123.4567", "us"),
    ("(898)666-3621x0135", "us"),
    ("0490 75 40 81", "grouped"),
    ("01.84.17.61.18", "grouped"),
])
def test_international_phone_formats(number, pattern):
    [f] = analyze(f"phone: {number}", "en")
    assert (f.entity, f.text, f.pattern) == ("PHONE_NUMBER", number, pattern)
    assert f.score >= 0.5


def test_grouped_digits_need_phone_context():
    assert [f for f in analyze("reference 0490 75 40 81", "en") if f.entity == "PHONE_NUMBER"
            and f.score >= 0.5] == []
    assert [f for f in analyze("phone 853-37-1694", "en") if f.entity == "PHONE_NUMBER"] == []  # SSN shape
    assert [f for f in analyze("phone 12.05.2020", "en") if f.entity == "PHONE_NUMBER"] == []  # a date


def test_card_needs_an_issuer_prefix():
    order = "2024090918698571"
    assert luhn_valid(order)
    assert CardNumberRecognizer().analyze(order, "zh") == []


def test_chinese_birth_verb_after_the_date_is_context():
    [f] = [f for f in analyze("我是1981年2月17号出生的", "zh") if f.entity == "DATE_OF_BIRTH"]
    assert f.context_boost == pytest.approx(CONTEXT_BOOST) and "after it" in f.explanation
    [g] = [f for f in analyze("请在2025年2月17日之前付款", "zh") if f.entity == "DATE_OF_BIRTH"]
    assert g.context_boost == 0


def test_zh_benchmark_generator_identifiers_pass_checksums():
    import random

    from bench import pii_zh

    rng = random.Random(1)
    for _ in range(200):
        id_ = pii_zh.cn_id(rng)
        assert cn_id_check_digit(id_[:17]) == id_[17]
        assert tw_id_valid(pii_zh.tw_id(rng))
        card = pii_zh.card(rng).replace(" ", "")
        assert len(card) in (16, 19) and luhn_valid(card)
    assert pii_zh.build(3, 20, 5) == pii_zh.build(3, 20, 5)  # deterministic
    for item in pii_zh.build(3, 40, 10):
        assert all(0 <= s < e <= len(item["text"]) for _, s, e in item["spans"])


@pytest.mark.parametrize("text", ["我的手机号码是一三八，一二三四，五六七八。", "我的手机号码是138，1234，5678。",
                                  "我的手機號碼是幺三八、一二三四、五六七八。"])
def test_chinese_phone_with_pause_commas_between_groups(text):
    found = [f for f in analyze(text, "zh") if f.entity == "PHONE_NUMBER"]
    assert len(found) == 1 and found[0].text.endswith(("五六七八", "5678")) and found[0].score >= 0.5


@pytest.mark.parametrize("said,year", [("nineteen eighty five", 1985), ("nineteen eighty-five", 1985),
                                       ("nineteen oh two", 1902), ("two thousand and one", 2001),
                                       ("two thousand", 2000), ("twenty twelve", 2012)])
def test_spoken_years(said, year):
    from compliance.pii import spoken_year

    assert spoken_year(said) == year


def test_date_of_birth_said_in_words():
    text = "I was born on the third of March, nineteen eighty five, and moved here in two thousand."
    dob = [f for f in analyze(text, "en") if f.entity == "DATE_OF_BIRTH"]
    assert [(f.text, f.score >= 0.5) for f in dob] == [("the third of March, nineteen eighty five", True)]
    assert not [f for f in analyze("The contract ends on the fifth of May, twenty thirty.", "en")
                if f.entity == "DATE_OF_BIRTH"], "a future date is no date of birth"
