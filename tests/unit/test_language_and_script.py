from transcribe.base import pick_language
from core.chinese import to_script


def test_language_restricted_to_allowed_set():
    probs = {"th": 0.5, "zh": 0.2, "en": 0.1, "yue": 0.1}
    lang, p = pick_language(probs, ("en", "zh"))
    assert lang == "zh" and abs(p - 0.3 / 0.4) < 1e-9


def test_forced_single_language():
    assert pick_language({"en": 0.9}, ("zh",)) == ("zh", 1.0)


def test_script_normalisation_both_ways():
    assert to_script("請問有什麼可以幫您", "zh-Hans") == "请问有什么可以帮您"
    assert to_script("请问有什么可以帮您", "zh-Hant") == "請問有什麼可以幫您"
