"""LexiconSentiment (VADER for English, rule-based lexicon for Chinese), TransformersSentiment's errors,
and sentiment_summary's trajectories and outcome."""
from __future__ import annotations

import pytest

from core.models import Segment, Transcript
from scoring.sentiment import (
    LexiconSentiment,
    SentimentModel,
    SentimentScore,
    TransformersSentiment,
    ZhLexicon,
    base_language,
    sentiment_summary,
)



@pytest.fixture(scope="module")
def model() -> LexiconSentiment:
    return LexiconSentiment()


@pytest.fixture
def vader() -> None:
    """English scoring needs vaderSentiment (a declared dependency): fail loudly, never skip."""
    import vaderSentiment  # noqa: F401


def labels(model, texts, language="zh"):
    return [s.label for s in model.score(texts, language)]


def test_is_a_sentiment_model(model):
    assert isinstance(model, SentimentModel)
    assert model.score([], "zh") == []


def test_sentiment_score_validates():
    with pytest.raises(ValueError, match="label"):
        SentimentScore("angry", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="-1..1"):
        SentimentScore("positive", 1.5)
    assert SentimentScore.from_score(3.0) == SentimentScore("positive", 1.0)
    assert SentimentScore.from_score(0.01).label == "neutral"


@pytest.mark.parametrize("positive, negated", [
    ("我很满意", "我不满意"),
    ("服务很好", "服务不好"),
    ("你们很专业", "你们一点都不专业"),
    ("已经解决了", "还是没解决"),
])
def test_chinese_negation_flips_polarity(model, positive, negated):
    pos, neg = model.score([positive, negated], "zh")
    assert pos.label == "positive" and pos.score > 0
    assert neg.label == "negative" and neg.score < 0


def test_chinese_negated_negative_is_mildly_positive(model):
    bad, not_bad, good = model.score(["质量很差", "质量不差", "质量很好"], "zh")
    assert bad.score < 0 < not_bad.score < good.score


def test_chinese_hedged_negation_is_milder(model):
    plain, hedged = model.score(["我不满意", "我不太满意"], "zh")
    assert plain.score < hedged.score < 0


def test_chinese_intensifiers_strengthen(model):
    plain, very, extremely = model.score(["慢", "很慢", "太慢了，非常失望"], "zh")
    assert plain.score > very.score > extremely.score
    assert model.score(["有点慢"], "zh")[0].score > plain.score


def test_words_containing_negators_are_not_negations(model):
    # 特别 contains 别, 没问题 contains 没, 不错 contains 不: all positive.
    assert labels(model, ["特别好", "没问题，谢谢", "不错不错", "别人都说你们服务好"]) == ["positive"] * 4


def test_greetings_and_questions_are_neutral(model):
    assert labels(model, ["您好，请问有什么可以帮您？", "好的", "您对这次服务满意吗？"]) == ["neutral"] * 3


def test_call_centre_complaints_and_praise(model):
    assert labels(model, ["我已经等了半个小时，太离谱了", "我要投诉你们", "我一直没收到退款"]) == ["negative"] * 3
    assert labels(model, ["非常感谢您的耐心", "问题解决了，太好了"]) == ["positive"] * 2


def test_contrast_weights_the_second_clause(model):
    (s,) = model.score(["虽然有点慢，但是问题解决了，谢谢"], "zh")
    assert s.label == "positive"
    (s,) = model.score(["你们态度还好，但是太慢了"], "zh")
    assert s.label == "negative"


@pytest.mark.parametrize("simplified, traditional", [
    ("我不满意，你们的态度太差了", "我不滿意，你們的態度太差了"),
    ("没问题，谢谢你的帮忙", "沒問題，謝謝你的幫忙"),
    ("别担心，问题已经解决了", "別擔心，問題已經解決了"),
    ("我没有收到退款，非常失望", "我沒有收到退款，非常失望"),
])
def test_traditional_input_scores_like_simplified(model, simplified, traditional):
    assert model.score([traditional], "zh-TW") == model.score([simplified], "zh")


def test_english_uses_vader(model, vader):
    neg, pos, neu = model.score(
        ["This is terrible, I've been waiting for an hour.", "Thank you so much, that was really helpful!",
         "My order was placed on Monday."], "en")
    assert (neg.label, pos.label, neu.label) == ("negative", "positive", "neutral")
    # VADER handles English negation itself.
    assert model.score(["I am not happy with this service."], "en")[0].label == "negative"


def test_language_detection_and_errors(model, vader):
    assert base_language(None, "thanks") == "en"
    assert base_language(None, "谢谢") == "zh"
    assert base_language("zh-Hant", "") == "zh" and base_language("en-US", "") == "en"
    mixed = model.score(["great, thanks!", "太差了"], None)
    assert [s.label for s in mixed] == ["positive", "negative"]
    with pytest.raises(ValueError, match="not language 'fr'"):
        model.score(["merci"], "fr")
    assert model.score(["  "], "zh") == [SentimentScore("neutral", 0.0)]


def test_lexicon_file_errors(tmp_path):
    p = tmp_path / "lex.yaml"
    p.write_text("positive: {好: 1}\nnegators: [不]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="negative"):
        ZhLexicon.load(p)
    p.write_text("positive: {好: -1}\nnegative: {差: -1}\nnegators: [不]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="wrong sign.*好"):
        ZhLexicon.load(p)


def test_transformers_backend_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*local directory"):
        TransformersSentiment(tmp_path / "no-such-model")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        TransformersSentiment(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="label_map"):
        TransformersSentiment(tmp_path, label_map={"LABEL_0": "angry"})  # type: ignore[dict-item]


def _transcript(lines, language="zh") -> Transcript:
    segs = tuple(Segment(start=float(i), end=i + 0.9, text=text, role=role) for i, (role, text) in enumerate(lines))
    return Transcript(call_id="c1", language=language, language_probability=1.0, duration=float(len(lines)),
                      segments=segs, backend="test", model="test")


def test_summary_improved_call(model):
    t = _transcript([
        ("agent", "您好，请问有什么可以帮您？"),
        ("customer", "我的快递一直没收到，太离谱了！"),
        ("agent", "非常抱歉，我帮您查一下。"),
        ("customer", "我已经等了一个星期了，非常失望。"),
        ("agent", ""),
        ("customer", "好的。"),
        ("agent", "已经为您加急处理，明天送达。"),
        ("customer", "太好了，谢谢你，服务很专业。"),
        ("unknown", "嗯"),
    ])
    s = sentiment_summary(t, model)
    assert [u.segment_index for u in s.utterances] == [0, 1, 2, 3, 5, 6, 7, 8]
    cust = s.trajectory("customer")
    assert cust is not None and cust.utterances == 4
    assert cust.start_mean < 0 < cust.end_mean
    assert s.outcome == "improved"
    assert s.final_customer is not None and s.final_customer.label == "positive"
    assert {t.role for t in s.trajectories} == {"agent", "customer", "unknown"}
    assert s.model == "lexicon"


def test_summary_worsened_stable_and_unknown(model, vader):
    worse = _transcript([("customer", "Hi, thanks for picking up."), ("customer", "This is useless, I'm furious.")], "en")
    assert sentiment_summary(worse, model).outcome == "worsened"
    stable = _transcript([("customer", "My order number is 42."), ("customer", "It was placed on Monday.")], "en")
    assert sentiment_summary(stable, model).outcome == "stable"
    no_customer = _transcript([("agent", "您好")])
    s = sentiment_summary(no_customer, model)
    assert s.outcome == "unknown" and s.final_customer is None
    assert sentiment_summary(_transcript([]), model).utterances == ()



class _FixedScores:
    """Pure logic under test (how utterance scores become the call's labels): scores given per text."""
    name = "fixed"

    def __init__(self, scores):
        self.scores = scores

    def score(self, texts, language):
        return [SentimentScore.from_score(self.scores[t]) for t in texts]


def test_curt_neutral_replies_do_not_dilute_an_angry_ending():
    """A reviewer reads "No." after an angry turn as an angry ending: the last third's mean leaves out short
    replies that score neutral, unless the third holds nothing else."""
    lines = [("customer", "I want to ask about my bill."), ("customer", "It is from last month."),
             ("customer", "Unbelievable, just log the cancellation."), ("customer", "No.")]
    model = _FixedScores({lines[0][1]: 0.0, lines[1][1]: 0.0, lines[2][1]: -0.3, "No.": 0.0})
    s = sentiment_summary(_transcript(lines, "en"), model)
    assert s.final_customer.label == "negative" and s.final_customer.score == pytest.approx(-0.3)
    zh = [("customer", "我想问一下账单。"), ("customer", "就是上个月的。"), ("customer", "行，你们等着吧。"), ("customer", "没了！")]
    model = _FixedScores({zh[0][1]: 0.0, zh[1][1]: 0.0, zh[2][1]: -0.3, "没了！": 0.0})
    assert sentiment_summary(_transcript(zh, "zh"), model).final_customer.label == "negative"
    # a long neutral turn still counts, and a third of curt replies only is their own (neutral) mean
    long = lines[:3] + [("customer", "I will think about what to do with my account next week then.")]
    model = _FixedScores({**{t: 0.0 for _, t in long}, lines[2][1]: -0.3})
    assert sentiment_summary(_transcript(long, "en"), model).final_customer.label == "neutral"
    curt = [("customer", "I'm furious."), ("customer", "Okay."), ("customer", "No.")]
    model = _FixedScores({"I'm furious.": -0.8, "Okay.": 0.0, "No.": 0.0})
    assert sentiment_summary(_transcript(curt, "en"), model).final_customer.label == "neutral"
