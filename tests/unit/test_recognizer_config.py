import textwrap

import pytest

from compliance.pii import analyze
from compliance.recognizer_config import (
    default_config_path,
    default_recognizers,
    load_recognizers,
    parse_recognizer_config,
)
from core.errors import CallQAError, RecognizerConfigError


def _write(tmp_path, text, name="recognizers.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_config_loads_and_is_the_default():
    rs = load_recognizers()
    assert rs.source == str(default_config_path())
    names = {lang: [r.name for r in rs.for_language(lang)] for lang in ("en", "zh")}
    assert "spacy_ner" in names["en"] and "lac_ner" in names["zh"] and "lac_ner" not in names["en"]
    assert default_recognizers() is default_recognizers()  # read once per process
    assert 0 < rs.min_score < 0.5


def test_disabling_a_recognizer_removes_its_findings(tmp_path):
    text = "my name is John Smith, email john@example.com"
    assert {"PERSON", "EMAIL_ADDRESS"} <= {f.entity for f in analyze(text, "en")}
    rs = load_recognizers(_write(tmp_path, """\
        version: "1"
        languages:
          en: [email]
    """))
    assert [(f.entity, f.text) for f in analyze(text, "en", rs)] == [("EMAIL_ADDRESS", "john@example.com")]
    assert analyze("我叫张伟", "zh", rs) == []  # no zh recognizers configured


def test_custom_regex_recognizer_with_validator(tmp_path):
    rs = load_recognizers(_write(tmp_path, r"""
        version: 1
        min_score: 0.3
        languages: {en: [], zh: []}
        patterns:
          - name: member_card
            entity: MEMBER_CARD
            regex: 'MC-\d{16}'
            score: 0.7
            languages: [en]
            validator: luhn
    """))
    [f] = analyze("it is MC-4111111111111111 ok", "en", rs)
    assert (f.entity, f.text, f.recognizer, f.score) == ("MEMBER_CARD", "MC-4111111111111111", "member_card", 0.7)
    assert "Luhn" in f.explanation
    assert analyze("it is MC-4111111111111112 ok", "en", rs) == []  # fails the validator
    assert analyze("it is MC-4111111111111111 ok", "zh", rs) == []  # en only


def test_min_score_and_extra_context_words(tmp_path):
    rs = load_recognizers(_write(tmp_path, """\
        version: "1"
        min_score: 0.5
        languages: {en: [phone]}
        context:
          PHONE_NUMBER: [hotline]
    """))
    assert analyze("dial 6123 4567 today", "en", rs) == []  # hk_local scores 0.4 without context
    [f] = analyze("our hotline 6123 4567", "en", rs)
    assert f.score == pytest.approx(0.6) and "hotline" in f.explanation


def _error(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(RecognizerConfigError) as e:
        load_recognizers(path)
    assert isinstance(e.value, CallQAError) and e.value.code == "E131"
    return str(e.value), str(path)


def test_unknown_key_names_file_line_and_closest_key(tmp_path):
    msg, path = _error(tmp_path, """\
        version: "1"
        min_scor: 0.4
        languages: {en: [phone]}
    """)
    assert f"{path}:2: unknown key 'min_scor'" in msg
    assert "did you mean 'min_score'?" in msg and "e.g.\nversion:" in msg


def test_unknown_recognizer_and_validator_suggest_names(tmp_path):
    msg, path = _error(tmp_path, """\
        version: "1"
        languages:
          en:
            - phone
            - emial
        patterns:
          - name: x
            entity: X
            regex: 'x\\d+'
            score: 0.5
            validatr: luhn
          - name: y
            entity: Y
            regex: 'y\\d+'
            score: 0.5
            validator: lhun
    """)
    assert f"{path}:5: languages.en.1: unknown recognizer 'emial'; did you mean 'email'?" in msg
    assert f"{path}:11: unknown key 'validatr' at patterns.0.validatr; did you mean 'validator'?" in msg
    assert f"{path}:16: patterns.1.validator: unknown validator 'lhun'; did you mean 'luhn'?" in msg
    assert "3 problem(s)" in msg


def test_bad_regex_language_and_yaml(tmp_path):
    msg, path = _error(tmp_path, """\
        version: "1"
        languages: {en: [phone], fr: [phone]}
        patterns:
          - {name: z, entity: Z, regex: 'a(b', score: 0.5}
    """)
    assert f"{path}:2:" in msg and "unknown language 'fr'" in msg
    assert f"{path}:4:" in msg and "regex does not compile" in msg
    msg, path = _error(tmp_path, "version: '1'\nlanguages: [en\n")
    assert f"{path}:3: not valid YAML" in msg or f"{path}:2: not valid YAML" in msg


def test_pattern_name_clash_and_duplicate_key(tmp_path):
    msg, _ = _error(tmp_path, """\
        version: "1"
        languages: {en: []}
        patterns:
          - {name: phone, entity: PHONE_NUMBER, regex: '\\d+', score: 0.5}
    """)
    assert "already name built-in recognizers" in msg
    msg, path = _error(tmp_path, 'version: "1"\nlanguages: {en: []}\nmin_score: 0.3\nmin_score: 0.4\n')
    assert f"{path}:4: key 'min_score' appears twice" in msg


def test_parse_without_file_uses_given_name():
    with pytest.raises(RecognizerConfigError, match=r"<inline>:1: a recognizer config must be a YAML mapping"):
        parse_recognizer_config("- just a list", "<inline>")


def test_the_pipeline_wide_default_comes_from_the_environment(tmp_path, monkeypatch):
    from compliance.pii import analyze
    from compliance.recognizer_config import RECOGNIZERS_ENV, default_recognizers

    own = tmp_path / "mine.yaml"
    own.write_text('version: "1"\nmin_score: 0.3\nlanguages:\n  en: [email]\n  zh: [email]\n')
    text = "Mail jane@example.com or call 415-555-0134."
    default_recognizers.cache_clear()
    try:
        assert {f.entity for f in analyze(text, "en")} >= {"EMAIL_ADDRESS", "PHONE_NUMBER"}
        monkeypatch.setenv(RECOGNIZERS_ENV, str(own))
        default_recognizers.cache_clear()
        assert [f.entity for f in analyze(text, "en")] == ["EMAIL_ADDRESS"]
    finally:
        monkeypatch.delenv(RECOGNIZERS_ENV, raising=False)
        default_recognizers.cache_clear()
